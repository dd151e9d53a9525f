"""The runs the claims need (reconloss.plan.runs), the claims' configuration, and `snakemake -n claims`."""

import re

import pytest
from workflow_helpers import REPO, copy_workflow, planned_jobs, snakemake, write_config

from reconloss import claims

from reconloss.plan import config_check
from reconloss.plan import runs as plan


def test_plan_is_the_union_of_needs_with_the_larger_epochs():
    p = plan.plan(claims.CLAIMS, {"datasets": ["mnist"], "claims": {}})["mnist"]
    # Bernoulli and CB over β for the FID claims, 16 epochs; CB also serves the float32 comparison
    assert p["bernoulli"]["epochs"] == {"0.1": 16, "0.3": 16, "1": 16, "3": 16, "10": 16}
    assert p["continuous_bernoulli_naive_noclamp"]["epochs"] == {"0.1": 1, "1": 1, "10": 1}
    # gaussian_fixed is needed by two claims at β 1 (pairing, range255): trained once
    assert p["gaussian_fixed"]["epochs"] == {"0.1": 3, "0.5": 3, "1": 3, "5": 3}
    assert p["gaussian_fixed_range255"]["spec"] == {"likelihood": "gaussian_fixed",
                                                    "options": {"mean_activation": "identity"},
                                                    "train": {"data_range": 255.0, "grad_clip": None}}
    # the fixed-σ pairings are about objectives: Adam is scale-invariant, gradient clipping is not
    assert all(p[lab]["spec"]["train"]["grad_clip"] is None
               for lab in ("gaussian_fixed", "gaussian_fixed_sigma0.1", "gaussian_fixed_sigma1"))
    assert "grad_clip" not in p["bernoulli"]["spec"]["train"]
    # the claims that apply to MNIST's shape (the colour claims need RGB data)
    every = {(c.id, n.label, b) for c in claims.CLAIMS if c.applies_to((1, 28, 28)) for n in c.needs
             for b in n.betas}
    assert {(lab, plan.beta_label(b)) for _, lab, b in every} == {(lab, b) for lab in p for b in p[lab]["epochs"]}


def test_plan_caps_epochs_filters_claims_and_names_unknown_ones():
    config = {"datasets": ["mnist", "fashion_mnist"], "claims": {"max_epochs": 2, "only": ["cb_float32_diverges"]},
              "likelihood_options": {"continuous_bernoulli": {"clamp": [1e-3, 0.999]}}}
    p = plan.plan(claims.CLAIMS, config)
    assert set(p) == {"mnist", "fashion_mnist"}
    assert set(p["mnist"]) == {"continuous_bernoulli_naive_noclamp", "continuous_bernoulli"}
    assert max(e for entry in p["mnist"].values() for e in entry["epochs"].values()) == 2
    assert p["mnist"]["continuous_bernoulli"]["spec"]["options"] == {"clamp": [1e-3, 0.999]}
    assert len(plan.packs(p)) == 2 * (3 + 5)
    with pytest.raises(ValueError, match="claims.only: unknown claim.*'nope'"):
        plan.plan(claims.CLAIMS, {"datasets": ["mnist"], "claims": {"only": ["nope"]}})


def test_a_configuration_of_claims_alone_is_valid_and_checked():
    assert config_check.check({"datasets": ["mnist"], "likelihoods": [], "claims": {"seeds": [0, 1, 2]}}) == []
    problems = dict(config_check.check({"datasets": ["mnist"], "likelihoods": [],
                                        "claims": {"only": ["best_fid_simlar"], "seeds": [0]}}))
    assert "did you mean 'best_fid_similar'" in problems["claims.only[0]"]
    assert "needs at least 2 item(s), got a list [0]" in problems["claims.seeds"]  # one seed has no spread
    empty = dict(config_check.check({"datasets": ["mnist"], "likelihoods": [], "betas": [1.0], "seeds": [0]}))
    assert "the grid is empty" in empty["likelihoods"]
    grid = dict(config_check.check({"datasets": ["mnist"], "likelihoods": ["bernoulli"], "claims": {}}))
    assert "betas" in grid and "seeds" in grid  # a grid still needs its β and seeds


@pytest.mark.workflow
def test_dry_run_of_the_claims_study_lists_exactly_the_claims_runs(tmp_path):
    work = copy_workflow(tmp_path / "wf")
    proc = snakemake(work, "-n", "claims", "--configfile", "configs/claims.yaml")
    jobs = planned_jobs(proc)
    datasets = ["mnist", "fashion_mnist"]  # the published study's
    expected = plan.plan(claims.CLAIMS, {"datasets": datasets, "claims": {}})
    packs = plan.packs(expected)
    assert len(packs) == 2 * 30
    assert jobs == {"data": 2, "classifier": 2, "claims_train": len(packs), "claims_evaluate": len(packs),
                    "claims_tables": 1, "claims_verdicts": 1, "claims_figures": 2, "analytic": 1, "claims": 1}
    trained = set(re.findall(r"results/claims/runs/((?:fashion_)?mnist/[^/\s,]+/beta~[^/\s,]+/seed~\d+)/model\.pt",
                             proc.stdout))
    assert trained == {f"{d}/{label}/beta~{b}/seed~{s}" for d, label, b in packs for s in (0, 1, 2)}
    # the grid's targets are untouched: the same configuration's default target is the claims too ...
    assert planned_jobs(snakemake(work, "-n", "--configfile", "configs/claims.yaml")).get("train") is None
    # ... and a grid configuration plans no claim run
    write_config(work / "grid.yaml", {**__import__("yaml").safe_load((REPO / "configs/test.yaml").read_text())})
    assert "claims_train" not in planned_jobs(snakemake(work, "-n", "--configfile", "grid.yaml"))


def test_study_docs_reads_the_claims_own_results_for_a_configuration_of_claims_alone(tmp_path):
    from reconloss.report import publish as study_docs

    bench = tmp_path / "benchmarks"
    for rel, seconds in {"claims/train/mnist/bernoulli/beta~1.tsv": 30.0, "classifier/mnist.tsv": 100.0,
                         "train/mnist/bernoulli.tsv": 7.0, "claims/tables.tsv": 1.0}.items():
        (bench / rel).parent.mkdir(parents=True, exist_ok=True)
        (bench / rel).write_text(f"s\tcpu_time\n{seconds}\t1\n")
    figures = tmp_path / "claims" / "benchmarks" / "figures" / "mnist.tsv"  # the claims' own figures job
    figures.parent.mkdir(parents=True)
    figures.write_text("s\tcpu_time\n2.0\t1\n")
    alone = study_docs.sources(tmp_path, {"datasets": ["mnist"], "likelihoods": []})
    assert alone["tables"] == tmp_path / "claims" / "tables" and alone["wall"] == tmp_path / "claims" / "wall.json"
    seconds = study_docs.job_seconds(alone["benchmarks"], "mnist")
    # the claims' training and the shared classifier; not the grid's training
    assert seconds["dataset_stages"] == {"train": 30.0, "classifier": 100.0, "figures": 2.0}
    grid = study_docs.sources(tmp_path, {"datasets": ["mnist"], "likelihoods": ["bernoulli"]})
    assert study_docs.job_seconds(grid["benchmarks"], "mnist")["dataset_stages"] == {"train": 7.0, "classifier": 100.0}


def test_study_docs_counts_each_stack_s_logged_training_once_across_resumed_sessions(tmp_path):
    """A stack writes its epoch seconds into every member's log; a resumed job's benchmark misses earlier epochs."""
    import json

    import pandas as pd

    from reconloss.report import publish as study_docs

    stacks = {("bernoulli", "1"): [10.0, 12.0, 11.0], ("bernoulli", "3"): [9.0, 9.5],
              ("continuous_bernoulli", "1"): [20.0]}
    for (label, beta), seconds in stacks.items():
        for seed in (0, 1, 2):
            run = tmp_path / "claims" / "runs" / "mnist" / label / f"beta~{beta}" / f"seed~{seed}"
            run.mkdir(parents=True)
            pd.DataFrame({"epoch": range(1, len(seconds) + 1), "loss": 1.0, "seconds": seconds}).to_csv(
                run / "log.csv", index=False)
    (tmp_path / "claims" / "runs" / "mnist" / "continuous_bernoulli" / "beta~1" / "seed~2" / "log.csv").write_text("")
    diverged = tmp_path / "claims" / "runs" / "mnist" / "bernoulli" / "beta~1" / "seed~1" / "log.csv"
    pd.DataFrame({"epoch": [1, 2], "loss": 1.0, "seconds": [10.0, 12.0]}).to_csv(diverged, index=False)  # stopped
    logged = study_docs.logged_training(tmp_path / "claims" / "runs", "mnist")
    assert (logged["seconds"], logged["stacks"], logged["runs"], logged["run_epochs"]) == (71.5, 3, 8, 16)
    assert study_docs.logged_training(tmp_path / "claims" / "runs", "fashion_mnist")["seconds"] == 0
    walls = tmp_path / "claims" / "walls.jsonl"
    walls.write_text(json.dumps({"started": 1, "finished": 5}) + "\n\n" + json.dumps({"started": 7, "finished": 9}))
    assert study_docs.invocations(walls) == [{"started": 1, "finished": 5}, {"started": 7, "finished": 9}]
    assert study_docs.invocations(tmp_path / "none.jsonl") == []
    # the commit is the run's (its last make claims), not the checkout's: committing the docs changes nothing
    walls.write_text(json.dumps({"started": 1, "finished": 5, "git_commit": "abc", "git_dirty": True}) + "\n"
                     + json.dumps({"started": 7, "finished": 9, "git_commit": "def", "git_dirty": False}) + "\n")
    config = {"datasets": ["mnist"], "likelihoods": [], "train": {"device": "cpu"}, "evaluate": {"device": "cpu"}}
    src = study_docs.sources(tmp_path, config)
    record = study_docs.provenance(config, ["claims.yaml"], src, "mnist", repo=tmp_path)
    assert (record["git_commit"], record["git_dirty"]) == ("def", False)
    assert [r["started"] for r in record["wall_time"]["invocations"]] == [1, 7]
    assert record["wall_time"]["training_logged"]["seconds"] == 71.5
    # datasets published one after the other: a dataset's provenance lists only the invocations that ran it,
    # by their recorded datasets or, where a record lacks them, by the configuration files it names
    only_fashion = f"{REPO / 'configs/claims.yaml'} {REPO / 'configs/only-fashion-mnist.yaml'}"
    walls.write_text("\n".join(json.dumps(r) for r in (
        {"started": 1, "git_commit": "abc", "datasets": ["mnist"]},
        {"started": 2, "git_commit": "def", "config": only_fashion},
        {"started": 3, "git_commit": "ghi", "datasets": ["mnist", "fashion_mnist"]},
        {"started": 4, "git_commit": "jkl", "config": "no/such.yaml"})) + "\n")
    assert [r["started"] for r in study_docs.invocations(walls, "mnist")] == [1, 3, 4]
    assert [r["started"] for r in study_docs.invocations(walls, "fashion_mnist")] == [2, 3, 4]
    assert study_docs.invocation_datasets({"config": only_fashion}) == ["fashion_mnist"]
    walls.write_text(walls.read_text().splitlines()[0] + "\n" + json.dumps({"started": 2, "git_commit": "def",
                                                                             "config": only_fashion}) + "\n")
    assert study_docs.provenance(config, ["claims.yaml"], src, "mnist", repo=tmp_path)["git_commit"] == "abc"
