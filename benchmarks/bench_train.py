"""Training speed of reconloss.training.train against the usual tutorial loop, in one run.

For an MNIST-sized MLP VAE and a CIFAR-sized conv VAE (the model settings of
configs/paper.yaml), prints training images per second of

  tutorial: pytorch/examples' vae loop: a torchvision dataset with a per-sample
            ToTensor transform, DataLoader(batch_size=128, shuffle=True, and on
            cuda num_workers=1, pin_memory=True), `.to(device)` per batch,
            torch.optim.Adam with its defaults, `loss.item()` per step;
  one run:  reconloss.training.train's epoch loop for a pack of one (uint8 data resident on
            the device, index-gathered batches, no host sync inside an epoch, fused
            Adam; on CUDA each step one CUDA graph replay);
  pack of K: K runs (own seed, own beta) stacked into one model, images of all
            members together per second (--packs, default 21 and 64 on a GPU);

with the same model, likelihood, batch size and learning rate, and the ratios to
the tutorial loop. --tf32 repeats the packs with TF32 matmuls and convolutions.
MNIST comes from ../shared/data through torchvision when the files are there
(random uint8 images otherwise); CIFAR-10 is random uint8 images in
torchvision's own CIFAR10 dataset class (the archive is not available offline).

    python benchmarks/bench_train.py [--device cpu|cuda|auto] [--threads N] [--packs 21,64] [--tf32]
"""

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch

from reconloss.training.device import configure, resolve_device
from reconloss.training.stack import StackedVAE
from reconloss.training.step import PackEpochs
from reconloss.training.vae import build_vae

SHARED = Path(__file__).resolve().parents[1] / ".." / "shared" / "data"

CASES = {
    "mlp": {"dataset": "mnist", "shape": (1, 28, 28), "n_train": 60000,
            "model": {"arch": "mlp", "hidden": [512, 256]}, "latent_dim": 20},
    "conv": {"dataset": "cifar10", "shape": (3, 32, 32), "n_train": 50000,
             "model": {"arch": "conv", "hidden": [512, 256], "channels": [32, 64, 128]}, "latent_dim": 128},
}


def mnist_dataset(root):
    """torchvision's MNIST from the offline copies (or None when they are absent)."""
    import torchvision
    from torchvision import transforms

    raw = SHARED / "MNIST" / "raw"
    if not raw.is_dir():
        return None
    dest = Path(root) / "MNIST" / "raw"
    dest.mkdir(parents=True)
    for f in raw.iterdir():
        os.symlink(f.resolve(), dest / f.name)
    return torchvision.datasets.MNIST(root, train=True, download=True, transform=transforms.ToTensor())


def random_dataset(case):
    """torchvision's own dataset class holding random uint8 images of the case's shape."""
    import numpy as np
    import torchvision
    from torchvision import transforms

    c, h, w = case["shape"]
    rng = np.random.default_rng(0)
    if c == 1:
        ds = torchvision.datasets.MNIST.__new__(torchvision.datasets.MNIST)
        ds.data = torch.from_numpy(rng.integers(0, 256, (case["n_train"], h, w), dtype=np.uint8))
        ds.targets = torch.from_numpy(rng.integers(0, 10, case["n_train"]))
    else:
        ds = torchvision.datasets.CIFAR10.__new__(torchvision.datasets.CIFAR10)
        ds.data = rng.integers(0, 256, (case["n_train"], h, w, c), dtype=np.uint8)
        ds.targets = rng.integers(0, 10, case["n_train"]).tolist()
    ds.transform, ds.target_transform = transforms.ToTensor(), None
    return ds


def uint8_images(ds):
    """The dataset's images as one (N, C, H, W) uint8 tensor, what results/data/*.pt holds."""
    data = torch.as_tensor(ds.data)
    return data.unsqueeze(1) if data.ndim == 3 else data.permute(0, 3, 1, 2).contiguous()


def run_settings(case, seed=0, beta=1.0):
    return {"likelihood_name": "bernoulli", "beta": beta, "seed": seed, "train": {"latent_dim": case["latent_dim"]},
            "model": case["model"]}


def make_vae(case, device, seed=0):
    torch.manual_seed(seed)
    return build_vae(run_settings(case, seed), case["shape"]).to(device)


def run_ours(case, x_dev, n, args, device, k=1, tf32=False):
    """Images per second (wall, per CPU-second) of one timed epoch of a pack of k runs, all members together."""
    configure(device, tf32=tf32)  # as the train command sets up a GPU (TF32, cuDNN benchmark)
    x = x_dev[:n]
    members = [run_settings(case, seed=i, beta=0.1 * (i + 1)) for i in range(k)]
    stack = StackedVAE(members, case["shape"], device, x[:256].float() / 255.0)
    engine = PackEpochs(stack, x, 255.0, [m["seed"] for m in members], args.batch_size, 1e-3)
    engine.run_epoch(0)  # warm-up (and, on CUDA, the graphs are captured already)
    _sync(device)
    t0, c0 = time.perf_counter(), time.process_time()
    engine.run_epoch(1)  # returns host copies: waits for the device
    return k * n / (time.perf_counter() - t0), k * n / (time.process_time() - c0), engine.mode


def run_tutorial(case, ds, n, args, device):
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = False  # the tutorial's default (run_ours turns it on)
    vae = make_vae(case, device)
    opt = torch.optim.Adam(vae.parameters(), lr=1e-3)
    subset = torch.utils.data.Subset(ds, range(n))
    loader = torch.utils.data.DataLoader(subset, batch_size=args.batch_size, shuffle=True,
                                         num_workers=args.workers, pin_memory=device.type == "cuda")
    vae.train()

    train_loss = []

    def epoch(limit=None):
        for i, (data, _) in enumerate(loader):
            if limit is not None and i == limit:
                break
            data = data.to(device)
            opt.zero_grad()
            loss = vae(data)["loss"]
            loss.backward()
            train_loss.append(loss.item())  # the tutorial's running loss: a host sync per step
            opt.step()

    epoch(limit=5)  # warm-up
    _sync(device)
    t0, c0 = time.perf_counter(), time.process_time()
    epoch()
    _sync(device)
    return n / (time.perf_counter() - t0), n / (time.process_time() - c0)


def _sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize()


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--device", default="auto", help="cpu, cuda or auto (cuda when available)")
    p.add_argument("--threads", type=int, default=1, help="torch CPU threads (the workflow's trainings use 1)")
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--workers", type=int, default=None,
                   help="DataLoader workers of the tutorial loop (default as pytorch/examples: 1 on cuda, else 0)")
    p.add_argument("--cases", default="mlp,conv")
    p.add_argument("--images", type=int, default=0,
                   help="images per timed epoch (default: MLP 30000 / conv 3000 on a CPU, all on a GPU)")
    p.add_argument("--repeats", type=int, default=3, help="alternating timed runs of each loop; medians count")
    p.add_argument("--packs", default=None, help="pack sizes to time (default: 21,64 on a GPU, 3 on a CPU)")
    p.add_argument("--tf32", action="store_true", help="time the packs with TF32 as well (CUDA)")
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    torch.distributions.Distribution.set_default_validate_args(False)  # as the train command does
    device = resolve_device(args.device)
    if args.workers is None:
        args.workers = 1 if device.type == "cuda" else 0
    print(f"device {device}" + (f" ({torch.cuda.get_device_name()})" if device.type == "cuda" else "")
          + f", torch {torch.__version__}, {args.threads} CPU thread(s), batch {args.batch_size}")
    with tempfile.TemporaryDirectory() as root:
        for name in args.cases.split(","):
            case = CASES[name]
            ds = mnist_dataset(root) if case["dataset"] == "mnist" else None
            source = "MNIST (torchvision, ../shared/data)" if ds is not None else "random uint8"
            ds = ds if ds is not None else random_dataset(case)
            n = args.images or (len(ds) if device.type == "cuda" else (30000 if name == "mlp" else 3000))
            x_dev = uint8_images(ds).to(device)
            ours, tutorial = [], []
            for _ in range(args.repeats):  # alternate, so machine noise hits both alike
                ours.append(run_ours(case, x_dev, n, args, device))
                tutorial.append(run_tutorial(case, ds, n, args, device))
            print(f"{name:<5} {case['shape']} {source}, {n} images per timed epoch and run, "
                  f"{ours[0][2]} steps")
            t_wall = statistics.median(r[0] for r in tutorial)
            for k, what in enumerate(["wall-clock", "per CPU-second (less sensitive to other load)"]):
                o, t = statistics.median(r[k] for r in ours), statistics.median(r[k] for r in tutorial)
                print(f"  {what}: one run {o:,.0f} img/s, tutorial {t:,.0f} img/s, ratio {o / t:.2f}x "
                      f"(runs: ours {[round(r[k]) for r in ours]}, tutorial {[round(r[k]) for r in tutorial]})")
            sizes = args.packs or ("21,64" if device.type == "cuda" else "3")
            for tf32 in ([False, True] if args.tf32 and device.type == "cuda" else [False]):
                for k in (int(v) for v in sizes.split(",")):
                    r = statistics.median(run_ours(case, x_dev, n, args, device, k, tf32)[0]
                                          for _ in range(max(1, args.repeats // 2)))
                    print(f"  pack of {k}{' (TF32)' if tf32 else ''}: {r:,.0f} img/s in total, "
                          f"{r / k:,.0f} per run, {r / t_wall:.1f}x the tutorial loop")
            sys.stdout.flush()


if __name__ == "__main__":
    main()
