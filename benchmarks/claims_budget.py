"""The wall time of the claims' full budget, estimated from a measured (cut-down) `make claims` run.

A cut-down run (`make claims CLAIMS_MAX_EPOCHS=2`) trains every claims pack for
fewer epochs than its claims need. From its Snakemake benchmarks this prints, per
likelihood label, the measured CPU seconds per run-epoch of training and per run of
evaluation, and from them the full budget of configs/claims.yaml: the CPU seconds of
every job, and the wall time on N cores (the CPU seconds spread over the cores, but
never less than the longest pack). CPU seconds, not wall seconds, are what is
measured: on a machine shared with other work the wall time of a job is longer than
its CPU time, and an idle machine gives about the CPU time. The classifier and the
data are counted once. Cut-down runs resume to the full budget, so the estimate is
also what the rest of the full run costs, plus what was already spent.

    python benchmarks/claims_budget.py [--results results] [--config configs/claims.yaml] [--cores 2]
"""

import argparse
import csv
import re
import sys
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "workflow"))

from reconloss import claims  # noqa: E402
from reconloss.claims import plan  # noqa: E402


def cpu_seconds(tsv):
    """cpu_time of a Snakemake benchmark file (the last repeat), or None."""
    path = Path(tsv)
    if not path.is_file():
        return None
    rows = list(csv.DictReader(open(path), delimiter="\t"))
    return float(rows[-1]["cpu_time"]) if rows else None


def epochs_done(results, dataset, label, beta):
    """Run-epochs the pack's last training job trained, from its log ("training K run(s) ... epochs A..B").

    A resumed job trains only the epochs after its checkpoint, and its benchmark measures only those.
    """
    log = Path(results) / "logs" / "claims" / "train" / dataset / label / f"beta~{beta}.log"
    if not log.is_file():
        return 0
    found = re.findall(r"training (\d+) run\(s\).*epochs (\d+)\.\.(\d+)", log.read_text())
    return sum(int(k) * (int(b) - int(a) + 1) for k, a, b in found)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--results", default="results")
    p.add_argument("--config", default=str(REPO / "configs" / "claims.yaml"))
    p.add_argument("--cores", type=int, default=2)
    args = p.parse_args(argv)
    config = yaml.safe_load(Path(args.config).read_text())
    config.setdefault("claims", {})["max_epochs"] = None
    seeds = config["claims"].get("seeds") or [0, 1, 2]
    full = plan.plan(claims.CLAIMS, config)
    bench = Path(args.results) / "benchmarks" / "claims"
    per_label, jobs = {}, []
    for dataset, label, beta in plan.packs(full):
        train = cpu_seconds(bench / "train" / dataset / label / f"beta~{beta}.tsv")
        evaluate = cpu_seconds(bench / "evaluate" / dataset / label / f"beta~{beta}.tsv")
        done = epochs_done(args.results, dataset, label, beta)
        if train is None or evaluate is None:
            print(f"no measurement of {dataset} {label} β={beta}: run make claims (cut down) first", file=sys.stderr)
            return 1
        want = full[dataset][label]["epochs"][beta] * len(seeds)
        # runs that diverged in their first epoch log no epoch: the pack costs what it cost, whatever the budget
        rate = train / done if done else train / want
        jobs.append((label, rate * want + evaluate))
        entry = per_label.setdefault(label, {"rate": [], "eval": [], "run_epochs": 0})
        entry["rate"].append(rate)
        entry["eval"].append(evaluate / len(seeds))
        entry["run_epochs"] += want
    bench = Path(args.results) / "benchmarks" / "classifier"  # classifier 0: {d}.tsv; classifier k: {d}/c~k.tsv
    classifier = sum(cpu_seconds(path) or 0 for d in config["datasets"]
                     for path in [bench / f"{d}.tsv", *sorted((bench / d).glob("c~*.tsv"))])
    print("| label | CPU s per run-epoch (train) | CPU s per run (evaluate) | run-epochs (full) | CPU s (full) |")
    print("| --- | --- | --- | --- | --- |")
    total = classifier
    for label, e in per_label.items():
        rate, ev = sum(e["rate"]) / len(e["rate"]), sum(e["eval"]) / len(e["eval"])
        cost = rate * e["run_epochs"] + ev * len(e["eval"]) * len(seeds)
        total += cost
        print(f"| {label} | {rate:.1f} | {ev:.1f} | {e['run_epochs']} | {cost:,.0f} |")
    longest = max(cost for _, cost in jobs)
    wall = max(total / args.cores, longest)
    print(f"\nclassifier {classifier:,.0f} CPU s; all jobs {total:,.0f} CPU s; longest pack {longest:,.0f} s")
    print(f"estimated wall time on {args.cores} cores: {wall / 60:.0f} min (max of CPU s / cores and the longest pack)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
