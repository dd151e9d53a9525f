"""Cost of one CPU training step of a stacked pack, per likelihood: a profile, and old against new code.

The claims' model (configs/claims.yaml: MNIST MLP, hidden [512, 256], latent 20, batch 128,
grad_clip 1000) as a pack of K runs on random MNIST-shaped uint8 data, one thread, stepped by
reconloss.training.step.PackEpochs exactly as training does.

    --profile         torch.profiler over a few steps of each likelihood: the top operators
                      by self CPU time, per step.
    --baseline REV    seconds per step of the code at git revision REV (its workflow/reconloss,
                      exported to a temporary folder) and of this working tree, measured in
                      alternating subprocesses (A B A B ...) so that the load of other jobs on a
                      shared machine falls on both alike; printed with the medians and the
                      seconds per MNIST run-epoch they imply (469 steps at batch 128, / K).
    --new REV         compare against revision REV instead of the working tree.
    --colour          configs/colour.yaml's conv VAE (channels 32, 64, 128, hidden 256, latent 32) on
                      random 3x32x32 images instead (use --batch 32, --k 6: a colour pack; seconds
                      per run-epoch then for photo_patches' 162 steps).

    PYTHONPATH=workflow python benchmarks/bench_likelihood_step.py --profile
    PYTHONPATH=workflow python benchmarks/bench_likelihood_step.py --baseline HEAD --rounds 3
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

LIKELIHOODS = ["bernoulli", "continuous_bernoulli", "beta", "gaussian_optimal_pixel"]
STEPS_PER_EPOCH = 469  # MNIST's 60000 training images at batch 128
COLOUR_STEPS_PER_EPOCH = 162  # photo_patches' 5179 training patches at batch 32
ROOT = Path(__file__).resolve().parents[1]


COLOUR = {"model": {"arch": "conv", "channels": [32, 64, 128], "hidden": [256]}, "latent_dim": 32, "shape": (3, 32, 32)}
STUDY = {"model": {"arch": "mlp", "hidden": [512, 256]}, "latent_dim": 20, "shape": (1, 28, 28)}


def engine(name, k, batch, n_batches=8, net=None):
    """A PackEpochs of k members of likelihood `name` on random uint8 images, its epoch drawn."""
    from reconloss.training.device import configure
    from reconloss.training.stack import StackedVAE
    from reconloss.training.step import PackEpochs

    configure(torch.device("cpu"))  # as a training job sets up its device (on a CPU: its allocator)

    net = net or STUDY
    members = [{"likelihood_name": name, "beta": 1.0, "seed": i, "train": {"latent_dim": net["latent_dim"]},
                "model": net["model"]} for i in range(k)]
    x = torch.randint(0, 256, (batch * n_batches, *net["shape"]), dtype=torch.uint8,
                      generator=torch.Generator().manual_seed(0))
    stack = StackedVAE(members, net["shape"], "cpu", x[:256].float() / 255.0)
    eng = PackEpochs(stack, x, 255.0, list(range(k)), batch, 1e-3, grad_clip=1000.0)
    eng._draw(0)
    eng._reset_records()
    return eng


def steps(eng, count):
    """`count` full-batch steps, wrapping around the drawn epoch."""
    for _ in range(count):
        if int(eng.step_t) >= eng.full:
            eng.step_t.zero_()
        eng._full()


def worker(name, k, batch, n, net=None):
    """Median seconds of one step over n timed steps (after 2 untimed ones), as JSON on stdout."""
    torch.set_num_threads(1)
    eng = engine(name, k, batch, net=net)
    steps(eng, 2)
    times = []
    for _ in range(n):
        t0 = time.perf_counter()
        steps(eng, 1)
        times.append(time.perf_counter() - t0)
    print(json.dumps({"median": statistics.median(times), "min": min(times)}))


def profile(k, batch, names, rows, net=None):
    from torch.profiler import ProfilerActivity
    from torch.profiler import profile as torch_profile

    torch.set_num_threads(1)
    for name in names:
        eng = engine(name, k, batch, net=net)
        steps(eng, 2)
        n = 3
        with torch_profile(activities=[ProfilerActivity.CPU]) as prof:
            steps(eng, n)
        events = sorted(prof.key_averages(), key=lambda e: e.self_cpu_time_total, reverse=True)
        total = sum(e.self_cpu_time_total for e in events) / n / 1e3
        print(f"\n{name}: K={k}, batch {batch}, {total:.0f} ms per step (self CPU, profiled)")
        for e in events[:rows]:
            ms = e.self_cpu_time_total / n / 1e3
            print(f"  {e.key:32s} {ms:8.1f} ms  {100 * ms / total:5.1f}%  {e.count // n:4d} calls")


def export(rev, dest):
    """git revision `rev`'s workflow/reconloss under dest/reconloss."""
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", rev, "workflow/reconloss"],
                             check=True, capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", str(dest)], input=archive, check=True)
    return dest / "workflow"


def compare(rev, new_rev, k, batch, names, rounds, n, stat="min", colour=False):
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "old").mkdir()
        paths = {"old": str(export(rev, Path(tmp) / "old")), "new": str(ROOT / "workflow")}
        if new_rev:
            (Path(tmp) / "new").mkdir()
            paths["new"] = str(export(new_rev, Path(tmp) / "new"))
        got = {(name, v): [] for name in names for v in paths}
        print(f"load average at start: {os.getloadavg()}")
        for r in range(rounds):
            for name in names:
                for v in (("old", "new") if r % 2 == 0 else ("new", "old")):
                    env = {**os.environ, "PYTHONPATH": paths[v], "OMP_NUM_THREADS": "1"}
                    out = subprocess.run([sys.executable, __file__, "--worker", name, "--k", str(k),
                                          "--batch", str(batch), "--steps", str(n)] + ["--colour"] * colour,
                                         env=env, check=True, capture_output=True, text=True).stdout
                    got[(name, v)].append(json.loads(out.strip().splitlines()[-1])[stat])
            print(f"round {r + 1}/{rounds} done, load average {os.getloadavg()}", flush=True)
        print(f"\nK={k}, batch {batch}, one thread; old = {rev}, new = {new_rev or 'working tree'}; "
              f"median over {rounds} alternating rounds of each round's {stat} of {n} steps")
        print(f"{'likelihood':24s} {'old s/step':>10s} {'new s/step':>10s} {'old s/run-ep':>12s} "
              f"{'new s/run-ep':>12s} {'new/old':>8s}   per-round new/old")
        per_epoch = COLOUR_STEPS_PER_EPOCH if colour else STEPS_PER_EPOCH
        for name in names:
            old, new = statistics.median(got[(name, 'old')]), statistics.median(got[(name, 'new')])
            per = " ".join(f"{b / a:.3f}" for a, b in zip(got[(name, 'old')], got[(name, 'new')]))
            print(f"{name:24s} {old:10.4f} {new:10.4f} {old * per_epoch / k:12.2f} "
                  f"{new * per_epoch / k:12.2f} {new / old:8.3f}   {per}")
        print(f"load average at end: {os.getloadavg()}")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--k", type=int, default=15)
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--likelihoods", default=",".join(LIKELIHOODS))
    ap.add_argument("--profile", action="store_true")
    ap.add_argument("--rows", type=int, default=14)
    ap.add_argument("--baseline", metavar="REV")
    ap.add_argument("--new", metavar="REV", help="the new code: this revision (default: the working tree)")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--steps", type=int, default=8)
    ap.add_argument("--stat", choices=["min", "median"], default="min",
                    help="each subprocess's figure: the fastest of its steps (least disturbed by other jobs) or the median")
    ap.add_argument("--worker", metavar="LIKELIHOOD")
    ap.add_argument("--colour", action="store_true", help="the colour set's conv VAE")
    a = ap.parse_args()
    names = a.likelihoods.split(",")
    if a.worker:
        worker(a.worker, a.k, a.batch, a.steps, net=COLOUR if a.colour else None)
    elif a.profile:
        profile(a.k, a.batch, names, a.rows, net=COLOUR if a.colour else None)
    elif a.baseline:
        compare(a.baseline, a.new, a.k, a.batch, names, a.rounds, a.steps, a.stat, colour=a.colour)
    else:
        ap.error("one of --profile, --baseline REV")


if __name__ == "__main__":
    main()
