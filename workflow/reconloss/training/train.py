"""Training of a pack of beta-VAE runs: fast, resumable, and divergence as a result.

A pack is K runs that share a dataset, a likelihood label and an architecture and differ
in beta and seed; they train together as one stacked model (reconloss.training.stack), one step
for all of them (reconloss.training.step). A run is still the unit of results: each member keeps
its own initialisation, data order and noise (from its seed), beta, Adam state, gradient
clipping and divergence, and writes model.pt, log.csv, status.json and checkpoint.pt in
its own folder exactly as a run trained alone. One run is a pack of one.

Reproducibility and resume: the shuffle order and the reparameterisation noise of epoch
e come from generators seeded by hash(seed, e), so a resumed run needs no RNG state: a
checkpoint (model, optimiser, log) is all it takes to end with the same numbers as an
uninterrupted run. Checkpoints are written every `train.checkpoint_every` seconds (0:
every epoch) and at the end. A member whose checkpoint already has all its epochs is
not trained again, so a pack that gains members retrains only the new ones.

Divergence: a member whose loss or gradient norm stops being finite stops from that step
on (on a CPU its updates are masked, so it is frozen exactly; on a GPU its state is left to
go non-finite, which nothing reads, rather than pay for masking every step), the others are
untouched, and it ends with status "diverged"; its model.pt is then the last completed
epoch's state (or the init).
"""

import argparse
import csv
import json
import math
import sys
import time
from pathlib import Path

import torch

from reconloss.training import packs
from reconloss.training.device import configure, denormals_flushed, resolve_device
from reconloss.io import atomic_path, read_json, torch_save, write_json
from reconloss.settings import defaults
from reconloss.training.vae import build_vae

BASE_COLUMNS = ["epoch", "loss", "nll", "kl", "seconds", "images_per_second"]
#: Settings that may differ between the members of one pack; everything else must agree.
MEMBER_KEYS = ("beta", "seed")


def _resume_key(settings: dict) -> dict:
    """The settings a checkpoint must match to be resumed: all but evaluation, the epoch count
    (nothing in an epoch depends on the total, so raising `epochs` continues a finished run)
    and how often checkpoints are written."""
    key = {k: v for k, v in settings.items() if k != "evaluate"}
    key["train"] = {k: v for k, v in settings["train"].items() if k not in ("epochs", "checkpoint_every")}
    return key


def _write_log(path, rows):
    columns = list(BASE_COLUMNS)
    for row in rows:
        columns += [k for k in row if k not in columns]
    with atomic_path(path) as tmp, open(tmp, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=columns, restval="")
        writer.writeheader()
        writer.writerows(rows)


class Member:
    """One run of a pack: its folder, settings, and where it stands (loaded from its checkpoint)."""

    def __init__(self, run_dir, settings, data_shape, n_train):
        self.run_dir, self.settings = Path(run_dir), settings
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self.seed, self.beta = int(settings.get("seed", 0)), float(settings.get("beta", 1.0))
        self.key = {"settings": _resume_key(settings), "data_shape": list(data_shape), "n_train": n_train}
        self.epoch, self.rows, self.last_loss = 0, [], None
        self.model = self.optimizer = None
        self.status = {"status": "ok", "diverged_epoch": None, "diverged_step": None, "reason": None}

    @property
    def checkpoint_path(self):
        return self.run_dir / "checkpoint.pt"

    def resume(self, epochs):
        """Load the checkpoint if it was written with these settings; say what happened."""
        path = self.checkpoint_path
        if not path.exists():
            return
        try:
            # mmap: the tensors stay in the file (page cache) until used, not in the job's memory
            ckpt = torch.load(path, map_location="cpu", weights_only=True, mmap=True)
        except Exception as exc:  # writes are atomic, but a disk can still fail: retrain, don't crash
            print(f"{path} is unreadable ({exc}): starting fresh", file=sys.stderr)
            return
        if ckpt.get("key") != self.key or ckpt.get("epoch", math.inf) > epochs:
            print(f"{path} was written with other settings: starting fresh", file=sys.stderr)
            return
        self.epoch, self.rows, self.last_loss = ckpt["epoch"], ckpt["log"], ckpt["last_finite_loss"]
        self.status = ckpt["status"]  # the model and optimizer states stay in the file until used
        print(f"resuming from {path} after epoch {self.epoch}", file=sys.stderr)

    def release(self):
        """Drop the host copies of the state: the checkpoint on disk holds them."""
        self.model = self.optimizer = None

    def load_state(self):
        """Read (memory-mapped) model and optimizer states from the checkpoint."""
        ckpt = torch.load(self.checkpoint_path, map_location="cpu", weights_only=True, mmap=True)
        self.model, self.optimizer = ckpt["model"], ckpt["optimizer"]

    def model_state(self):
        """The model state model.pt gets: held, or read from the checkpoint."""
        if self.model is None:
            self.load_state()
        return self.model

    def finished(self, epochs):
        return self.status["status"] != "ok" or self.epoch >= epochs

    def save_checkpoint(self):
        torch_save({"key": self.key, "epoch": self.epoch, "model": self.model, "optimizer": self.optimizer,
                    "log": self.rows, "last_finite_loss": self.last_loss, "status": self.status,
                    "settings": self.settings}, self.checkpoint_path)

    def write_outputs(self, data_shape, n_train, extra):
        """log.csv, model.pt and status.json: what the rest of the workflow reads."""
        _write_log(self.run_dir / "log.csv", self.rows)
        torch_save({"settings": self.settings, "data_shape": list(data_shape), "state_dict": self.model_state()},
                   self.run_dir / "model.pt")
        self.release()
        seconds = sum(r["seconds"] for r in self.rows)
        status = {**self.status, "epochs_completed": len(self.rows), "last_finite_loss": self.last_loss,
                  "train_seconds": seconds, "images_per_second": n_train * len(self.rows) / seconds if seconds else 0.0,
                  **extra}
        write_json(self.run_dir / "status.json", status)
        return status


def _train_settings(settings):
    """The run's train settings, with reconloss.settings' defaults for keys it leaves out
    (jobs always get every key; a run started from Python may not)."""
    return {**defaults("train"), **settings["train"]}


def _check_pack(settings_list):
    """Members may differ in beta and seed only: anything else would not be one stacked model."""
    def shared(s):
        return {k: v for k, v in s.items() if k not in (*MEMBER_KEYS, "evaluate")}

    first = shared(settings_list[0])
    for s in settings_list[1:]:
        if shared(s) != first:
            diff = sorted(k for k in set(first) | set(shared(s)) if first.get(k) != shared(s).get(k))
            raise ValueError(f"runs of one pack may differ only in {', '.join(MEMBER_KEYS)}; these differ: {diff}")
    seen = {(s.get("beta"), s.get("seed")) for s in settings_list}
    if len(seen) != len(settings_list):
        raise ValueError("a pack lists the same (beta, seed) twice")


class _Progress:
    """tqdm on a terminal; on a file (the workflow's logs) one plain line per epoch."""

    def __init__(self, first, epochs, k):
        self.tty = sys.stderr.isatty()
        self.k = k
        if self.tty:
            from tqdm import tqdm

            self.bar = tqdm(total=epochs, initial=first - 1, desc=f"pack of {k}", file=sys.stderr, ascii=True)
        self.epochs = epochs

    def update(self, epoch, seconds, n_images, losses, alive):
        finite = [v for v in losses if math.isfinite(v)]
        median = sorted(finite)[len(finite) // 2] if finite else math.nan
        if self.tty:
            self.bar.update(1)
            self.bar.set_postfix(loss=f"{median:.2f}", alive=f"{alive}/{self.k}", refresh=False)
        else:
            print(f"epoch {epoch}/{self.epochs}: {seconds:.2f} s, {n_images / seconds:,.0f} img/s, "
                  f"{alive}/{self.k} runs finite, median loss {median:.4g}", file=sys.stderr, flush=True)

    def close(self):
        if self.tty:
            self.bar.close()


def _train_stack(members, x, scale, data_shape, x01, epochs):
    """Train members that all stand at the same epoch as one stack, until each is finished."""
    from reconloss.training.stack import StackedVAE
    from reconloss.training.step import PackEpochs

    tr = _train_settings(members[0].settings)
    stack = StackedVAE([m.settings for m in members], data_shape, x.device, x01)
    # data_range: pixels are k / scale * data_range (1: [0, 1]; 255: the study's [0, 255] experiment)
    engine = PackEpochs(stack, x, scale / float(tr["data_range"]), [m.seed for m in members],
                        int(tr["batch_size"]), float(tr["lr"]), tr["grad_clip"])
    names = list(stack.params)
    start = members[0].epoch
    if start > 0:
        for i, m in enumerate(members):
            m.load_state()
            stack.load_member_state(i, m.model)
            engine.opt.load_member_state(i, m.optimizer, names)
            m.release()

    def save(i, model=None):
        """Member i's checkpoint from the stack (its model `model` where given), one member's
        host copy at a time: a pack of 21 categorical runs holds 2.2G parameters."""
        m = members[i]
        m.model = stack.member_state(i) if model is None else model
        m.optimizer = engine.opt.member_state(i, names)
        m.save_checkpoint()
        m.release()

    if start == 0:
        for i in range(len(members)):
            save(i)  # the init: what model.pt holds if the first epoch already diverges
    print(f"training {len(members)} run(s) of {members[0].settings.get('likelihood')} as one stack "
          f"(betas {sorted({m.beta for m in members})}, seeds {sorted({m.seed for m in members})}) on "
          f"{x.device}, {engine.mode} steps: {x.shape[0]} images {list(data_shape)}, epochs {start + 1}..{epochs}",
          file=sys.stderr, flush=True)

    n = x.shape[0]
    active = list(range(len(members)))
    epoch_start = [p.detach().clone() for p in stack.parameters()]
    every = float(tr["checkpoint_every"])
    last_save = time.monotonic()
    progress = _Progress(start + 1, epochs, len(members))
    for epoch in range(start + 1, epochs + 1):
        torch._foreach_copy_(epoch_start, [p.detach() for p in stack.parameters()])
        t0 = time.perf_counter()
        rec = engine.run_epoch(epoch)  # its host copies are the epoch's one sync
        seconds = time.perf_counter() - t0
        for i in list(active):
            m = members[i]
            died = int(rec["died_at"][i])
            if died >= 0:
                _record_divergence(m, rec, i, died, epoch, engine.steps)
                model = stack.member_state(i)  # buffers as they are, parameters as the epoch began
                model.update({n_: epoch_start[names.index(n_)][i].cpu().clone() for n_ in names if n_ in model})
                save(i, model)  # its last checkpoint: a diverged run is finished
                active.remove(i)
                print(f"run beta={m.beta} seed={m.seed} diverged at epoch {epoch} step "
                      f"{m.status['diverged_step']}: {m.status['reason']}", file=sys.stderr, flush=True)
                continue
            nll, kl = (rec["sums"][i] / n).tolist()
            row = {"epoch": epoch, "loss": nll + m.beta * kl, "nll": nll, "kl": kl,
                   "seconds": seconds, "images_per_second": n / seconds}
            row.update(_likelihood_stats(stack, engine, i))
            m.rows.append(row)
            m.last_loss = float(rec["losses"][i, -1])
            m.epoch = epoch
        progress.update(epoch, seconds, n * len(members), [m.rows[-1]["loss"] for m in members if m.rows],
                        len(active))
        due = time.monotonic() - last_save >= every
        if active and (epoch == epochs or due):
            for i in active:
                save(i)
            last_save = time.monotonic()
        if not active:
            break
    progress.close()
    return engine.mode


def _record_divergence(m, rec, i, died, epoch, steps):
    loss_i = float(rec["losses"][i, died])
    finite = [float(v) for v in rec["losses"][i, :died] if math.isfinite(v)]
    if math.isfinite(loss_i):  # the loss was finite, its gradient was not
        m.last_loss = loss_i
    elif finite:
        m.last_loss = finite[-1]
    reason = "non-finite gradient" if math.isfinite(loss_i) else "non-finite loss"
    m.status = {"status": "diverged", "diverged_epoch": epoch, "diverged_step": (epoch - 1) * steps + died + 1,
                "reason": reason}


@torch.no_grad()
def _likelihood_stats(stack, engine, i):
    """The likelihood's log statistics (sigma, ...) of member i on its last batch of the epoch."""
    vae = stack.member_module(i)
    xb, eps = engine.last_batch(i)
    vae.eval()
    res = vae(xb, eps=eps)
    return {k: float(v) for k, v in vae.likelihood.stats(res["out"], x=xb).items()}


def train_pack(data_path, runs, max_runs=64) -> list:
    """Train (or resume) the runs [(run_dir, settings), ...] of one pack; return their statuses.

    Members that stand at the same epoch train as one stack of at most `max_runs`; a pack
    that holds more, or whose members were resumed at different epochs, trains several
    stacks one after another."""
    settings_list = [s for _, s in runs]
    _check_pack(settings_list)
    tr = _train_settings(settings_list[0])
    epochs = int(tr["epochs"])
    device = resolve_device(tr["device"])
    configure(device, tf32=bool(tr["tf32"]))  # cuda:N current, TF32, cuDNN benchmark or deterministic

    data = torch.load(data_path, map_location="cpu", weights_only=True)
    x = data["train_x"].to(device)
    scale = float(data["scale"])
    n, data_shape = x.shape[0], tuple(x.shape[1:])
    members = [Member(run_dir, s, data_shape, n) for run_dir, s in runs]
    for m in members:
        m.resume(epochs)
    todo = [m for m in members if not m.finished(epochs)]
    x01 = x.float().div_(scale) if todo else None  # the likelihoods' fit_data reads it
    mode = "none"
    with denormals_flushed():  # trained weights drift into the denormal range, slow on a CPU
        for start in sorted({m.epoch for m in todo}):
            group = [m for m in todo if m.epoch == start]
            for i in range(0, len(group), max_runs):
                mode = _train_stack(group[i:i + max_runs], x, scale, data_shape, x01, epochs)
    statuses = []
    for m in members:
        if m.model is None and not m.checkpoint_path.exists():
            raise RuntimeError(f"{m.run_dir}: no model state")
        st = m.write_outputs(data_shape, n, {"pack_size": len(members), "step_mode": mode if m in todo else "resumed"})
        if st["status"] != "ok":
            print(f"{m.run_dir}: diverged at epoch {st['diverged_epoch']} step {st['diverged_step']}: "
                  f"{st['reason']}", file=sys.stderr)
        statuses.append(st)
    return statuses


def train_run(data_path, run_dir, settings: dict) -> dict:
    """Train (or resume) one run: a pack of one."""
    return train_pack(data_path, [(run_dir, settings)])[0]


def load_trained(run_dir, device="cpu"):
    """(vae in eval mode, settings, status) of a finished run, loaded with weights_only=True."""
    run_dir = Path(run_dir)
    saved = torch.load(run_dir / "model.pt", map_location=device, weights_only=True)
    vae = build_vae(saved["settings"], saved["data_shape"]).to(device)
    vae.load_state_dict(saved["state_dict"])
    return vae.eval(), saved["settings"], read_json(run_dir / "status.json")


def main(argv=None):
    parser = argparse.ArgumentParser(prog="reconloss train", description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True, help="results/data/{dataset}.pt")
    parser.add_argument("--max-runs", type=int, default=64, help="most runs stacked into one model")
    packs.add_arguments(parser)
    args = parser.parse_args(argv)
    runs = packs.runs_from(parser, args)
    # NaN parameters are our divergence signal, not an error to raise (and validation costs time).
    torch.distributions.Distribution.set_default_validate_args(False)
    statuses = train_pack(args.data, runs, max_runs=args.max_runs)
    print(json.dumps([s["status"] for s in statuses]), file=sys.stderr)
