"""Training speed against the machine's ceiling: each likelihood's seconds per run-epoch beside the time
its matrix products alone would take on one core.

The ceiling. The study MLP (configs/claims.yaml: encoder 784-512-256-2x20, decoder 20-256-512-784 x the
likelihood's decoder channels per pixel, batch 128) spends its FLOPs in six matrix products. They are run
here exactly as training runs them (reconloss.training.stack._StackedLinear: one baddbmm forward, two bmm
backward, over K stacked runs), on one thread, and timed; their FLOPs (2 per multiply-add, forward and both
backward products, less the data's gradient, which training never forms) over that time is the core's rate on this work. A likelihood's ceiling per run-epoch is
its FLOPs per image times the epoch's images over that rate: what a step would cost if the likelihood,
the optimiser and everything else were free. The Beta and the Gaussians with a σ predicted per pixel
end in two decoder outputs per pixel, so their last layer, and their ceiling, are larger.

The measured. Each run's status.json under RESULTS/runs/{dataset}: its stack's train_seconds over its
epochs and over the runs sharing those seconds (a stack's runs train as one model, so each is charged its
share; reconloss.report.provenance.run_shares). The runs
are two single-thread jobs at a time on a 2-core machine (make claims --cores 2); the ceiling is timed
in CPU time of one thread, so jobs sharing the machine take turns on the core without lengthening it
(they still share its caches and memory: measure it on the machine that ran the runs, ideally idle).

Another model (the colour set's conv VAE): with --config, each likelihood's FLOPs per image are counted by
torch.utils.flop_counter.FlopCounterMode on one training step of the configured model (its matrix products
and convolutions, forward and backward; the same count as flops_per_image for the study MLP), and set
against the same matrix-product rate, the machine's ceiling.

    PYTHONPATH=workflow python benchmarks/speed_vs_ceiling.py --results results --dataset mnist
    PYTHONPATH=workflow python benchmarks/speed_vs_ceiling.py --results results --dataset photo_patches \
        --config configs/colour.yaml
    PYTHONPATH=workflow python benchmarks/speed_vs_ceiling.py            # the ceiling alone
"""

import argparse
import platform
import statistics
import time
from pathlib import Path

import torch

from reconloss.data.datasets import DATASETS
from reconloss.likelihoods import LIKELIHOODS
from reconloss.report.provenance import run_shares
from reconloss.training.stack import _StackedLinear

IMAGES = {"mnist": 60_000, "fashion_mnist": 60_000, "digits": 1_437, "photo_patches": 5_179, "cifar10": 50_000}
PIXELS = 784
HIDDEN = (512, 256)
LATENT = 20


def layers(decoder_channels=1):
    """(in, out) of the study MLP's six linear layers; the decoder's last has `decoder_channels` per pixel."""
    enc = [PIXELS, *HIDDEN, 2 * LATENT]
    dec = [LATENT, *reversed(HIDDEN), PIXELS * decoder_channels]
    return list(zip(enc, enc[1:])) + list(zip(dec, dec[1:]))


def flops_per_image(decoder_channels=1):
    """2 FLOPs per multiply-add, 3 products per layer (forward, input gradient, weight gradient), but for the
    first layer's input gradient, the data's, which training never forms."""
    return sum(6 * i * o for i, o in layers(decoder_channels)) - 2 * PIXELS * HIDDEN[0]


def counted_flops_per_image(likelihood_name, model, latent_dim, data_shape, batch=4):
    """FLOPs per image of one training step (forward, loss, backward) of the VAE of `model`, as FlopCounterMode
    counts them: matrix products and convolutions only, the likelihood's elementwise work free."""
    from torch.utils.flop_counter import FlopCounterMode

    from reconloss.training.vae import build_vae

    torch.manual_seed(0)
    vae = build_vae({"likelihood_name": likelihood_name, "model": model, "train": {"latent_dim": latent_dim}},
                    data_shape)
    x = torch.rand(batch, *data_shape)
    with FlopCounterMode(display=False) as counter:
        vae(x)["loss"].backward()
    return counter.get_total_flops() / batch


def matmul_rate(k=3, batch=128, repeats=30):
    """FLOP/s of the six layers' products on one thread (median of `repeats` forward+backward passes)."""
    torch.set_num_threads(1)
    g = torch.Generator().manual_seed(0)
    shapes = layers()
    ws = [torch.randn(k, o, i, generator=g, requires_grad=True) for i, o in shapes]
    bs = [torch.zeros(k, o, requires_grad=True) for _, o in shapes]
    hs = [torch.randn(k, batch, i, generator=g, requires_grad=n > 0) for n, (i, _) in enumerate(shapes)]
    times = []
    for r in range(repeats + 3):
        t0 = time.thread_time()  # CPU time: other jobs on the machine take turns on the core, not this time
        for h, w, b in zip(hs, ws, bs):
            _StackedLinear.apply(h, w, b).sum().backward()
        if r >= 3:  # the first passes warm the allocator
            times.append(time.thread_time() - t0)
    return flops_per_image() * k * batch / statistics.median(times)


def measured(results, dataset):
    """{likelihood label: (likelihood name, [s per run-epoch of each evaluated run])}: each run's share of its
    pack's training seconds over its epochs (reconloss.report.provenance.run_shares)."""
    rates = {}
    for label, seconds, epochs, metrics in run_shares(Path(results) / "runs", dataset):
        if epochs and metrics is not None:
            rates.setdefault(label, (metrics["likelihood_name"], []))[1].append(seconds / epochs)
    return rates


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--results", help="a results folder whose runs/{dataset} to set against the ceiling")
    p.add_argument("--dataset", default="mnist")
    p.add_argument("--config", help="a configuration whose model (and train.latent_dim) the runs trained: FLOPs "
                                    "counted on it (default: the study MLP, counted by hand)")
    p.add_argument("--k", type=int, default=3, help="runs stacked in the timed products (a pack's size)")
    a = p.parse_args(argv)
    rate = matmul_rate(a.k)
    images = IMAGES[a.dataset]
    print(f"{platform.processor() or platform.machine()}, torch {torch.__version__}, one thread: the study MLP's "
          f"matrix products at {rate / 1e9:.1f} GFLOP/s ({flops_per_image() / 1e6:.2f} MFLOP per image; K = {a.k})")
    if a.config:
        import yaml

        config = yaml.safe_load(Path(a.config).read_text())
        model, latent = config.get("model") or {}, int((config.get("train") or {}).get("latent_dim", LATENT))

        def flops(name):
            return counted_flops_per_image(name, model, latent, DATASETS[a.dataset].shape)

        print(f"{a.config}'s model ({model}, latent {latent}): {flops('bernoulli') / 1e6:.1f} MFLOP per image "
              "(one decoder output per pixel), counted")
    else:
        def flops(name):
            return flops_per_image(LIKELIHOODS[name].channels_per_data_channel)
    print(f"ceiling per {a.dataset} run-epoch ({images:,} images): {flops('bernoulli') * images / rate:.2f} s "
          f"(one decoder output per pixel), {flops('beta') * images / rate:.2f} s (two)\n")
    if not a.results:
        return 0
    print("| label | likelihood | runs | s per run-epoch (median) | ceiling s | × ceiling |")
    print("| --- | --- | ---: | ---: | ---: | ---: |")
    rows = []
    for label, (name, per_run) in measured(a.results, a.dataset).items():
        ceiling = flops(name) * images / rate
        med = statistics.median(per_run)
        rows.append((med / ceiling, label, name, len(per_run), med, ceiling))
    for ratio, label, name, n, med, ceiling in sorted(rows, reverse=True):
        print(f"| {label} | {name} | {n} | {med:.1f} | {ceiling:.2f} | {ratio:.1f}{' **over 2×**' if ratio > 2 else ''} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
