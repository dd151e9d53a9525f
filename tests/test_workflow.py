"""The real `snakemake` on the tiny configuration: outputs, caching, divergence as a result."""

import json
import math

import pandas as pd
import pytest
from workflow_helpers import clone_results, load_config, planned_jobs, snakemake, write_config

from reconloss.plan import config_check
from reconloss.plan import runs as planner

pytestmark = pytest.mark.workflow

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def test_summary_has_one_finished_row_per_run(tiny_workflow_run):
    summary = pd.read_csv(tiny_workflow_run / "results/tables/summary.csv")
    config = load_config(tiny_workflow_run / "configs/test.yaml")
    assert list(summary.columns[:6]) == ["dataset", "likelihood", "beta", "seed", "status", "fid"]
    grid = {(d, lik, float(b), s) for d in config["datasets"] for lik in config["likelihoods"]
            for b in config["betas"] for s in config["seeds"]}
    rows = set(zip(summary.dataset, summary.likelihood, summary.beta.astype(float), summary.seed))
    assert rows == grid
    assert set(summary.status) == {"ok"}
    assert all(math.isfinite(f) and f >= 0 for f in summary.fid)
    assert (tiny_workflow_run / "results/tables/summary.md").read_text().count("\n") >= len(grid) + 2


def test_every_fid_under_each_of_three_classifiers(tiny_workflow_run):
    """classifier.count 3: classifiers with seeds 0, 1, 2; classifier 0's values keep the unsuffixed columns."""
    root = tiny_workflow_run / "results/classifier/digits"
    seeds = [json.loads((d / "metrics.json").read_text())["seed"] for d in (root, root / "c~1", root / "c~2")]
    assert seeds == [0, 1, 2]
    summary = pd.read_csv(tiny_workflow_run / "results/tables/summary.csv")
    for metric in ("fid", "fid_recon", "fid_param", "classifier_score", "data_classifier_score"):
        assert (summary[f"{metric}_c0"] == summary[metric]).all(), metric
        assert summary[f"{metric}_c2"].notna().all() and (summary[f"{metric}_c1"] != summary[metric]).all(), metric
    assert (summary["classifiers"] == 3).all()


def test_every_run_has_its_metrics_and_images(tiny_workflow_run):
    runs = sorted((tiny_workflow_run / "results/runs").glob("*/*/beta~*/seed~*"))
    assert len(runs) == 4
    for run in runs:
        metrics = json.loads((run / "metrics.json").read_text())
        assert metrics["status"] == "ok"
        assert math.isfinite(metrics["nll"]) and math.isfinite(metrics["kl"]) and metrics["kl"] >= 0
        for image in ("reconstructions.png", "samples.png"):
            assert (run / image).read_bytes()[:8] == PNG_MAGIC


def test_figures_are_real_pngs(tiny_workflow_run):
    figures = sorted((tiny_workflow_run / "results/figures").rglob("*.png"))
    names = {f.name for f in figures}
    assert any(n.startswith("fid_vs_beta") for n in names), names
    assert any(n.startswith("reconstructions") for n in names), names
    for figure in figures:
        data = figure.read_bytes()
        assert data[:8] == PNG_MAGIC and len(data) > 2000, figure


def test_second_run_has_nothing_to_do(tiny_workflow_run):
    proc = snakemake(tiny_workflow_run, "-n", "--configfile", "configs/test.yaml")
    assert planned_jobs(proc) == {}


def test_adding_a_beta_retrains_only_the_new_runs(tiny_workflow_run, tmp_path):
    """The new β joins each likelihood's pack: Snakemake reruns the pack jobs, whose old members
    resume from their finished checkpoints (nothing retrained, same weights) while the new ones train."""
    workdir = clone_results(tiny_workflow_run, tmp_path / "more-betas")
    config = load_config(workdir / "configs/test.yaml")
    config["betas"].append(8.0)
    path = write_config(workdir / "more-betas.yaml", config)
    jobs = planned_jobs(snakemake(workdir, "-n", "--configfile", str(path)))
    # The packs the new β joins (reconloss.plan.runs: one per likelihood, the grid's runs at its own epochs).
    joined = [p for p in planner.Plan(config_check.effective(config)).packs if any(r.beta == "8" for r in p.runs)]
    n_packs = len(config["likelihoods"])
    assert len(joined) == n_packs
    assert jobs.pop("train") == n_packs and jobs.pop("evaluate") == n_packs
    assert not {"data", "classifier", "analytic"} & set(jobs), jobs
    assert set(jobs) == {"tables", "claims_table", "dataset_figures", "all"}, jobs

    old = {p: p.read_bytes() for p in (workdir / "results/runs").glob("*/*/beta~*/seed~*/checkpoint.pt")}
    snakemake(workdir, "--cores", "2", "--configfile", str(path))
    for pack in joined:
        log = (workdir / f"results/logs/train/{pack.id}.log").read_text()
        assert log.count("resuming from") == len(pack.runs) - 1 and "training 1 run(s)" in log, log
    assert all(p.read_bytes() == data for p, data in old.items())
    assert len(pd.read_csv(workdir / "results/tables/summary.csv")) == 6


def test_one_run_per_job_when_nothing_is_packed(tiny_workflow_run, tmp_path):
    workdir = clone_results(tiny_workflow_run, tmp_path / "unpacked")
    config = load_config(workdir / "configs/test.yaml")
    config["pack"] = {"vary": [], "max_runs": 64}
    path = write_config(workdir / "unpacked.yaml", config)
    proc = snakemake(workdir, "-n", "--configfile", str(path), "--forceall")
    jobs = planned_jobs(proc)
    n_runs = len(config["likelihoods"]) * len(config["betas"]) * len(config["seeds"])
    assert jobs["train"] == n_runs and jobs["evaluate"] == n_runs
    # one pack per run, named by its run's axes; β 0.5 is the claims' too (the squared-error sweep asks 12
    # epochs, the grid 2), and the grid's β 2, asked at the same 2 epochs, trains as long: equal training
    from reconloss.plan import config_check
    from reconloss.plan.runs import Plan

    fixed = [p for p in Plan(config_check.effective(config)).packs_of("grid") if p.id.startswith("digits/gaussian_fixed/")]
    assert {p.runs[0].beta: p.runs[0].epochs for p in fixed if p.runs[0].seed == 0} == {"0.5": 12, "2": 12}
    for pack in fixed:
        assert f"results/logs/train/{pack.id}.log" in proc.stdout + proc.stderr, pack.id


def test_a_diverging_run_is_a_result_and_the_grid_completes(tiny_workflow_run, tmp_path):
    workdir = clone_results(tiny_workflow_run, tmp_path / "diverging")
    config = load_config(workdir / "configs/test.yaml")
    # σ = |x − μ| with no floor: the loss Σ log|x − μ| runs to −∞ once one pixel fits exactly,
    # which on digits takes a few hundred steps.
    config["likelihoods"] = ["gaussian_fixed"]
    config["variants"] = {"optimal_pixel_nofloor": {"likelihood": "gaussian_optimal_pixel", "options": {"floor": 0.0}}}
    config["betas"] = [1.0]
    config["train"]["epochs"] = 80
    path = write_config(workdir / "diverging.yaml", config)
    snakemake(workdir, "--cores", "2", "--configfile", str(path))
    summary = pd.read_csv(workdir / "results/tables/summary.csv").set_index("likelihood")
    assert summary.loc["optimal_pixel_nofloor", "status"] == "diverged"
    assert pd.isna(summary.loc["optimal_pixel_nofloor", "fid"])
    assert summary.loc["gaussian_fixed", "status"] == "ok"
    status = json.loads((workdir / "results/runs/digits/optimal_pixel_nofloor/beta~1/seed~0/status.json").read_text())
    assert status["status"] == "diverged" and status["diverged_epoch"] is not None
