"""The follow-up planner on fabricated claims tables: each kind of inconclusive verdict gets its remedy,
costs are counted in run-epochs, and a round over the budget is refused with its cost."""

import json

import pandas as pd
import pytest

from reconloss.plan import follow_up as F
from reconloss.plan.follow_up import Cell

SWEEP = (0.1, 0.3, 1.0, 3.0, 10.0)


def cells(labels=("bernoulli", "continuous_bernoulli"), betas=SWEEP, seeds=3, epochs=16):
    return {(label, b): Cell(seeds, epochs) for label in labels for b in betas}


def frame(*rows):
    return pd.DataFrame([{"dataset": "mnist", "claim": c, "verdict": v, "follow_up": json.dumps(f) if f else ""}
                         for c, v, f in rows])


def test_an_edge_adds_one_grid_step_past_it_on_its_side():
    r = F.plan_round(frame(("cb_needs_larger_beta", "inconclusive",
                            {"kind": "edge", "side": "above", "label": "continuous_bernoulli", "beta": 10.0})), {"mnist": cells()})
    assert [(n["label"], n["betas"], n["seeds"], n["epochs"]) for n in r.needs] == [
        ("continuous_bernoulli", [33.0], 3, 16)]  # 10 · 10/3, two significant digits
    assert r.cost == {"mnist": 3 * 16}
    low = F.plan_round(frame(("x", "inconclusive", {"kind": "edge", "side": "below", "label": "bernoulli", "beta": 0.1})),
                       {"mnist": cells()})
    assert low.needs[0]["betas"] == [0.033]


def test_neighbours_get_the_beta_between_them():
    r = F.plan_round(frame(("cb_needs_larger_beta", "inconclusive",
                            {"kind": "neighbours", "label": "continuous_bernoulli", "betas": [1, 3]})),
                     {"mnist": cells()})
    assert [(n["label"], n["betas"][0]) for n in r.needs] == [("continuous_bernoulli", 1.7)]
    assert r.cost["mnist"] == 3 * 16


def test_a_straddling_interval_doubles_the_seeds_of_its_cells_and_counts_only_the_new_ones():
    r = F.plan_round(frame(("fixed_sigma_is_beta", "inconclusive",
                            {"kind": "straddles", "labels": ["bernoulli"], "betas": [1.0, 3.0]})), {"mnist": cells()})
    assert [(n["betas"], n["seeds"], n["epochs"]) for n in r.needs] == [([1.0], 6, 16), ([3.0], 6, 16)]
    assert r.cost["mnist"] == 2 * 3 * 16


def test_an_unsettled_level_trains_every_beta_of_its_label_half_again_as_long_counting_the_extra_epochs():
    r = F.plan_round(frame(("learned_sigma", "inconclusive", {"kind": "unsettled", "label": "bernoulli",
                                                              "beta": 1.0})), {"mnist": cells()})
    assert [(n["betas"], n["seeds"], n["epochs"]) for n in r.needs] == [([b], 3, 24) for b in SWEEP]
    assert r.cost["mnist"] == 5 * 3 * 8


def test_only_inconclusive_rows_are_followed_up_and_unknown_kinds_are_named():
    r = F.plan_round(frame(("a", "holds", {"kind": "edge", "side": "above", "label": "bernoulli", "beta": 10.0}),
                           ("b", "inconclusive", {"kind": "more_data_sets", "labels": []}),
                           ("c", "inconclusive", None)), {"mnist": cells()})
    assert r.needs == [] and r.left_alone == ["mnist b: 'more_data_sets' needs a person"]
    assert "no follow-up runs" not in r.text() and "needs a person" in r.text()


def test_two_claims_asking_for_the_same_cell_share_it_with_the_larger_request():
    r = F.plan_round(frame(("a", "inconclusive", {"kind": "straddles", "labels": ["bernoulli"], "betas": [1.0]}),
                           ("b", "inconclusive", {"kind": "unsettled", "label": "bernoulli", "beta": 1.0})),
                     {"mnist": cells(betas=(1.0,))})
    assert len(r.needs) == 1
    need = r.needs[0]
    assert (need["seeds"], need["epochs"]) == (6, 24) and "a: straddles" in need["why"] and "b: unsettled" in need["why"]
    assert r.cost["mnist"] == 6 * 24 - 3 * 16


def test_a_straddle_naming_its_cells_adds_seeds_to_those_cells_only():
    item = {"kind": "straddles", "labels": ["bernoulli", "continuous_bernoulli"], "betas": [1.0, 3.0],
            "cells": [["bernoulli", 1.0], ["continuous_bernoulli", 3.0]]}
    r = F.plan_round(frame(("a", "inconclusive", item)), {"mnist": cells()})
    assert sorted((n["label"], n["betas"], n["seeds"]) for n in r.needs) == [("bernoulli", [1.0], 6),
                                                                         ("continuous_bernoulli", [3.0], 6)]


def test_a_round_over_the_budget_is_refused_with_its_cost():
    rows = frame(("a", "inconclusive", {"kind": "straddles", "labels": ["bernoulli"], "betas": list(SWEEP)}))
    assert F.plan_round(rows, {"mnist": cells()}, budget=240).cost == {"mnist": 240}
    with pytest.raises(F.BudgetError, match=r"costs 240 run-epochs.*has 200 left"):
        F.plan_round(rows, {"mnist": cells()}, spent={"mnist": 40}, budget=240)


def test_a_round_over_the_budget_keeps_the_claims_that_fit_cheapest_first_and_names_the_others():
    """Three claims: 48 (an edge), 96 (a straddle of two cells) and 120 (an unsettled level, sharing
    nothing). With 150 left the two cheaper fit (144); the dear one is refused by name with its cost."""
    rows = frame(("dear", "inconclusive", {"kind": "unsettled", "label": "bernoulli", "beta": 1.0}),
                 ("mid", "inconclusive", {"kind": "straddles", "labels": ["continuous_bernoulli"], "betas": [1.0, 3.0]}),
                 ("cheap", "inconclusive", {"kind": "edge", "side": "above", "label": "continuous_bernoulli",
                                            "beta": 10.0}))
    r = F.plan_round(rows, {"mnist": cells()}, spent={"mnist": 50}, budget=200)
    assert r.cost == {"mnist": 48 + 96}
    assert sorted((n["label"], n["betas"][0]) for n in r.needs) == [
        ("continuous_bernoulli", 1.0), ("continuous_bernoulli", 3.0), ("continuous_bernoulli", 33.0)]
    assert r.left_alone == ["mnist dear: over the budget, refused: its follow-ups cost 120 run-epochs more than "
                            "the claims kept (claims.follow_up_budget = 200, 150 left)"]
    # the whole round fits: nothing refused
    assert F.plan_round(rows, {"mnist": cells()}, budget=48 + 96 + 120).left_alone == []


def test_a_claim_whose_cells_the_kept_claims_already_train_costs_nothing_more():
    """Two claims asking for the same doubled seeds: once one is kept, the other adds 0 run-epochs and fits."""
    item = {"kind": "straddles", "labels": ["bernoulli"], "betas": [1.0]}
    rows = frame(("a", "inconclusive", item), ("b", "inconclusive", item),
                 ("c", "inconclusive", {"kind": "unsettled", "label": "continuous_bernoulli", "beta": 1.0}))
    r = F.plan_round(rows, {"mnist": cells()}, budget=48)
    assert r.cost == {"mnist": 48} and "a: straddles" in r.needs[0]["why"] and "b: straddles" in r.needs[0]["why"]
    assert [x.split(":")[0] for x in r.left_alone] == ["mnist c"]


def test_an_edge_that_is_no_longer_the_edge_plans_nothing():
    item = {"kind": "edge", "side": "above", "label": "bernoulli", "beta": 10.0}
    assert F.plan_round(frame(("a", "inconclusive", item)), {"mnist": cells(betas=SWEEP + (33.0,))}).needs == []


def test_an_answered_follow_up_plans_nothing_more():
    """After the round that added β 1.7 between 1 and 3, the same row plans nothing again."""
    item = {"kind": "neighbours", "label": "bernoulli", "betas": [1, 3]}
    first = F.plan_round(frame(("a", "inconclusive", item)), {"mnist": cells(labels=("bernoulli",))})
    after = F.apply([{k: v for k, v in n.items() if k != "dataset"} for n in first.needs],
                    cells(labels=("bernoulli",)))
    assert F.plan_round(frame(("a", "inconclusive", item)), {"mnist": after}).needs == []


def test_several_claims_asking_more_epochs_of_one_label_ask_once_and_a_cap_without_effect_is_named():
    rows = frame(*[(c, "inconclusive", {"kind": "unsettled", "label": "bernoulli", "beta": 1.0}) for c in "abcd"])
    r = F.plan_round(rows, {"mnist": cells()})
    assert {n["epochs"] for n in r.needs} == {24}  # 16 · 1.5 once, not 16 · 1.5^4
    capped = F.plan_round(rows, {"mnist": cells(epochs=2)}, cap=2)
    assert capped.needs == [] and capped.cost == {} and "no effect: claims.max_epochs = 2" in capped.left_alone[0]


def test_round_sig_and_parse():
    assert F.round_sig(1.7320508) == 1.7 and F.round_sig(0.0333) == 0.033 and F.round_sig(33.33) == 33.0
    assert F.parse("") == [] and F.parse(None) == [] and F.parse(float("nan")) == []
    assert F.parse('{"kind": "edge"}') == [{"kind": "edge"}] and F.parse('[{"kind": "a"}, {"kind": "b"}]')[1]["kind"] == "b"


def test_follow_ups_in_a_configuration_are_checked_at_plan_time_field_by_field():
    from reconloss.plan import config_check

    base = {"datasets": ["mnist"], "likelihoods": []}
    need = {"dataset": "mnist", "label": "bernoulli", "betas": [1.7], "seeds": 3, "epochs": 16, "why": "a: neighbours"}
    assert config_check.check({**base, "claims": {"follow_ups": [need]}}) == []
    bad = {k: v for k, v in need.items() if k not in ("seeds", "why")} | {"seed": 3, "betas": ["a"]}
    problems = dict(config_check.check({**base, "claims": {"follow_ups": [bad]}}))
    assert "did you mean 'seeds'" in problems["claims.follow_ups[0].seed"]
    assert problems["claims.follow_ups[0].betas[0]"].startswith("expected a number")
    assert problems["claims.follow_ups[0].seeds"] == problems["claims.follow_ups[0].why"] == "missing"


# ---- the rounds: snakemake replaced by a stand-in that writes the claims table a round would give --------------

FAKE = r'''
import json, sys, yaml
from pathlib import Path
files = sys.argv[sys.argv.index("--configfile") + 1:]
needs = []
for f in files:
    needs = (yaml.safe_load(Path(f).read_text()).get("claims") or {}).get("follow_ups", needs)
Path("calls.jsonl").open("a").write(json.dumps(files) + "\n")
edge = {"kind": "edge", "label": "continuous_bernoulli", "beta": 10.0, "side": "above", "grid": [0.1, 0.3, 1, 3, 10]}
# CB's best β sits at the upper edge until a β past it has run; then the verdict is decided
settled = any(33.0 in n["betas"] for n in needs)
row = {"dataset": "mnist", "claim": "cb_needs_larger_beta", "verdict": "holds" if settled else "inconclusive",
       "follow_up": "" if settled else json.dumps(edge)}
Path("results/claims").mkdir(parents=True, exist_ok=True)
import csv
with open("results/claims/claims.csv", "w", newline="") as fh:
    w = csv.DictWriter(fh, fieldnames=list(row)); w.writeheader(); w.writerow(row)
'''


def _rounds_workdir(tmp_path, monkeypatch, **claims):
    import sys

    import yaml

    from workflow_helpers import REPO

    config = yaml.safe_load((REPO / "configs/claims.yaml").read_text())
    config["datasets"] = ["mnist"]
    config["claims"].update(claims)
    (tmp_path / "claims.yaml").write_text(yaml.safe_dump(config))
    (tmp_path / "fake_snakemake.py").write_text(FAKE)
    monkeypatch.chdir(tmp_path)
    return [sys.executable, str(tmp_path / "fake_snakemake.py")]


def test_make_claims_runs_a_round_for_an_edge_and_stops_once_the_verdict_is_decided(tmp_path, monkeypatch, capsys):
    import json as _json

    import yaml

    from reconloss.plan import rounds

    fake = _rounds_workdir(tmp_path, monkeypatch)
    assert rounds.main(["--config", "claims.yaml", "--", *fake]) == 0
    calls = [_json.loads(line) for line in (tmp_path / "calls.jsonl").read_text().splitlines()]
    assert calls == [["claims.yaml"], ["claims.yaml", "results/claims/follow_up/round~1.yaml"]]
    round1 = yaml.safe_load((tmp_path / "results/claims/follow_up/round~1.yaml").read_text())["claims"]["follow_ups"]
    assert [(n["label"], n["betas"]) for n in round1] == [("continuous_bernoulli", [33.0])]  # 10 · 10/3
    assert yaml.safe_load((tmp_path / "results/claims/follow_up/final.yaml").read_text())["claims"]["follow_ups"] == round1
    log = [_json.loads(line) for line in (tmp_path / "results/claims/follow_up/rounds.jsonl").read_text().splitlines()]
    assert log[0]["round"] == 1 and log[0]["cost"]["mnist"] == 3 * round1[0]["epochs"]
    assert "no verdict asks for more runs after round 1" in capsys.readouterr().out


def test_make_claims_stops_at_its_rounds_and_refuses_a_round_over_the_budget(tmp_path, monkeypatch, capsys):
    import yaml

    from reconloss.plan import rounds

    fake = _rounds_workdir(tmp_path, monkeypatch, rounds=0)
    assert rounds.main(["--config", "claims.yaml", "--", *fake]) == 0
    assert len((tmp_path / "calls.jsonl").read_text().splitlines()) == 1
    assert rounds.main(["--config", "claims.yaml", "--dry-run"]) == 0  # the next round's plan, nothing run
    assert "continuous_bernoulli β 33" in capsys.readouterr().out
    (tmp_path / "calls.jsonl").unlink()
    fake = _rounds_workdir(tmp_path, monkeypatch, follow_up_budget=10)
    assert rounds.main(["--config", "claims.yaml", "--", *fake]) == 0  # the verdicts at hand stand
    assert "round 1 refused" in capsys.readouterr().err
    assert not (tmp_path / "results/claims/follow_up/round~1.yaml").exists()
    assert "refused" in (tmp_path / "results/claims/follow_up/rounds.jsonl").read_text().splitlines()[-1]
    assert yaml.safe_load((tmp_path / "results/claims/follow_up/final.yaml").read_text()) == {"claims": {"follow_ups": []}}


def test_a_round_is_priced_by_the_planner_which_trains_the_labels_one_claim_compares_alike():
    """configs/claims.yaml compares the per-image optimal σ with the per-pixel one at 16 epochs: asking the
    per-image runs for 24 (an unsettled level: 3 β × 3 seeds × 8 epochs = 72 by the cells) takes the
    per-pixel runs along, so the round costs 144 run-epochs, and a budget of 100 refuses it."""
    import yaml

    from reconloss.plan import rounds
    from reconloss.plan.runs import Plan
    from workflow_helpers import REPO

    config = yaml.safe_load((REPO / "configs/claims.yaml").read_text())
    config["datasets"] = ["mnist"]
    need = {"dataset": "mnist", "label": "gaussian_optimal_image", "betas": [0.1, 1.0, 10.0], "seeds": 3,
            "epochs": 24, "why": "test"}
    assert F.cost(need, rounds.cells_of(config)["mnist"]) == 72  # what the cells alone count
    before, after = rounds.run_epochs(config, []), rounds.run_epochs(config, [need])
    assert after["mnist"] - before["mnist"] == 144
    planned = Plan({**config, "claims": {**config["claims"], "follow_ups": [need]}}).of("claims")
    assert {(r.folder, r.epochs) for r in planned if r.folder.startswith("gaussian_optimal")} == {
        ("gaussian_optimal_image", 24), ("gaussian_optimal_pixel", 24)}
    rows = frame(("optimal_image_needs_beta", "inconclusive",
                  {"kind": "unsettled", "label": "gaussian_optimal_image", "beta": 10.0}))

    def price(dataset, needs):
        return rounds.run_epochs(config, needs)[dataset] - before[dataset]

    assert F.plan_round(rows, rounds.cells_of(config), budget=144, price=price).cost == {"mnist": 144}
    with pytest.raises(F.BudgetError, match="costs 144 run-epochs"):
        F.plan_round(rows, rounds.cells_of(config), budget=100, price=price)
