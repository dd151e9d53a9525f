"""benchmarks/claims_budget.py: its rates against the published run's logged training, its runs against the plan."""

import json

import pytest
import yaml
from reconloss.plan import config_check
from reconloss.plan.runs import Plan
from workflow_helpers import REPO, load_benchmark


@pytest.fixture(scope="module")
def budget():
    return load_benchmark("claims_budget")


def test_rates_give_back_the_published_training_seconds(budget):
    # each label's rate is its stacks' seconds over their run-epochs: rate × run-epochs summed over the summary's
    # runs is the training the runs' own logs hold (provenance.json, counted there once per stack)
    import pandas as pd

    summary = pd.read_csv(REPO / "docs/study/fashion_mnist/summary.csv")
    rates, _, classifier_s, machine = budget.measured("fashion_mnist")
    trained = sum(rates[lab] * rows["epochs"].sum() for lab, rows in summary.groupby("likelihood") if lab in rates)
    logged = json.loads((REPO / "docs/study/fashion_mnist/provenance.json").read_text())
    assert trained == pytest.approx(logged["wall_time"]["training_logged"]["seconds"], rel=0.01)
    assert classifier_s == logged["wall_time"]["dataset_stages"]["classifier"] and "2-core" in machine


def test_budget_counts_the_plans_runs_and_every_stand_in_is_measured(budget):
    config = yaml.safe_load((REPO / "configs/claims.yaml").read_text())
    rates, evaluate, classifier_s, _ = budget.measured("fashion_mnist")
    rows, total = budget.budget(config, "mnist", rates, evaluate, classifier_s)
    runs = Plan(config_check.effective(config)).of("claims", ["mnist"])
    assert (total["runs"], total["run_epochs"]) == (len(runs), sum(r.epochs for r in runs))
    assert all(r["why"] != budget.rate_of("?", rates)[2] for r in rows.values())  # no label falls to the mean
    assert all(stand in rates for stand, _ in budget.STAND_INS.values())
    assert total["cpu_s"] == pytest.approx(total["train_s"] + total["evaluate_s"] + total["follow_up_s"]
                                           + total["classifier_s"])
    assert total["wall_min"] == pytest.approx(max(total["cpu_s"] / 2, total["longest_pack_s"]) / 60)


def test_a_pack_over_every_beta_is_counted_once(budget):
    # one pack of 2 β × 2 seeds, 3 epochs each, 120 s: 10 s per run-epoch (counting the pack once per β, as a
    # (label, β) stack would be, gives 20); a second label in (label, β) stacks: (30 + 50) s over 8 run-epochs
    import pandas as pd

    rows = [("a", beta, seed, 3, 120.0) for beta in (1, 3) for seed in (0, 1)]
    rows += [("b", 1, seed, 2, 30.0) for seed in (0, 1)] + [("b", 3, seed, 2, 50.0) for seed in (0, 1)]
    rows += [("c", 1, 0, 0, float("nan"))]  # broke before its first epoch: no rate
    summary = pd.DataFrame(rows, columns=["likelihood", "beta", "seed", "epochs", "train_seconds"])
    assert budget.rates_of(summary) == {"a": pytest.approx(10.0), "b": pytest.approx(10.0)}


def test_rates_of_a_results_folder_are_each_runs_share_of_its_pack(budget, tmp_path):
    # a pack of 4 runs, 120 s over 3 epochs: 10 s per run-epoch; evaluation logged with 3 classifiers counts
    # as one classifier's (budget adds the others' features); a run not yet evaluated has no evaluation
    for seed in range(4):
        run = tmp_path / "runs" / "mnist" / "lab" / "beta~1" / f"seed~{seed}"
        run.mkdir(parents=True)
        (run / "status.json").write_text(json.dumps({"train_seconds": 120.0, "epochs_completed": 3, "pack_size": 4}))
        if seed < 3:
            (run / "metrics.json").write_text(json.dumps({"eval_seconds": 20.0 + seed, "classifiers": 3}))
    bench = tmp_path / "benchmarks" / "classifier"
    (bench / "mnist").mkdir(parents=True)
    for path, seconds in ((bench / "mnist.tsv", 90.0), (bench / "mnist" / "c~1.tsv", 110.0)):
        path.write_text(f"s\th:m:s\n{seconds}\t0:01:30\n")
    # a follow-up round added 2 runs to the pack and trained them alone: 60 s over 3 epochs (10 s a run-epoch);
    # it rewrote every member's pack_size to 6, which is not what the old runs trained with
    for seed in (4, 5):
        run = tmp_path / "runs" / "mnist" / "lab" / "beta~3" / f"seed~{seed}"
        run.mkdir(parents=True)
        (run / "status.json").write_text(json.dumps({"train_seconds": 60.0, "epochs_completed": 3, "pack_size": 6}))
    for seed in range(4):
        path = tmp_path / "runs" / "mnist" / "lab" / "beta~1" / f"seed~{seed}" / "status.json"
        path.write_text(path.read_text().replace('"pack_size": 4', '"pack_size": 6'))
    rates, evaluate, classifier_s, machine = budget.measured_results(tmp_path, "mnist")
    assert rates == {"lab": pytest.approx(10.0)}
    assert evaluate == {"lab": pytest.approx(21.0 - 2 * budget.FEATURE_IMAGES * budget.FEATURE_SECONDS)}
    assert classifier_s == pytest.approx(100.0) and "core" in machine
