"""One epoch of a pack on the device: every step eager, or each step one CUDA graph replay.

Per epoch the host draws each member's data order and reparameterisation noise from
generators seeded by (member seed, epoch) and copies them into fixed device buffers.
A step then reads its batch from those buffers through a step counter that lives on the
device, so the step has no Python-side inputs at all: on CUDA it is captured once as a
graph (gather from the uint8 data, noise, forward, backward, clipping, Adam, finiteness
flags, the step's records) and an epoch is `steps` replays with no host sync. Where
capture fails, or a replay does not do what an eager step does, the same step runs
eagerly and the log says so (RECONLOSS_CUDA_GRAPHS=0 asks for eager steps). The last,
smaller batch of an epoch (n not divisible by the batch size) has its own graph.

Records on the device per epoch: each member's loss and gradient norm at every step,
summed NLL and KL, and the step at which a member stopped being finite (-1 if it did not).
"""

import gc
import hashlib
import math
import os
import sys

import torch

from reconloss.training.optim import Adam, clip_and_mask, member_grad_norms


def _capture_graph(fn, device, pool):
    """A CUDA graph of fn() captured on a fresh stream of `device` into memory pool `pool`
    (torch.cuda.graph_pool_handle()); whatever fn or the capture raise, the capture is ended,
    the previous stream is current again and a failed graph's memory goes back to the pool's
    owner. Not torch.cuda.graph: see PackEpochs._capture."""
    graph = torch.cuda.CUDAGraph()
    stream = torch.cuda.Stream(device)
    stream.wait_stream(torch.cuda.current_stream(device))
    torch.cuda.synchronize(device)
    with torch.cuda.stream(stream):  # its exit restores the previous stream, even on errors
        graph.capture_begin(pool=pool)
        try:
            fn()
        finally:
            try:
                graph.capture_end()  # ends an invalidated capture too, then raises
            except Exception:
                # capture_end raised before giving the pool back (torch's CUDAGraph.cpp), and
                # reset() releases only pools of completed captures: without this the memory
                # allocated during the capture stays reserved for the rest of the process.
                index = torch.cuda.current_device()
                try:
                    torch._C._cuda_endAllocateToPool(index, pool)
                    torch._C._cuda_releasePool(index, pool)
                except (AttributeError, RuntimeError) as exc:
                    print(f"the failed capture's memory pool was not released: {exc}", file=sys.stderr)
                raise
    torch.cuda.current_stream(device).wait_stream(stream)
    return graph


def derived_seed(seed: int, epoch: int, stream: str) -> int:
    """A 63-bit seed for one (run seed, epoch, stream): independent streams without stored RNG state."""
    digest = hashlib.blake2b(f"{seed}/{epoch}/{stream}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "little") >> 1


class PackEpochs:
    """Trains a StackedVAE epoch by epoch on device-resident uint8 data x (n, C, H, W)."""

    def __init__(self, stack, x, scale, seeds, batch_size, lr, grad_clip=None, cuda_graphs=True):
        self.stack, self.x, self.scale = stack, x, float(scale)
        self.seeds = [int(s) for s in seeds]
        self.k, self.n, self.device = stack.k, x.shape[0], x.device
        self.batch_size = min(int(batch_size), self.n)
        self.full, rest = divmod(self.n, self.batch_size)
        self.steps = self.full + (rest > 0)
        self.grad_clip = grad_clip
        self.opt = Adam(stack.parameters(), lr=lr)
        for p in self.opt.params:  # gradients exist from the start: a graph accumulates into them in place
            p.grad = torch.zeros_like(p)
        dev, k = self.device, self.k
        self.order = torch.zeros((k, self.n), dtype=torch.long, device=dev)
        self.noise = torch.zeros((k, self.n, stack.latent_dim), device=dev)
        self.step_t = torch.zeros((), dtype=torch.long, device=dev)
        self.alive = torch.ones(k, dtype=torch.bool, device=dev)
        self.losses = torch.full((k, self.steps), math.nan, device=dev)
        self.norms = torch.full((k, self.steps), math.nan, device=dev)
        self.sums = torch.zeros((k, 2), device=dev)
        self.died_at = torch.full((k,), -1, dtype=torch.long, device=dev)
        self._columns = torch.arange(self.steps, device=dev)
        b = self.batch_size
        full_order = self.order[:, : self.full * b].view(k, self.full, b)
        full_noise = self.noise[:, : self.full * b].view(k, self.full, b, -1)
        self._full = lambda: self._step(full_order.index_select(1, self.step_t).squeeze(1),
                                         full_noise.index_select(1, self.step_t).squeeze(1))
        self._rest = lambda: self._step(self.order[:, self.full * b:], self.noise[:, self.full * b:])
        # Without a device a host check costs nothing (see _step); off, the step is the one a
        # GPU captures (the hazard tests run that one on a CPU).
        self.host_checks = dev.type == "cpu"
        self.graphs = None
        self.mode = "eager"
        if cuda_graphs and dev.type == "cuda" and os.environ.get("RECONLOSS_CUDA_GRAPHS", "1") != "0":
            self._capture()

    # --- the step -----------------------------------------------------------------------
    def _step(self, idx, eps):
        xb = self.x[idx].float().div_(self.scale)  # (K, B, C, H, W)
        params = self.opt.params
        if self.host_checks:
            # Without a graph the gradients need not live in fixed buffers: backward hands its
            # fresh gradient tensors over instead of adding them into zeroed ones (0 + g is g:
            # the same numbers, minus a zeroing pass and an addition pass over every parameter).
            for p in params:
                p.grad = None
        else:
            torch._foreach_zero_([p.grad for p in params])
        loss, nll, kl = self.stack.loss(xb, eps)
        loss.sum().backward()
        if self.host_checks:
            for p in params:
                if p.grad is None:  # a parameter the loss does not reach: its gradient is 0
                    p.grad = torch.zeros_like(p)
        grads = [p.grad for p in params]
        with torch.no_grad():
            norms = member_grad_norms(grads)
            ok = self.alive & torch.isfinite(loss) & torch.isfinite(norms)
            self.died_at.copy_(torch.where(self.alive & ~ok, self.step_t, self.died_at))
            self.alive.copy_(ok)
            if not self.host_checks:
                # On a device nothing is masked: masking costs two passes over every parameter
                # each step, and a diverged member's state is read by nothing (model.pt holds its
                # last completed epoch, from train's epoch-start copy); members never mix, so
                # its non-finite numbers stay its own.
                if self.grad_clip:
                    clip_and_mask(grads, norms, None, self.grad_clip)
                self.opt.step()
            elif bool(ok.all()):
                # A host check costs nothing without a device: skip the masking ops while every
                # member is finite (where(True, g, 0) is g, so the numbers are the same), and the
                # clipping's multiplications while no member's coefficient is below 1 (g * 1 is g).
                if self.grad_clip:
                    clip_and_mask(grads, norms, None, self.grad_clip, skip_unit=True)
                self.opt.step()
            else:  # on a CPU a diverged member is frozen exactly
                clip_and_mask(grads, norms, ok, self.grad_clip)
                self.opt.step(keep=ok)
            # The step's column of the records, by elementwise where: index_copy_ under
            # deterministic algorithms becomes a sorting index_put_ on a GPU.
            now = self._columns == self.step_t
            self.losses.copy_(torch.where(now, loss.detach()[:, None], self.losses))
            self.norms.copy_(torch.where(now, norms[:, None], self.norms))
            self.sums.add_(torch.stack([nll.detach(), kl.detach()], dim=1))
            self.step_t.add_(1)

    def _shapes(self):
        """(name, step, its first step index) of each batch shape an epoch has."""
        shapes = [("full", self._full, 0)] if self.full else []
        return shapes + ([("rest", self._rest, self.full)] if self.steps > self.full else [])

    def _capture(self):
        """One CUDA graph per batch shape, kept only if a replay does what an eager step does.

        Warm-up on a side stream (as the PyTorch docs do; it also runs cuDNN's benchmark),
        capture on an explicit stream of the engine's own device (not the current device's:
        cuda:1 would otherwise capture on device 0's stream), then one replay against one
        eager step from the same state (`_verify`). Any error or difference: the graphs are
        released and the steps run eagerly, and the log says why. Not torch.cuda.graph: when
        capture raises, its exit ends the capture before restoring the stream, and a failing
        capture_end then leaves the side stream current for the rest of the process.
        The weights are put back as they were before capture in every case; where even the
        snapshot that allows it does not fit in the device's memory, the steps run eagerly."""
        saved, graphs, why = None, {}, None
        try:
            saved = self._snapshot()  # 3 copies of the parameters: may not fit beside a big pack
            with torch.cuda.device(self.device):
                self._draw(0)  # real data and noise, so that the check below compares real steps
                side = torch.cuda.Stream(self.device)
                side.wait_stream(torch.cuda.current_stream(self.device))
                with torch.cuda.stream(side):
                    for _ in range(3):
                        for _name, fn, first in self._shapes():
                            self.step_t.fill_(first)
                            fn()
                torch.cuda.current_stream(self.device).wait_stream(side)
                pool = torch.cuda.graph_pool_handle()  # shared by both graphs (they never run at once)
                for name, fn, _first in self._shapes():
                    graphs[name] = _capture_graph(fn, self.device, pool)
                for name, fn, first in self._shapes():
                    why = self._verify(graphs[name].replay, fn, first, saved)
                    if why:
                        why = f"the {name}-batch graph: {why}"
                        break
        except Exception as exc:  # capture is an optimisation: train eagerly rather than fail
            why = f"{type(exc).__name__}: {exc}"
        if saved is not None:  # (without a snapshot nothing has run yet)
            self._restore(saved)
        del saved
        if why:
            for graph in graphs.values():
                graph.reset()
            graphs.clear()
            gc.collect()  # a graph held by a traceback still holds its pool
            torch.cuda.synchronize(self.device)
            torch.cuda.empty_cache()  # the graphs' private memory pool goes back to the device
            self.graphs, self.mode = None, "eager"
            print(f"CUDA graphs off, training eagerly: {why}", file=sys.stderr, flush=True)
        else:
            self.graphs, self.mode = graphs, "cuda-graph"

    def _verify(self, replay, eager, first, saved, mismatch=1e-3):
        """None if `replay()` and `eager()`, each run once from the state `saved` at step `first`,
        agree, else what differs. Records (losses, norms, sums, finiteness) must agree to float
        rounding; parameters too, except in a fraction `mismatch` of elements: Adam's first step
        is lr * sign(g), so a gradient within rounding of 0 may move an element the other way."""
        got = None
        for fn in (replay, eager):
            self._restore(saved)
            self._reset_records()
            self.step_t.fill_(first)
            try:
                fn()
            except Exception as exc:
                return f"{'replay' if fn is replay else 'eager step'} failed: {type(exc).__name__}: {exc}"
            if got is None:  # one copy of the replay's result; the eager one is compared in place
                with torch.no_grad():
                    got = ([p.detach().clone() for p in self.opt.params], [t.clone() for t in self._records()])
        for name, a, b in zip(("losses", "norms", "sums", "died_at", "alive", "step"), got[1], self._records()):
            if not torch.allclose(a.double(), b.double(), rtol=1e-4, atol=1e-6, equal_nan=True):
                return f"{name} differ from an eager step's"
        off = sum(int((~torch.isclose(a, b, rtol=1e-4, atol=1e-7, equal_nan=True)).sum())
                  for a, b in zip(got[0], self.opt.params))
        total = sum(p.numel() for p in self.opt.params)
        if off > mismatch * total:
            return f"{off} of {total} parameters differ from an eager step's"
        return None

    def _records(self):
        return self.losses, self.norms, self.sums, self.died_at, self.alive, self.step_t

    def _snapshot(self):
        with torch.no_grad():
            return ([p.detach().clone() for p in self.opt.params],
                    {k: [t.clone() for t in v] for k, v in self.opt.state_dict().items()},
                    self.alive.clone())

    def _restore(self, saved):
        params, opt_state, alive = saved
        with torch.no_grad():
            for p, s in zip(self.opt.params, params):
                p.copy_(s)
            self.opt.load_state_dict(opt_state)
            self.alive.copy_(alive)

    # --- an epoch ---------------------------------------------------------------------------
    def _draw(self, epoch):
        """Each member's shuffle and noise for `epoch`, from its own (seed, epoch) streams."""
        for m, seed in enumerate(self.seeds):
            shuffle = torch.Generator().manual_seed(derived_seed(seed, epoch, "shuffle"))
            self.order[m].copy_(torch.randperm(self.n, generator=shuffle))
            noise = torch.Generator(device=self.device).manual_seed(derived_seed(seed, epoch, "noise"))
            self.noise[m].normal_(generator=noise)

    def _reset_records(self):
        self.losses.fill_(math.nan)
        self.norms.fill_(math.nan)
        self.sums.zero_()
        self.died_at.fill_(-1)
        self.step_t.zero_()

    def run_epoch(self, epoch):
        """Train one epoch; return host copies of the records (see the module docstring)."""
        self._draw(epoch)
        self._reset_records()
        if self.graphs:
            try:
                with torch.cuda.device(self.device):
                    for _ in range(self.full):
                        self.graphs["full"].replay()
                    if self.steps > self.full:
                        self.graphs["rest"].replay()
                    torch.cuda.synchronize(self.device)  # a replay's error shows here, not later
            except RuntimeError as exc:  # the state is now unknown: stop, the checkpoint resumes it
                raise RuntimeError(f"CUDA graph replay failed in epoch {epoch}; the last checkpoint resumes "
                                   f"the runs (RECONLOSS_CUDA_GRAPHS=0 trains eagerly): {exc}") from exc
        else:
            for _ in range(self.full):
                self._full()
            if self.steps > self.full:
                self._rest()
        return {"losses": self.losses.cpu(), "norms": self.norms.cpu(), "sums": self.sums.cpu().double(),
                "died_at": self.died_at.cpu(), "alive": self.alive.cpu()}

    def last_batch(self, m):
        """Member m's last batch of the epoch just trained, and its noise: for the log's statistics."""
        idx = self.order[m, (self.steps - 1) * self.batch_size:]
        return self.x[idx].float().div_(self.scale), self.noise[m, (self.steps - 1) * self.batch_size:]
