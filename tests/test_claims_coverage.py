"""The claims' planned runs (reconloss.plan.runs) against the summary rows the claims read (reconloss.claims).

A fabricated summary holds one row per run the plan gives the claims, with every column the claims read
(tables.METRIC_COLUMNS, under three FID classifiers where asked) finite and plausible, noisy over seeds.
On it the tests show:

- paper.yaml's plan leaves no registered claim "not tested" (a claim without its runs says so, shown by
  dropping the Beta without its trick);
- for configs/claims.yaml, the plan's cells (data set, label, β) with their seeds are exactly the union of
  every claim's Needs; every planned cell, and every seed a Need adds above the configuration's, is read:
  dropping it changes some claim's verdict, numbers or reason (a cell a claim lists but never uses fails:
  its row's run count is not enough); and rows of labels the plan does not
  train change nothing. Together: the claims read exactly the labels, β and seeds `snakemake -n claims`
  plans (its job count: tests/test_claims_plan.py). What they cannot show: that a claim reads a β its
  sweep does not list (a follow-up round's β is read like the sweep's own, by design).
"""

import math

import numpy as np
import pandas as pd
import pytest
import yaml
from fake_results import fake_summary, summary_row
from reconloss import claims
from reconloss.claims.evidence import CLASSIFIER_METRICS
from reconloss.plan import config_check
from reconloss.plan import runs as planner
from reconloss.plan.sizes import DATA_SHAPES
from reconloss.report.tables import METRIC_COLUMNS, TEXT_COLUMNS
from workflow_helpers import REPO

REGISTERED = [c.id for c in claims.CLAIMS]


def plan_of(path):
    return planner.Plan(config_check.effective(yaml.safe_load((REPO / path).read_text())))


def fabricated(plan, dataset, classifiers=0, seed=0):
    """One summary row per (run, label) the claims read on `dataset`: every metric column finite, levels
    noisy over seeds (a few percent), FID U-shaped in log β; `classifiers` > 0 adds `{metric}_c{k}`."""
    rng = np.random.default_rng(seed)
    rows = []
    for run, label in plan.reads("claims", [dataset]):
        b = float(run.beta)
        jitter = lambda: 1 + 0.03 * rng.standard_normal()
        fid = 20 * (1 + 0.1 * math.log10(b) ** 2) * jitter()
        row = summary_row(label, b, run.seed, fid=fid, dataset=dataset, likelihood_name=run.settings["likelihood_name"],
                          epochs=run.epochs, kl=20 / b ** 0.3 * jitter(), mse_mean=0.02 * jitter(),
                          rmse=0.14 * jitter(), sigma_mean=0.12 * jitter(), mass_outside=0.01 * jitter(),
                          classifier_score=0.9 * jitter(), classifier_score_stretched=0.9 * jitter(),
                          classifier_score_squeezed=0.9 * jitter(), data_classifier_score=0.95,
                          sigma_always_black=0.05 * jitter(), sigma_other=0.2 * jitter(),
                          sigma_image_p10=0.1 * jitter(), sigma_image_p90=0.2 * jitter(),
                          sharpness_mean=0.03 * jitter(), sharpness_param=0.04 * jitter())
        for column in METRIC_COLUMNS:
            if column not in TEXT_COLUMNS and column != "classifiers":
                row.setdefault(column, 1.0)
        if DATA_SHAPES[dataset][0] == 3:  # RGB: the colour metrics (reconloss.evaluation.colour)
            row.update(colour_data_extreme=0.1, colour_param_extreme=0.4 * jitter(), colour_mean_extreme=0.05 * jitter(),
                       colour_param_w1=0.1 * jitter(), colour_mean_w1=0.03 * jitter(), colour_bw_images=4.0,
                       colour_bw_data_black=0.02, colour_bw_data_white=0.97, colour_bw_param_black=0.01 * jitter(),
                       colour_bw_param_white=0.99 * jitter(), colour_bw_mean_black=0.15 * jitter(),
                       colour_bw_mean_white=0.8 * jitter())
        row["diverged_epoch"] = row["diverged_step"] = math.nan  # finished runs: no divergence to report
        for k in range(classifiers):
            for metric in CLASSIFIER_METRICS:
                row[f"{metric}_c{k}"] = row[metric] * (1 + 0.02 * k) * jitter()
        rows.append(row)
    return fake_summary(rows)


def judged(summary, plan, only=REGISTERED, fields=("verdict", "numbers", "reason")):
    """{claim: (its fields)} of the registered claims on a summary. Not `runs` by default: a row counts the runs
    of each label it names, so a dropped cell would change it even where the claim's quantity ignores the cell."""
    frame = claims.claims_frame(summary, plan.specs("claims"), only=only)
    return {r["claim"]: tuple(r[f] for f in fields) for _, r in frame.iterrows()}


@pytest.mark.parametrize("dataset", ["mnist", "fashion_mnist", "cifar10"])
def test_paper_yaml_plans_every_claims_runs(dataset):
    plan = plan_of("configs/paper.yaml")
    summary = fabricated(plan, dataset, classifiers=3)
    assert len(summary) == len(plan.reads("claims", [dataset]))
    applicable = [c.id for c in claims.CLAIMS if c.applies_to(DATA_SHAPES[dataset])]
    verdicts = {c: v[0] for c, v in judged(summary, plan, applicable).items()}
    assert set(verdicts) == set(applicable) and (dataset != "cifar10" or set(applicable) == set(REGISTERED))
    assert {c: v for c, v in verdicts.items() if v == "not tested"} == {}
    # the check can fail: without the Beta's untricked arm its claim has no runs
    without = summary[summary["likelihood"] != "beta_eps1e-9"]
    assert judged(without, plan, ["beta_needs_tricks"])["beta_needs_tricks"][0] == "not tested"


def need_cells(config, dataset):
    """{(label, β label): seeds} from the claims' Needs alone: the configuration's seeds, or more where a Need
    asks (claim.Need.seeds)."""
    own = list(config["claims"]["seeds"])
    cells = {}
    for need in (n for c in claims.CLAIMS if c.applies_to(DATA_SHAPES[dataset]) for n in c.needs):
        seeds = own + [s for s in range(need.seeds or 0) if s not in own]
        for b in need.betas:
            cells.setdefault((need.label, planner.beta_label(b)), set()).update(seeds)
    return cells


def test_the_claims_plan_is_the_union_of_the_needs_and_every_cell_is_read():
    plan = plan_of("configs/claims.yaml")
    dataset = "mnist"
    planned = {}
    for run, label in plan.reads("claims", [dataset]):
        planned.setdefault((label, run.beta), set()).add(run.seed)
    assert planned == need_cells(plan.config, dataset)

    summary = fabricated(plan, dataset)
    applicable = [c.id for c in claims.CLAIMS if c.applies_to(DATA_SHAPES[dataset])]
    base = judged(summary, plan, applicable)
    assert all(v[0] != "not tested" for v in base.values()), base
    readers = {}  # label -> the claims naming it in their needs: the ones that may read its rows
    for c in claims.CLAIMS:
        for n in c.needs:
            if c.id in applicable:
                readers.setdefault(n.label, []).append(c.id)
    own = set(plan.config["claims"]["seeds"])
    unread = []
    for (label, beta), seeds in sorted(planned.items()):
        cell = (summary["likelihood"] == label) & (summary["beta"].map(planner.beta_label) == beta)
        drops = [("all seeds", cell)] + [(f"seed {s}", cell & (summary["seed"] == s)) for s in sorted(seeds - own)]
        for what, rows in drops:
            after = judged(summary[~rows], plan, readers[label])
            if all(after[c] == base[c] for c in readers[label]):
                unread.append(f"{label} β {beta} ({what})")
    assert unread == []

    # rows of labels the plan does not train are read by no claim
    planned_labels = {label for label, _ in planned}
    extra = [{**summary_row(label, b, s, dataset=dataset), "fid": 5.0, "kl": 1.0}
             for label in ("categorical", "discretized_logistic", "gaussian_optimal_global")
             if label not in planned_labels for b in (0.1, 1.0, 10.0) for s in (0, 1, 2)]
    assert extra

    every = ("verdict", "numbers", "reason", "runs")
    assert judged(pd.concat([summary, fake_summary(extra)], ignore_index=True), plan, applicable, every) == judged(
        summary, plan, applicable, every)
