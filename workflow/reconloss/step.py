"""One epoch of a pack on the device: every step eager, or each step one CUDA graph replay.

Per epoch the host draws each member's data order and reparameterisation noise from
generators seeded by (member seed, epoch) and copies them into fixed device buffers.
A step then reads its batch from those buffers through a step counter that lives on the
device, so the step has no Python-side inputs at all: on CUDA it is captured once as a
graph (gather from the uint8 data, noise, forward, backward, clipping, Adam, finiteness
flags, the step's records) and an epoch is `steps` replays with no host sync. Where
capture fails, the same step runs eagerly and the log says so. The last, smaller batch of
an epoch (n not divisible by the batch size) has its own graph.

Records on the device per epoch: each member's loss and gradient norm at every step,
summed NLL and KL, and the step at which a member stopped being finite (-1 if it did not).
"""

import hashlib
import math
import sys

import torch

from reconloss.optim import Adam, clip_and_mask, member_grad_norms


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
        if cuda_graphs and dev.type == "cuda":
            self._capture()

    # --- the step -----------------------------------------------------------------------
    def _step(self, idx, eps):
        xb = self.x[idx].float().div_(self.scale)  # (K, B, C, H, W)
        grads = [p.grad for p in self.opt.params]
        torch._foreach_zero_(grads)
        loss, nll, kl = self.stack.loss(xb, eps)
        loss.sum().backward()
        with torch.no_grad():
            norms = member_grad_norms(grads)
            ok = self.alive & torch.isfinite(loss) & torch.isfinite(norms)
            self.died_at.copy_(torch.where(self.alive & ~ok, self.step_t, self.died_at))
            self.alive.copy_(ok)
            if self.host_checks and bool(ok.all()):
                # A host check costs nothing without a device: skip the masking ops while every
                # member is finite (where(True, g, 0) is g, so the numbers are the same).
                if self.grad_clip:
                    clip_and_mask(grads, norms, ok, self.grad_clip)
                self.opt.step()
            else:
                clip_and_mask(grads, norms, ok, self.grad_clip)
                self.opt.step(keep=ok)
            self.losses.index_copy_(1, self.step_t.view(1), loss.detach().view(-1, 1))
            self.norms.index_copy_(1, self.step_t.view(1), norms.view(-1, 1))
            self.sums.add_(torch.stack([nll.detach(), kl.detach()], dim=1))
            self.step_t.add_(1)

    def _capture(self):
        """One CUDA graph per batch shape, after warm-up on a side stream (as the PyTorch docs do).
        Warm-up steps change the weights, so they are saved before and put back after."""
        saved = self._snapshot()
        try:
            self.graphs = {}
            side = torch.cuda.Stream()
            side.wait_stream(torch.cuda.current_stream())
            with torch.cuda.stream(side):
                for _ in range(3):
                    self.step_t.zero_()
                    self._full()
                    if self.steps > self.full:
                        self.step_t.fill_(self.full)
                        self._rest()
            torch.cuda.current_stream().wait_stream(side)
            pool = None
            for name, fn in (("full", self._full), ("rest", self._rest)):
                if name == "rest" and self.steps == self.full:
                    continue
                graph = torch.cuda.CUDAGraph()
                with torch.cuda.graph(graph, pool=pool):
                    fn()
                pool = graph.pool()
                self.graphs[name] = graph
            self.mode = "cuda-graph"
        except Exception as exc:  # capture is an optimisation: train eagerly rather than fail
            self.graphs, self.mode = None, "eager"
            print(f"CUDA graph capture failed, training eagerly: {type(exc).__name__}: {exc}", file=sys.stderr)
        self._restore(saved)

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

    def run_epoch(self, epoch):
        """Train one epoch; return host copies of the records (see the module docstring)."""
        self._draw(epoch)
        self.losses.fill_(math.nan)
        self.norms.fill_(math.nan)
        self.sums.zero_()
        self.died_at.fill_(-1)
        self.step_t.zero_()
        for _ in range(self.full):
            self.graphs["full"].replay() if self.graphs else self._full()
        if self.steps > self.full:
            self.graphs["rest"].replay() if self.graphs else self._rest()
        return {"losses": self.losses.cpu(), "norms": self.norms.cpu(), "sums": self.sums.cpu().double(),
                "died_at": self.died_at.cpu(), "alive": self.alive.cpu()}

    def last_batch(self, m):
        """Member m's last batch of the epoch just trained, and its noise: for the log's statistics."""
        idx = self.order[m, (self.steps - 1) * self.batch_size:]
        return self.x[idx].float().div_(self.scale), self.noise[m, (self.steps - 1) * self.batch_size:]
