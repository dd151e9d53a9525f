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


def test_an_answered_follow_up_plans_nothing_more():
    """After the round that added β 1.7 between 1 and 3, the same row plans nothing again."""
    item = {"kind": "neighbours", "label": "bernoulli", "betas": [1, 3]}
    first = F.plan_round(frame(("a", "inconclusive", item)), {"mnist": cells(labels=("bernoulli",))})
    after = F.apply([{k: v for k, v in n.items() if k != "dataset"} for n in first.needs],
                    cells(labels=("bernoulli",)))
    assert F.plan_round(frame(("a", "inconclusive", item)), {"mnist": after}).needs == []


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
