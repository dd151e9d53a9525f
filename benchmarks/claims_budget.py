"""The wall time of one data set's full claims run with its follow-up rounds, from measured seconds per run-epoch.

The runs are the planner's (reconloss.plan.runs.Plan: the claims' runs of the configuration, every
epoch each trains to, claims.max_epochs ignored). The rates are the published claims run's own
(docs/study/{dataset}/summary.csv: train_seconds and epochs per run, measured on the 2-core Intel
Xeon of docs/measured.md, machine B): a run's train_seconds are its pack's (the runs trained as one
model: all β and seeds of a label, or, in runs before the one planner, the seeds of one (label, β)),
so a label's seconds per run-epoch are its packs' seconds over their run-epochs. On a CPU a pack costs
about its runs' sum (docs/measured.md, training speed), so the rate holds for the planner's larger packs.
A label never run takes a measured stand-in, named with its reason. Evaluation: the measured seconds per run (one FID
classifier then) plus, for each further classifier (classifier.count), its features of the images
a run's evaluation shows it (FEATURE_IMAGES) at FEATURE_SECONDS each. The classifiers: the
measured seconds of one, times classifier.count. The follow-up rounds:
claims.follow_up_budget run-epochs at the plan's mean cost per run-epoch, evaluation included.
Wall time: two single-thread jobs at a time (`--cores 2`), so the CPU seconds over 2, but never
less than the longest pack.

    python benchmarks/claims_budget.py [--config configs/claims.yaml] [--dataset mnist]
        [--measured fashion_mnist | --results RESULTS [--rates-of DATASET]] [--cores 2]

--measured picks the published run whose rates are used: FashionMNIST's ran on otherwise idle cores;
MNIST's shared its cores with other jobs for much of its time (load average 5-6), which doubled its
rates. The images have one shape and the model one size, so the rates carry over between them.
"""

import argparse
import json
import os
import sys
from importlib.metadata import version
from pathlib import Path

import pandas as pd
import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "workflow"))

from reconloss.plan import config_check
from reconloss.plan.runs import Plan

#: Images a run's evaluation passes through each FID classifier: the 10,000 test reconstructions and four
#: sets of evaluate.fid_samples (2,000) prior samples (expected values, parameter images, stretched, squeezed).
FEATURE_IMAGES = 10_000 + 4 * 2_000
#: Seconds per image of one MNIST-sized classifier's features and logits, one thread: 1.9-2.0 s per 10,000
#: images (reconloss.evaluation.classifier.predict_features, the 28x28 CNN), measured on the 2-core Xeon with
#: the cores loaded (load average 6), so an upper bound for idle cores.
FEATURE_SECONDS = 2.0 / 10_000

#: Labels the published claims runs never trained, and the measured label that stands in for each, with why.
STAND_INS = {
    "beta_eps1e-9": ("beta", "the same Beta likelihood, another ε"),
    "truncated_gaussian": ("beta", ("two decoder outputs per pixel and an erf normaliser, as the Beta has two "
                                    "and lgamma")),
    "gaussian_fixed_sweep": ("gaussian_fixed", "the same likelihood, clipped"),
    "gaussian_fixed_range255": ("gaussian_fixed", "the same likelihood on data scaled by 255"),
    "gaussian_learned_pixel": ("gaussian_learned_global", "a learned σ, one per pixel instead of one"),
    "gaussian_predicted_image": ("gaussian_learned_global", "a σ learned by the decoder: a small extra head"),
    "gaussian_predicted_pixel": ("gaussian_learned_global", "a σ per pixel from the decoder: a small extra head"),
    "gaussian_data_pixel": ("gaussian_fixed", "a fixed σ per pixel, computed once from the data"),
    "gaussian_optimal_global": ("gaussian_optimal_image", "an optimal σ over a batch instead of an image"),
    "continuous_bernoulli_naive_noclamp": ("continuous_bernoulli", ("its runs diverge in their first epoch and "
                                                                    "log no epoch: CB's full epoch is their most")),
}


def measured(dataset):
    """({label: s per run-epoch}, {label: evaluation s per run}, classifier s, machine text) of a published run."""
    summary = pd.read_csv(REPO / "docs" / "study" / dataset / "summary.csv")
    prov = json.loads((REPO / "docs" / "study" / dataset / "provenance.json").read_text())
    rates = rates_of(summary)
    evaluate = summary.groupby("likelihood")["eval_seconds"].median().to_dict()
    device = prov["device"]
    machine = f"{device['cpu_count']}-core {device['cpu']}, torch {prov['versions']['torch']}"
    return rates, evaluate, prov["wall_time"]["dataset_stages"]["classifier"], machine


def measured_results(results, dataset):
    """As `measured`, from a results folder, published or not (of a run still going, its finished packs):
    each run's share of its stack's training seconds over its epochs (reconloss.report.provenance.run_shares),
    evaluation seconds from metrics.json, the classifiers' from their benchmark files; this machine."""
    from reconloss.report.provenance import cpu_model, run_shares

    results, shares, evaluate = Path(results), {}, {}
    for label, seconds, epochs, metrics in run_shares(results / "runs", dataset):
        if epochs:
            total, run_epochs = shares.get(label, (0.0, 0))
            shares[label] = (total + seconds, run_epochs + epochs)
        if metrics is not None:  # as one classifier's evaluation: `budget` adds each further classifier's features
            further = int(metrics.get("classifiers") or 1) - 1
            evaluate.setdefault(label, []).append(metrics["eval_seconds"] - further * FEATURE_IMAGES * FEATURE_SECONDS)
    rates = {label: seconds / epochs for label, (seconds, epochs) in shares.items()}
    evaluate = {label: float(pd.Series(v).median()) for label, v in evaluate.items()}
    benches = sorted((results / "benchmarks" / "classifier").glob(f"{dataset}*.tsv"))
    benches += sorted((results / "benchmarks" / "classifier" / dataset).glob("*.tsv"))
    classifier_s = float(pd.Series([pd.read_csv(b, sep="\t")["s"].iloc[-1] for b in benches]).mean())
    machine = f"{os.cpu_count()}-core {cpu_model()}, torch {version('torch')}"
    return rates, evaluate, classifier_s, machine


def rates_of(summary):
    """{label: s per run-epoch}: each label's packs' train_seconds over their run-epochs. A pack's runs all
    carry its train_seconds, so one value per pack, whatever the pack spans (every β and seed of a label, or,
    in runs before the one planner, the seeds of one (label, β))."""
    rates = {}
    for label, rows in summary.dropna(subset=["train_seconds"]).groupby("likelihood"):
        packs = rows.groupby("train_seconds")["epochs"].sum()
        if packs.sum() > 0:
            rates[label] = sum(seconds for seconds, epochs in packs.items() if epochs > 0) / packs.sum()
    return rates


def rate_of(label, rates):
    """(s per run-epoch, the measured label used, why) of a label."""
    if label in rates:
        return rates[label], label, "measured"
    if label in STAND_INS and STAND_INS[label][0] in rates:
        stand, why = STAND_INS[label]
        return rates[stand], stand, why
    mean = sum(rates.values()) / len(rates)
    return mean, "mean", "no stand-in named: the mean of the measured labels"


def budget(config, dataset, rates, evaluate, classifier_s, cores=2):
    """Per label (runs, run-epochs, s per run-epoch, stand-in, train s, evaluate s) and the totals."""
    config = config_check.effective({**config, "claims": {**(config.get("claims") or {}), "max_epochs": None}})
    plan = Plan(config)
    classifiers = int(config["classifier"]["count"])
    evaluate = {k: v for k, v in evaluate.items() if v > 1}  # a run that diverged at once is barely evaluated
    mean_eval = sum(evaluate.values()) / len(evaluate)
    extra = FEATURE_IMAGES * FEATURE_SECONDS  # one more classifier's features per run
    rows = {}
    for run in plan.of("claims", [dataset]):
        label = run.labels["claims"][0]
        rate, stand, why = rate_of(label, rates)
        e = evaluate.get(label if label in rates else stand, mean_eval) + (classifiers - 1) * extra
        r = rows.setdefault(label, {"runs": 0, "run_epochs": 0, "rate": rate, "stand_in": stand, "why": why,
                                    "train_s": 0.0, "evaluate_s": 0.0})
        r["runs"] += 1
        r["run_epochs"] += run.epochs
        r["train_s"] += rate * run.epochs
        r["evaluate_s"] += e
    packs = [sum(rows[r.labels["claims"][0]]["rate"] * r.epochs for r in p.runs)
             for p in plan.packs_of("claims", [dataset])]
    train = sum(r["train_s"] for r in rows.values())
    ev = sum(r["evaluate_s"] for r in rows.values())
    run_epochs = sum(r["run_epochs"] for r in rows.values())
    follow_epochs = int(config["claims"]["follow_up_budget"]) if int(config["claims"]["rounds"]) else 0
    follow = follow_epochs * (train + ev) / run_epochs
    cls = classifier_s * classifiers
    cpu = train + ev + follow + cls
    wall = max(cpu / cores, max(packs))
    return rows, {"runs": sum(r["runs"] for r in rows.values()), "run_epochs": run_epochs, "packs": len(packs),
                  "train_s": train, "evaluate_s": ev, "classifiers": classifiers, "classifier_s": cls,
                  "follow_up_epochs": follow_epochs, "follow_up_s": follow, "cpu_s": cpu,
                  "longest_pack_s": max(packs), "wall_min": wall / 60, "cores": cores}


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--config", default=str(REPO / "configs" / "claims.yaml"))
    p.add_argument("--dataset", default="mnist")
    p.add_argument("--measured", default="fashion_mnist", help="the published run whose rates are used")
    p.add_argument("--results", help="take the rates from this results folder's runs instead (a run going on)")
    p.add_argument("--rates-of", metavar="DATASET", help="with --results: the data set whose runs give the rates "
                   "(default: --dataset; the images have one shape and the model one size)")
    p.add_argument("--cores", type=int, default=2)
    args = p.parse_args(argv)
    config = yaml.safe_load(Path(args.config).read_text())
    if args.results:
        rates_of_dataset = args.rates_of or args.dataset
        rates, evaluate, classifier_s, machine = measured_results(args.results, rates_of_dataset)
        args.measured = f"{args.results} ({rates_of_dataset})"
    else:
        rates, evaluate, classifier_s, machine = measured(args.measured)
    rows, t = budget(config, args.dataset, rates, evaluate, classifier_s, args.cores)
    print(f"{args.dataset}, {Path(args.config).name}; rates measured on {args.measured} ({machine})\n")
    print("| label | runs | run-epochs | s per run-epoch | from | train s | evaluate s |")
    print("| --- | ---: | ---: | ---: | --- | ---: | ---: |")
    for label, r in sorted(rows.items(), key=lambda kv: -kv[1]["train_s"]):
        source = "measured" if r["why"] == "measured" else f"{r['stand_in']}'s: {r['why']}"
        print(f"| {label} | {r['runs']} | {r['run_epochs']} | {r['rate']:.1f} | {source} | {r['train_s']:,.0f} "
              f"| {r['evaluate_s']:,.0f} |")
    print(f"| **all** | {t['runs']} | {t['run_epochs']} | | {t['packs']} packs | {t['train_s']:,.0f} "
          f"| {t['evaluate_s']:,.0f} |\n")
    print(f"- classifiers: {t['classifiers']} × {classifier_s:,.0f} s = {t['classifier_s']:,.0f} s")
    print(f"- evaluation: the measured s per run (one classifier) + {t['classifiers'] - 1} more classifiers' "
          f"features, {FEATURE_IMAGES * FEATURE_SECONDS:.1f} s each: {t['evaluate_s']:,.0f} s")
    print(f"- follow-up rounds: {t['follow_up_epochs']} run-epochs (claims.follow_up_budget) at the plan's mean "
          f"{(t['train_s'] + t['evaluate_s']) / t['run_epochs']:.1f} s per run-epoch with evaluation: "
          f"{t['follow_up_s']:,.0f} s")
    print(f"- in all {t['cpu_s']:,.0f} CPU s; the longest pack {t['longest_pack_s'] / 60:.0f} min; on {t['cores']} "
          f"cores (single-thread jobs, {t['cores']} at a time): **{t['wall_min']:.0f} min**, "
          f"{(t['cpu_s'] - t['follow_up_s']) / t['cores'] / 60:.0f} min without the follow-up rounds")
    return 0


if __name__ == "__main__":
    sys.exit(main())
