"""The runs the claims need (reconloss.plan.runs), the claims' configuration, and `snakemake -n claims`."""

import re

import pytest
from workflow_helpers import REPO, copy_workflow, planned_jobs, snakemake, write_config

from reconloss import claims

from reconloss.plan import config_check
from reconloss.plan import runs as plan


def claim_epochs(config):
    """{label: {β label: epochs}} of the claims' runs of the first data set (seed 0) and {label: spec}."""
    p = plan.Plan(config_check.effective(config))
    epochs = {}
    for run, label in p.reads("claims", [config["datasets"][0]]):
        if run.seed == 0:
            epochs.setdefault(label, {})[run.beta] = run.epochs
    return p, epochs, p.specs("claims")


def test_plan_is_the_union_of_needs_with_the_larger_epochs():
    # clipped as configs/claims.yaml clips: the squared-error sweep (clipped) is then not the pairing's runs (unclipped)
    p, epochs, specs = claim_epochs({"datasets": ["mnist"], "likelihoods": [], "claims": {"seeds": [0, 1, 2]},
                                     "train": {"grad_clip": 1000.0}})
    # Bernoulli and CB over β for the FID claims, 12 epochs; CB also serves the float32 comparison
    assert epochs["bernoulli"] == {"0.1": 12, "0.3": 12, "1": 12, "3": 12, "10": 12}
    assert epochs["continuous_bernoulli_naive_noclamp"] == {"0.1": 1, "1": 1, "10": 1}
    # gaussian_fixed is needed by two claims at β 1 (pairing, range255): trained once
    assert epochs["gaussian_fixed"] == {"0.1": 3, "0.5": 3, "1": 3, "5": 3}
    assert specs["gaussian_fixed_range255"] == {"likelihood": "gaussian_fixed",
                                                "options": {"mean_activation": "identity"},
                                                "train": {"data_range": 255.0, "grad_clip": None}}
    # the fixed-σ pairings are about objectives: Adam is scale-invariant, gradient clipping is not
    assert all(specs[lab]["train"]["grad_clip"] is None
               for lab in ("gaussian_fixed", "gaussian_fixed_sigma0.1", "gaussian_fixed_sigma1"))
    assert "grad_clip" not in specs["bernoulli"]["train"]
    # the claims that apply to MNIST's shape (the colour claims need RGB data)
    every = {(c.id, n.label, b) for c in claims.CLAIMS if c.applies_to((1, 28, 28)) for n in c.needs
             for b in n.betas}
    assert {(lab, plan.beta_label(b)) for _, lab, b in every} == {(lab, b) for lab in epochs for b in epochs[lab]}
    # the configuration's seeds, and the five an event comparison needs (claims.claim.EVENT_SEEDS) where it does
    assert sorted({r.seed for r in p.runs.values()}) == [0, 1, 2, 3, 4]
    assert {r.seed for r, label in p.reads("claims") if label == "bernoulli"} == {0, 1, 2}


def test_plan_caps_epochs_filters_claims_and_names_unknown_ones():
    config = {"datasets": ["mnist", "fashion_mnist"], "likelihoods": [],
              "claims": {"max_epochs": 2, "only": ["cb_float32_diverges"], "seeds": [0, 1, 2]},
              "likelihood_options": {"continuous_bernoulli": {"clamp": [1e-3, 0.999]}}}
    p, epochs, specs = claim_epochs(config)
    assert {r.dataset for r in p.runs.values()} == {"mnist", "fashion_mnist"}
    assert set(epochs) == {"continuous_bernoulli_naive_noclamp", "continuous_bernoulli"}
    assert max(r.epochs for r in p.runs.values()) == 2
    assert specs["continuous_bernoulli"]["options"] == {"clamp": [1e-3, 0.999]}
    # one pack per dataset and label (pack.vary: β and seed): CB's 12 epochs capped at 2, the float32 one's 1 kept
    assert sorted(pk.id for pk in p.packs) == sorted(
        f"{d}/{lab}" for d in ("mnist", "fashion_mnist")
        for lab in ("continuous_bernoulli/claims-e2", "continuous_bernoulli_naive_noclamp/claims-e1"))
    assert len(p.runs) == 2 * (3 + 5) * 3
    with pytest.raises(ValueError, match="claims.only: unknown claim.*'nope'"):
        plan.Plan({"datasets": ["mnist"], "likelihoods": [], "claims": {"only": ["nope"]}})


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


def trained_runs(proc):
    """{run_dir: times listed} of the train jobs of a dry run with -p."""
    import json
    import shlex

    listed = {}
    for line in proc.stdout.splitlines():
        if " train --data " in line:
            args = shlex.split(line.split(">")[0])
            for r in json.loads(args[args.index("--runs") + 1]):
                listed[r["run_dir"]] = listed.get(r["run_dir"], 0) + 1
    return listed


@pytest.mark.workflow
def test_dry_run_of_the_claims_study_lists_exactly_the_claims_runs(tmp_path):
    work = copy_workflow(tmp_path / "wf")
    proc = snakemake(work, "-n", "-p", "claims", "--configfile", "configs/claims.yaml")
    jobs = planned_jobs(proc)
    expected = plan.Plan(config_check.effective(__import__("yaml").safe_load((REPO / "configs/claims.yaml").read_text())))
    assert {r.dataset for r in expected.runs.values()} == {"mnist", "fashion_mnist"}  # the published study's
    packs = len(expected.packs)
    # every (label, β) cell some claim needs, with its seeds: counted from the claims alone
    cells = {}
    for need in (n for c in claims.CLAIMS if c.applies_to((1, 28, 28)) for n in c.needs):  # grey data
        for b in need.betas:
            cells[(need.label, float(b))] = max(cells.get((need.label, float(b)), 3), need.seeds or 0)
    assert len(expected.runs) == 2 * sum(cells.values())
    more = 2 * (expected.config["classifier"]["count"] - 1)  # the FID classifiers after the first, per dataset
    assert jobs == {"data": 2, "classifier": 2, "classifier_more": more, "train": packs, "evaluate": packs,
                    "claims_tables": 1, "claims_verdicts": 1, "claims_figures": 2, "analytic": 1, "claims": 1}
    assert trained_runs(proc) == {r.run_dir: 1 for r in expected.runs.values()}
    # the grid's targets are untouched: the same configuration's default target is the claims too ...
    assert "tables" not in planned_jobs(snakemake(work, "-n", "--configfile", "configs/claims.yaml"))
    # ... and a grid configuration plans no claim run
    write_config(work / "grid.yaml", {**__import__("yaml").safe_load((REPO / "configs/test.yaml").read_text())})
    grid = snakemake(work, "-n", "-p", "--configfile", "grid.yaml")
    assert "claims_tables" not in planned_jobs(grid)
    grid_plan = plan.Plan(config_check.effective(__import__("yaml").safe_load((REPO / "configs/test.yaml").read_text())))
    assert set(trained_runs(grid)) == {r.run_dir for p in grid_plan.packs_of("grid") for r in p.runs}


def test_study_docs_reads_the_claims_own_results_for_a_configuration_of_claims_alone(tmp_path):
    """The runs and their packs' benchmarks lie where the planner puts every run; the claims' own tables,
    figures and wall time under results/claims/."""
    from reconloss.report import provenance, publish

    bench = tmp_path / "benchmarks"
    for rel, seconds in {"train/mnist/bernoulli/claims-e16.tsv": 30.0, "evaluate/mnist/bernoulli/claims-e16.tsv": 5.0,
                         "classifier/mnist.tsv": 100.0, "train/fashion_mnist/bernoulli/claims-e16.tsv": 7.0}.items():
        (bench / rel).parent.mkdir(parents=True, exist_ok=True)
        (bench / rel).write_text(f"s\tcpu_time\n{seconds}\t1\n")
    figures = tmp_path / "claims" / "benchmarks" / "figures" / "mnist.tsv"  # the claims' own figures job
    figures.parent.mkdir(parents=True)
    figures.write_text("s\tcpu_time\n2.0\t1\n")
    alone = publish.sources(tmp_path, {"datasets": ["mnist"], "likelihoods": []})
    assert alone["tables"] == tmp_path / "claims" / "tables" and alone["wall"] == tmp_path / "claims" / "wall.json"
    assert alone["runs"] == tmp_path / "runs"
    seconds = provenance.job_seconds(alone["benchmarks"], "mnist")
    # the dataset's training and evaluation, its classifier and the claims' figures; not another dataset's
    assert seconds["dataset_stages"] == {"train": 30.0, "evaluate": 5.0, "classifier": 100.0, "figures": 2.0}
    grid = publish.sources(tmp_path, {"datasets": ["mnist"], "likelihoods": ["bernoulli"]})
    assert provenance.job_seconds(grid["benchmarks"], "mnist")["dataset_stages"] == {
        "train": 30.0, "evaluate": 5.0, "classifier": 100.0}


def test_study_docs_counts_each_stack_s_logged_training_once_across_resumed_sessions(tmp_path):
    """A stack writes its epoch seconds into every member's log; a resumed job's benchmark misses earlier epochs."""
    import json

    import pandas as pd

    from reconloss.report import provenance
    from reconloss.report.publish import sources

    stacks = {("bernoulli", "1"): [10.0, 12.0, 11.0], ("bernoulli", "3"): [9.0, 9.5],
              ("continuous_bernoulli", "1"): [20.0]}
    for (label, beta), seconds in stacks.items():
        for seed in (0, 1, 2):
            run = tmp_path / "runs" / "mnist" / label / f"beta~{beta}" / f"seed~{seed}"
            run.mkdir(parents=True)
            pd.DataFrame({"epoch": range(1, len(seconds) + 1), "loss": 1.0, "seconds": seconds}).to_csv(
                run / "log.csv", index=False)
    (tmp_path / "runs" / "mnist" / "continuous_bernoulli" / "beta~1" / "seed~2" / "log.csv").write_text("")
    diverged = tmp_path / "runs" / "mnist" / "bernoulli" / "beta~1" / "seed~1" / "log.csv"
    pd.DataFrame({"epoch": [1, 2], "loss": 1.0, "seconds": [10.0, 12.0]}).to_csv(diverged, index=False)  # stopped
    logged = provenance.logged_training(tmp_path / "runs", "mnist")
    assert (logged["seconds"], logged["stacks"], logged["runs"], logged["run_epochs"]) == (71.5, 3, 8, 16)
    assert provenance.logged_training(tmp_path / "runs", "fashion_mnist")["seconds"] == 0
    walls = tmp_path / "claims" / "walls.jsonl"
    walls.parent.mkdir()
    walls.write_text(json.dumps({"started": 1, "finished": 5}) + "\n\n" + json.dumps({"started": 7, "finished": 9}))
    assert provenance.invocations(walls) == [{"started": 1, "finished": 5}, {"started": 7, "finished": 9}]
    assert provenance.invocations(tmp_path / "none.jsonl") == []
    # the commit is the run's (its last make claims), not the checkout's: committing the docs changes nothing
    walls.write_text(json.dumps({"started": 1, "finished": 5, "git_commit": "abc", "git_dirty": True}) + "\n"
                     + json.dumps({"started": 7, "finished": 9, "git_commit": "def", "git_dirty": False}) + "\n")
    config = {"datasets": ["mnist"], "likelihoods": [], "train": {"device": "cpu"}, "evaluate": {"device": "cpu"}}
    src = sources(tmp_path, config)
    record = provenance.provenance(config, ["claims.yaml"], src, "mnist", repo=tmp_path)
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
    assert [r["started"] for r in provenance.invocations(walls, "mnist")] == [1, 3, 4]
    assert [r["started"] for r in provenance.invocations(walls, "fashion_mnist")] == [2, 3, 4]
    assert provenance.invocation_datasets({"config": only_fashion}) == ["fashion_mnist"]
    walls.write_text(walls.read_text().splitlines()[0] + "\n" + json.dumps({"started": 2, "git_commit": "def",
                                                                             "config": only_fashion}) + "\n")
    assert provenance.provenance(config, ["claims.yaml"], src, "mnist", repo=tmp_path)["git_commit"] == "abc"
