"""Training of one beta-VAE run: fast, resumable, and divergence as a result.

Speed: the whole training set sits on the device as uint8 and each batch is
gathered by an index tensor and converted there; no DataLoader, no per-sample
Python, no host sync inside an epoch (finiteness is checked once per epoch
from per-step values kept on the device).

Reproducibility and resume: the shuffle order and the reparameterisation
noise of epoch e come from generators seeded by hash(seed, e), so a resumed
run needs no RNG state: a checkpoint (model, optimiser, log) after every
epoch is all it takes to end with the same numbers as an uninterrupted run.

Divergence: a non-finite loss or gradient norm ends the run with status
"diverged"; model.pt is then the last completed epoch's state (or the init).
"""

import argparse
import csv
import hashlib
import json
import math
import sys
import time
from pathlib import Path

import torch

from reconloss.device import resolve_device
from reconloss.io import atomic_path, read_json, torch_save, write_json
from reconloss.vae import build_vae

BASE_COLUMNS = ["epoch", "loss", "nll", "kl", "seconds", "images_per_second"]


def derived_seed(seed: int, epoch: int, stream: str) -> int:
    """A 63-bit seed for one (run seed, epoch, stream): independent streams without stored RNG state."""
    digest = hashlib.blake2b(f"{seed}/{epoch}/{stream}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "little") >> 1


def _resume_key(settings: dict) -> dict:
    """The settings a checkpoint must match to be resumed: all but evaluation and the epoch count
    (nothing in an epoch depends on the total, so raising `epochs` continues a finished run)."""
    key = {k: v for k, v in settings.items() if k != "evaluate"}
    key["train"] = {k: v for k, v in settings["train"].items() if k != "epochs"}
    return key


class Adam:
    """Adam as torch.optim.Adam(fused=True) computes it (bit-identical, tested), minus its cost
    at start-up: torch.optim's optimizers import torch._dynamo on first use, which takes as
    long as importing torch itself, in every one of hundreds of short training jobs."""

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8):
        self.params = [p for p in params if p.requires_grad]
        self.lr, self.betas, self.eps = float(lr), tuple(betas), float(eps)
        self.exp_avg = [torch.zeros_like(p, memory_format=torch.preserve_format) for p in self.params]
        self.exp_avg_sq = [torch.zeros_like(p, memory_format=torch.preserve_format) for p in self.params]
        self.steps = [torch.zeros((), dtype=torch.float32, device=p.device) for p in self.params]

    def zero_grad(self):
        for p in self.params:
            p.grad = None

    @torch.no_grad()
    def step(self):
        i = [k for k, p in enumerate(self.params) if p.grad is not None]
        if not i:
            return
        steps = [self.steps[k] for k in i]
        torch._foreach_add_(steps, 1)
        torch._fused_adam_([self.params[k] for k in i], [self.params[k].grad for k in i],
                           [self.exp_avg[k] for k in i], [self.exp_avg_sq[k] for k in i], [], steps,
                           lr=self.lr, beta1=self.betas[0], beta2=self.betas[1], weight_decay=0.0,
                           eps=self.eps, amsgrad=False, maximize=False)

    def state_dict(self):
        return {"exp_avg": self.exp_avg, "exp_avg_sq": self.exp_avg_sq, "steps": self.steps}

    def load_state_dict(self, state):
        with torch.no_grad():
            for name in ("exp_avg", "exp_avg_sq", "steps"):
                for mine, saved in zip(getattr(self, name), state[name], strict=True):
                    mine.copy_(saved)


def _train_epoch(vae, opt, x, scale, batch_size, grad_clip, seed, epoch):
    """One pass over x (uint8 on the device). Returns per-step tensors and the last batch, no host sync."""
    device = x.device
    n = x.shape[0]
    order = torch.randperm(n, generator=torch.Generator().manual_seed(derived_seed(seed, epoch, "shuffle")))
    order = order.to(device)
    noise = torch.Generator(device=device).manual_seed(derived_seed(seed, epoch, "noise"))
    params = [p for p in vae.parameters() if p.requires_grad]
    steps = math.ceil(n / batch_size)
    losses = torch.full((steps,), math.nan, device=device)
    norms = torch.full((steps,), math.nan, device=device)
    sums = torch.zeros(2, device=device)  # summed nll, kl over the epoch's images
    done = 0
    vae.train()
    try:
        for i in range(steps):
            xb = x[order[i * batch_size:(i + 1) * batch_size]].float().div_(scale)
            res = vae(xb, generator=noise)
            opt.zero_grad()
            res["loss"].backward()
            if grad_clip:
                norm = torch.nn.utils.clip_grad_norm_(params, grad_clip)
            else:
                norm = torch.nn.utils.get_total_norm([p.grad for p in params if p.grad is not None])
            opt.step()
            losses[i] = res["loss"].detach()
            norms[i] = norm.detach()
            sums += torch.stack([res["nll"].detach().sum(), res["kl"].detach().sum()])
            done = i + 1
        error = None
    except (ValueError, RuntimeError) as exc:  # e.g. a distribution rejecting NaN parameters
        error = exc
        res = xb = None
    return {"losses": losses, "norms": norms, "sums": sums, "steps": steps, "done": done,
            "error": error, "last": (res, xb)}


def _first_bad_step(ep, params):
    """(index, reason) of the first non-finite step of an epoch, or None."""
    losses, norms = ep["losses"][:ep["done"]].cpu(), ep["norms"][:ep["done"]].cpu()
    bad = ~(torch.isfinite(losses) & torch.isfinite(norms))
    if bad.any():
        i = int(bad.nonzero()[0, 0])
        return i, ("non-finite loss" if not torch.isfinite(losses[i]) else "non-finite gradient")
    if ep["error"] is not None:
        if all(torch.isfinite(p).all() for p in params):
            raise ep["error"]  # a real bug, not a divergence
        return ep["done"], f"non-finite values: {ep['error']}"
    return None


def _write_log(path, rows):
    columns = list(BASE_COLUMNS)
    for row in rows:
        columns += [k for k in row if k not in columns]
    with atomic_path(path) as tmp, open(tmp, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=columns, restval="")
        writer.writeheader()
        writer.writerows(rows)


def _write_model(path, settings, data_shape, state_dict):
    torch_save({"settings": settings, "data_shape": list(data_shape),
                "state_dict": {k: v.detach().cpu() for k, v in state_dict.items()}}, path)


def train_run(data_path, run_dir, settings: dict) -> dict:
    """Train (or resume) one run; write model.pt, log.csv, status.json in run_dir; return the status."""
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    tr = settings["train"]
    seed, epochs = int(settings.get("seed", 0)), int(tr["epochs"])
    batch_size, grad_clip = int(tr["batch_size"]), tr.get("grad_clip")
    device = resolve_device(tr.get("device", "auto"))

    data = torch.load(data_path, map_location="cpu", weights_only=True)
    x = data["train_x"].to(device)
    scale = float(data["scale"])
    n, data_shape = x.shape[0], tuple(x.shape[1:])

    torch.manual_seed(seed)
    vae = build_vae(settings, data_shape).to(device)
    vae.likelihood.fit_data(x.float().div_(scale))
    opt = Adam(vae.parameters(), lr=float(tr["lr"]))

    ckpt_path = run_dir / "checkpoint.pt"
    key = {"settings": _resume_key(settings), "data_shape": list(data_shape), "n_train": n}
    start, rows, last_loss = 0, [], None
    if ckpt_path.exists():
        try:
            ckpt = torch.load(ckpt_path, map_location=device, weights_only=True)
        except Exception as exc:  # writes are atomic, but a disk can still fail: retrain, don't crash
            print(f"{ckpt_path} is unreadable ({exc}): starting fresh", file=sys.stderr)
            ckpt = {}
        if ckpt.get("key") == key and ckpt["epoch"] <= epochs:
            vae.load_state_dict(ckpt["model"])
            opt.load_state_dict(ckpt["optimizer"])
            start, rows, last_loss = ckpt["epoch"], ckpt["log"], ckpt["last_finite_loss"]
            print(f"resuming from {ckpt_path} after epoch {start}", file=sys.stderr)
        elif ckpt:
            print(f"{ckpt_path} was written with other settings: starting fresh", file=sys.stderr)

    def checkpoint(epoch):
        torch_save({"key": key, "epoch": epoch, "model": vae.state_dict(), "optimizer": opt.state_dict(),
                    "log": rows, "last_finite_loss": last_loss, "settings": settings}, ckpt_path)

    if start == 0:
        checkpoint(0)  # the init: what model.pt holds if the first epoch already diverges
    print(f"training {settings.get('likelihood')} beta={settings.get('beta')} seed={seed} on {device}: "
          f"{n} images {list(data_shape)}, epochs {start + 1}..{epochs}", file=sys.stderr)

    from tqdm import tqdm

    status = {"status": "ok", "diverged_epoch": None, "diverged_step": None, "reason": None}
    params = list(vae.parameters())
    bar = tqdm(range(start + 1, epochs + 1), initial=start, total=epochs, desc="epochs",
               file=sys.stderr, mininterval=1.0, dynamic_ncols=False, ascii=True)
    for epoch in bar:
        t0 = time.perf_counter()
        ep = _train_epoch(vae, opt, x, scale, batch_size, grad_clip, seed, epoch)
        bad = _first_bad_step(ep, params)
        if bad is not None:
            i, reason = bad
            finite = ep["losses"][:i].cpu()
            loss_i = ep["losses"][i].item() if i < ep["done"] else math.nan
            if math.isfinite(loss_i):  # the loss was finite, its gradient was not
                last_loss = loss_i
            elif len(finite):
                last_loss = float(finite[-1])
            status.update(status="diverged", diverged_epoch=epoch,
                          diverged_step=(epoch - 1) * ep["steps"] + i + 1, reason=reason)
            break
        losses = ep["losses"].cpu()
        seconds = time.perf_counter() - t0  # after the sync above
        nll, kl = (ep["sums"] / n).tolist()
        row = {"epoch": epoch, "loss": nll + vae.beta * kl, "nll": nll, "kl": kl,
               "seconds": seconds, "images_per_second": n / seconds}
        res, xb = ep["last"]
        with torch.no_grad():
            row.update({k: float(v) for k, v in vae.likelihood.stats(res["out"].detach(), x=xb).items()})
        rows.append(row)
        last_loss = float(losses[-1])
        checkpoint(epoch)
        _write_log(run_dir / "log.csv", rows)
        bar.set_postfix(loss=f"{row['loss']:.2f}", refresh=False)
    bar.close()

    if status["status"] == "diverged":
        state = torch.load(ckpt_path, map_location="cpu", weights_only=True)["model"]
        print(f"diverged at epoch {status['diverged_epoch']} step {status['diverged_step']}: "
              f"{status['reason']}", file=sys.stderr)
    else:
        state = vae.state_dict()
    _write_log(run_dir / "log.csv", rows)
    _write_model(run_dir / "model.pt", settings, data_shape, state)
    train_seconds = sum(r["seconds"] for r in rows)
    status.update(epochs_completed=len(rows), last_finite_loss=last_loss, train_seconds=train_seconds,
                  images_per_second=n * len(rows) / train_seconds if train_seconds else 0.0)
    write_json(run_dir / "status.json", status)
    return status


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
    parser.add_argument("--run-dir", required=True, help="the run's output directory")
    parser.add_argument("--settings", required=True, help="run settings as one JSON string")
    args = parser.parse_args(argv)
    # NaN parameters are our divergence signal, not an error to raise (and validation costs time).
    torch.distributions.Distribution.set_default_validate_args(False)
    status = train_run(args.data, args.run_dir, json.loads(args.settings))
    print(json.dumps(status), file=sys.stderr)
