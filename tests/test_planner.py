"""One planner for the grid and the claims (reconloss.plan.runs), against the runs the two former planners made.

tests/fixtures/planned_runs/*.json hold, per configuration, the runs each consumer asked for
(README there). A configuration changed on purpose rewrites its fixture from the current planner:

    RECONLOSS_UPDATE_PLANNED_RUNS=1 pytest tests/test_planner.py

and the diff is committed with the change.
"""

import json
import os
from pathlib import Path

import pytest
import yaml

from reconloss.claims.claim import Claim, Need
from reconloss.plan import config_check
from reconloss.plan import runs as planner

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "tests" / "fixtures" / "planned_runs"
CONFIGS = {"config": "config.yaml", "claims": "configs/claims.yaml", "paper": "configs/paper.yaml"}
UPDATE = os.environ.get("RECONLOSS_UPDATE_PLANNED_RUNS") == "1"


def effective(path):
    return config_check.effective(yaml.safe_load((ROOT / path).read_text()))


def records(plan):
    """The fixture's records of a plan: a run once per consumer label, with the run's epochs."""
    out = []
    for consumer in planner.CONSUMERS:
        for run, label in plan.reads(consumer):
            s = run.settings
            out.append({"consumer": consumer, "dataset": run.dataset, "label": label, **s,
                        "beta": float(run.beta), "seed": run.seed, "epochs": run.epochs})
    return out


def dump(recs):
    """One line per (consumer, dataset, label, settings) with its [β, seed, epochs] runs (README's format)."""
    groups = {}
    for r in recs:
        head = {k: v for k, v in r.items() if k not in ("beta", "seed", "epochs")}
        groups.setdefault(json.dumps(head, sort_keys=True), []).append([r["beta"], r["seed"], r["epochs"]])
    lines = sorted(json.dumps({**json.loads(h), "runs": sorted(runs)}, sort_keys=True) for h, runs in groups.items())
    return "[\n" + ",\n".join(lines) + "\n]\n"


def load(name):
    """{(dataset, settings, β label, seed): [(consumer, label, epochs), ...]} of a fixture."""
    out = {}
    for line in json.loads((FIXTURES / f"{name}.json").read_text()):
        settings = json.dumps({k: line[k] for k in ("likelihood_name", "likelihood_options", "train", "model")},
                              sort_keys=True)
        for beta, seed, epochs in line["runs"]:
            out.setdefault((line["dataset"], settings, planner.beta_label(beta), seed), []).append(
                (line["consumer"], line["label"], epochs))
    return out


# What the grid and the claims now share: (dataset, label, β) -> seeds. The claims' runs at the grid's β and
# seeds, of the labels whose resolved settings the grid trains too (config.yaml trains unclipped, so its
# gaussian_fixed is the claims' one; paper.yaml clips, so only labels without train overrides merge).
# The claims of likelihood choice and σ (reconloss.claims.choice, sigma) read the Beta and truncated Gaussian
# sweeps, the squared error over its own β scale and the σ-predicting likelihoods at β 1: those merge too.
MERGED_LABELS_DIGITS = {"bernoulli": (0.1, 1), "continuous_bernoulli": (0.1, 1), "gaussian_fixed": (0.1, 1),
                        "gaussian_learned_global": (0.1, 1), "gaussian_optimal_image": (0.1, 1),
                        "gaussian_optimal_pixel": (0.1, 1), "beta": (0.1, 1), "gaussian_learned_pixel": (1,),
                        "gaussian_predicted_image": (1,), "gaussian_predicted_pixel": (1,),
                        "gaussian_data_pixel": (1,)}
PAPER_MERGED = {"bernoulli": (0.1, 0.3, 1, 3, 10), "continuous_bernoulli": (0.1, 0.3, 1, 3, 10),
                "continuous_bernoulli_naive_noclamp": (0.1, 1, 10), "gaussian_learned_global": (0.1, 1),
                "gaussian_optimal_image": (0.1, 1, 10), "gaussian_optimal_pixel": (0.1, 1, 10),
                "beta": (0.1, 1, 10), "truncated_gaussian": (0.1, 1, 10),
                "gaussian_fixed_sweep": (0.01, 0.1, 0.3), "gaussian_learned_pixel": (1,),
                "gaussian_predicted_image": (1,), "gaussian_predicted_pixel": (1,), "gaussian_data_pixel": (1,),
                "gaussian_fixed_range255": (1,)}  # paper.yaml's fixed-σ variants train unclipped, as the claims'
EXPECTED_MERGED = {
    "config": {("digits", lab, planner.beta_label(b), 0) for lab, bs in MERGED_LABELS_DIGITS.items() for b in bs},
    "claims": set(),
    "paper": {(d, lab, planner.beta_label(b), s) for d in ("mnist", "fashion_mnist", "cifar10")
              for lab, bs in PAPER_MERGED.items() for b in bs for s in (0, 1, 2)},
}


@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_the_planner_gives_the_fixture_runs_less_the_shared_ones(name):
    plan = planner.Plan(effective(CONFIGS[name]))
    if UPDATE:
        (FIXTURES / f"{name}.json").write_text(dump(records(plan)))
    old = load(name)
    new = {run.key: run for run in plan.runs.values()}
    assert set(new) == set(old)
    merged = set()
    for key, asked in old.items():
        run = new[key]
        # Each consumer reads the run under its own label; the run trains to the most epochs any asks for.
        assert sorted((c, lab) for c, lab, _ in asked) == sorted(
            (c, lab) for c, labels in run.labels.items() for lab in labels)
        assert run.epochs == max(e for *_, e in asked)
        if len({c for c, *_ in asked}) > 1:
            # identical resolved settings: one key (the claims may read it under two labels of theirs)
            assert sorted({c for c, *_ in asked}) == ["claims", "grid"]
            merged.add((run.dataset, asked[0][1], run.beta, run.seed))
    assert merged == EXPECTED_MERGED[name]
    assert len(plan.runs) == len(old)  # one run per key: a merged run is trained once


def tiny(**over):
    """A small effective configuration: digits, two grid labels, β 1 and 3, seed 0, one claim of our own."""
    config = {"datasets": ["digits"], "likelihoods": ["bernoulli", "gaussian_fixed"], "betas": [1.0, 3.0],
              "seeds": [0], "train": {"epochs": 2}, "claims": {"seeds": [0, 1], "max_epochs": None}, **over}
    return config_check.effective(config)


def claim(*needs):
    return Claim("c", "s", "q", "r", "fig", tuple(needs), lambda df, specs: {})


def test_a_grid_run_a_claim_needs_is_trained_once_in_the_grid_folder():
    plan = planner.Plan(tiny(), claims=[claim(Need("bernoulli", (1.0, 10.0), 5))])
    shared = [r for r in plan.runs.values() if len(r.labels) == 2]
    assert [(r.folder, r.beta, r.seed, r.epochs) for r in shared] == [("bernoulli", "1", 0, 5)]
    assert shared[0].run_dir == "results/runs/digits/bernoulli/beta~1/seed~0"
    # 2 labels × 2 β × 1 seed of the grid, 2 β × 2 seeds of the claim, one of them the grid's.
    assert len(plan.runs) == 4 + 4 - 1
    assert {r.run_dir for r in plan.of("claims")} <= {r.run_dir for r in plan.runs.values()}


def test_a_label_collision_is_one_run_read_under_each_label():
    # A grid variant with the claims' settings of continuous_bernoulli_naive_noclamp, under another label.
    config = tiny(likelihoods=[], variants={"cbn_free": {"likelihood": "continuous_bernoulli_naive",
                                                          "options": {"clamp": None}}})
    plan = planner.Plan(config, claims=[claim(Need("continuous_bernoulli_naive_noclamp", (1.0,), 1))])
    runs = [r for r in plan.runs.values() if r.beta == "1" and r.seed == 0]
    assert len(runs) == 1
    assert runs[0].folder == "cbn_free"
    assert runs[0].labels == {"grid": ["cbn_free"], "claims": ["continuous_bernoulli_naive_noclamp"]}
    assert runs[0].epochs == 2  # the grid's 2 epochs beat the claim's 1


def test_one_label_with_two_settings_is_two_runs_in_two_folders():
    # The grid clips gaussian_fixed; the claims train it unclipped: the claims' runs get a folder of their own.
    plan = planner.Plan(tiny(train={"epochs": 2, "grad_clip": 1000.0}), claims=[claim(Need("gaussian_fixed", (1.0,), 3))])
    folders = {(r.folder, r.settings["train"]["grad_clip"]) for r in plan.runs.values()
               if r.settings["likelihood_name"] == "gaussian_fixed" and r.beta == "1" and r.seed == 0}
    assert folders == {("gaussian_fixed", 1000.0), ("gaussian_fixed.claims", None)}


def test_a_need_asking_for_more_seeds_gets_them():
    need = Need("beta", (1.0,), 1)
    object.__setattr__(need, "seeds", 4)  # Need.seeds (INTERFACES.md 1), read with getattr
    plan = planner.Plan(tiny(likelihoods=[]), claims=[claim(need), claim(Need("bernoulli", (1.0,), 1))])
    assert sorted(r.seed for r in plan.of("claims") if r.folder == "beta") == [0, 1, 2, 3]
    assert sorted(r.seed for r in plan.of("claims") if r.folder == "bernoulli") == [0, 1]


def test_packs_follow_pack_vary_and_keep_owners_and_epochs_apart():
    claims = [claim(Need("bernoulli", (1.0, 10.0), 5))]
    both = planner.Plan(tiny(), claims=claims)
    got = {p.id: [(r.beta, r.seed, r.epochs) for r in p.runs] for p in both.packs if "bernoulli" in p.id}
    # β 1 seed 0 is the grid's and the claim's: the claim's 5 epochs, in the grid's pack (the grid reads it
    # first); the grid's β 3, asked at the same 2 epochs as its β 1, is raised with it, so that the grid
    # compares runs of one length over β; the claim's own runs apart, so that the grid's target never trains them.
    assert got == {"digits/bernoulli/grid-e5": [("1", 0, 5), ("3", 0, 5)],
                   "digits/bernoulli/claims-e5": [("1", 1, 5), ("10", 0, 5), ("10", 1, 5)]}
    assert [p.id for p in both.packs_of("grid") if "bernoulli" in p.id] == ["digits/bernoulli/grid-e5"]
    assert [p.id for p in both.packs_of("claims") if "bernoulli" in p.id] == [
        "digits/bernoulli/grid-e5", "digits/bernoulli/claims-e5"]
    alone = planner.Plan(tiny(pack={"vary": [], "max_runs": 64}), claims=claims)
    assert len(alone.packs) == len(alone.runs) and all(len(p.runs) == 1 for p in alone.packs)
    assert "digits/bernoulli/beta~10/seed~1/claims-e5" in {p.id for p in alone.packs}
    seeds = planner.Plan(tiny(pack={"vary": ["seed"], "max_runs": 64}), claims=claims)
    assert sorted(p.id for p in seeds.packs if "bernoulli" in p.id) == [
        "digits/bernoulli/beta~1/claims-e5", "digits/bernoulli/beta~1/grid-e5", "digits/bernoulli/beta~10/claims-e5",
        "digits/bernoulli/beta~3/grid-e5"]
    # a follow-up (claims.follow_ups) is the claims' own run, at the epochs it asks
    more = planner.Plan(tiny(claims={"seeds": [0, 1], "follow_ups": [
        {"dataset": "digits", "label": "bernoulli", "betas": [30.0], "seeds": 3, "epochs": 7, "why": "x: edge"}]}),
        claims=claims)
    assert sorted((r.beta, r.seed, r.epochs) for r in more.of("claims") if r.beta == "30") == [
        ("30", 0, 7), ("30", 1, 7), ("30", 2, 7)]
    # every run is in exactly one pack
    assert sorted(r.run_dir for p in both.packs for r in p.runs) == sorted(r.run_dir for r in both.runs.values())


def test_the_labels_one_claim_compares_train_alike_where_the_grid_raises_one():
    # The grid trains Bernoulli at β 1 for 2 epochs; a claim compares it with CB at 1 epoch: CB follows to 2,
    # as does CB at β 10 (its label's runs stay at one count), while another claim's CB keeps its 1 epoch.
    pair = claim(Need("bernoulli", (1.0,), 1), Need("continuous_bernoulli", (1.0, 10.0), 1))
    alone = Claim("d", "s", "q", "r", "fig", (Need("continuous_bernoulli_naive", (1.0,), 1),), lambda df, s: {})
    plan = planner.Plan(tiny(), claims=[pair, alone])
    epochs = {(r.folder, r.beta): r.epochs for r in plan.runs.values() if r.seed == 1}
    assert epochs == {("bernoulli", "1"): 2, ("continuous_bernoulli", "1"): 2, ("continuous_bernoulli", "10"): 2,
                      ("continuous_bernoulli_naive", "1"): 1}


def test_beta_label_is_canonical():
    assert [planner.beta_label(b) for b in (1, 1.0, 0.1, 1e-5, "3")] == ["1", "1", "0.1", "1e-05", "3"]


@pytest.mark.workflow
def test_a_grid_holding_a_claim_run_trains_it_once_in_the_workflow(tmp_path):
    from test_claims_plan import trained_runs
    from workflow_helpers import copy_workflow, planned_jobs, snakemake, write_config

    config = {"datasets": ["digits"], "likelihoods": ["gaussian_learned_global"], "betas": [1.0], "seeds": [0],
              "train": {"epochs": 2}, "claims": {"only": ["learned_sigma_tracks_error"], "seeds": [0, 1],
                                                  "max_epochs": 2}}
    work = copy_workflow(tmp_path / "wf")
    write_config(work / "both.yaml", config)
    proc = snakemake(work, "-n", "-p", "all", "claims", "--configfile", "both.yaml")
    plan = planner.Plan(config_check.effective(config))
    shared = "results/runs/digits/gaussian_learned_global/beta~1/seed~0"
    # the grid's one run is one of the claim's four (β 0.1 and 1, seeds 0 and 1): four runs
    assert [r.run_dir for r in plan.runs.values() if len(r.labels) == 2] == [shared]
    assert trained_runs(proc) == {r.run_dir: 1 for r in plan.runs.values()} and len(plan.runs) == 4
    jobs = planned_jobs(proc)
    # two packs, all four runs at 2 epochs: the grid's run, and the claim's three others
    assert jobs["train"] == jobs["evaluate"] == len(plan.packs) == 2
