"""Images per second of the conv VAE of configs/colour.yaml on photo_patches, one core: what its budget rests on.

Trains one claims pack as `make claims` does (the claims' 3 seeds stacked, one label, one β)
for a few hundred steps on one thread, then evaluates one run, and prints images per second
of training (every member's images counted) and seconds per evaluated run.

    python benchmarks/colour_speed.py [--config configs/colour.yaml] [--steps 300] [--likelihood bernoulli]
"""

import argparse
import math
import sys
import tempfile
import time
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "workflow"))


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--config", default=str(REPO / "configs" / "colour.yaml"))
    p.add_argument("--steps", type=int, default=300, help="optimiser steps of the pack (at least)")
    p.add_argument("--likelihood", default="continuous_bernoulli")
    p.add_argument("--seeds", type=int, default=3)
    args = p.parse_args()

    import torch

    torch.set_num_threads(1)
    from reconloss.data.datasets import load_dataset, prepare
    from reconloss.training.train import train_pack

    config = yaml.safe_load(open(args.config))
    train = {**config["train"], "device": "cpu", "checkpoint_every": 0}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        data_path = tmp / "photo_patches.pt"
        prepare("photo_patches", data_path, tmp / "raw")
        n = len(load_dataset(data_path)["train_x"])
        steps_per_epoch = math.ceil(n / train["batch_size"])
        epochs = max(1, math.ceil(args.steps / steps_per_epoch))
        runs = [(tmp / f"seed~{s}", {"dataset": "photo_patches", "likelihood": args.likelihood,
                                     "likelihood_name": args.likelihood, "likelihood_options": {}, "beta": 1.0,
                                     "seed": s, "train": {**train, "epochs": epochs}, "model": config["model"]})
                for s in range(args.seeds)]
        start = time.perf_counter()
        train_pack(data_path, runs)
        seconds = time.perf_counter() - start
    images = n * epochs * args.seeds
    print(f"{args.likelihood}: {args.seeds} runs x {epochs} epochs x {n} patches "
          f"({steps_per_epoch * epochs} steps of batch {train['batch_size']}) in {seconds:.1f} s on one thread: "
          f"{images / seconds:.0f} images/s, {seconds / (epochs * args.seeds):.1f} s per run-epoch")


if __name__ == "__main__":
    main()
