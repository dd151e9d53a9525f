"""Counterexamples: fabricated summaries made so that a careless rule gives the wrong verdict.

Each trap is a variation a rule judged wrong before (issue 27, "Soundness"): opposite effects over β that
an average cancels, precise seeds that shrink a noise margin until a 3 % gap is "different", one side of an
optimum, a plateau with a hole, collapse counted as divergence, a re-run concatenated, one FID network.
Each test says what the old rule said and asserts what the sentence means.
"""

import json
import math

import pytest
from fake_results import fake_summary
from fake_results import summary_row as row
from reconloss import claims
from reconloss.claims.evidence import (
    FID_MARGIN,
    Interval,
    Spread,
    Stat,
    classifier_columns,
    difference,
    holm,
    rate_upper,
)
from test_claims import BERN, CB, SEEDS, SWEEP, noisy, sweep, u_shape, verdicts

LEARNED = "gaussian_learned_global"


def judged(rows, claim, specs=None):
    return verdicts(rows, specs).loc[claim]


# ---- the statistics the rules stand on, against independent references --------------------------------


def test_one_sided_p_is_scipys_one_sample_t_test():
    from scipy.stats import ttest_1samp

    values = [0.12, 0.05, 0.2, 0.09]
    iv = difference(Stat(values), None, Spread.pooled([Stat(values)]))
    assert iv.p_above(0.0) == pytest.approx(ttest_1samp(values, 0.0, alternative="greater").pvalue)
    assert iv.p_below(0.3) == pytest.approx(ttest_1samp(values, 0.3, alternative="less").pvalue)
    # two one-sided tests: inside ±m is the larger of the two one-sided p
    assert iv.p_inside(0.3) == pytest.approx(max(ttest_1samp(values, -0.3, alternative="greater").pvalue,
                                                 ttest_1samp(values, 0.3, alternative="less").pvalue))


def test_holm_by_hand():
    # α = 0.05: 0.01 < 0.05/3 is rejected, then 0.03 ≥ 0.05/2 stops the procedure
    assert holm([0.01, 0.04, 0.03]) == [True, False, False]
    assert holm([0.01, 0.02, 0.04]) == [True, True, True]  # 0.0167, 0.025, 0.05 thresholds
    assert holm([0.001, math.nan]) == [True, False]  # nan never rejected (0.001 < 0.025)


def test_clopper_pearson_upper_bound():
    from scipy.stats import binom

    assert rate_upper(0, 5) == pytest.approx(1 - 0.05 ** (1 / 5))  # 0.451
    upper = rate_upper(2, 9)
    assert binom.cdf(2, 9, upper) == pytest.approx(0.05)
    assert rate_upper(3, 3) == 1.0


# ---- opposite effects over β are never averaged away ------------------------------------------------------


def test_learned_sigma_at_0_7_and_1_43_does_not_average_to_1():
    """Old rule: mean of log(σ/√MSE) over β = 0, so "holds". ×0.7 is outside ×1.25 at half the β."""
    rows = [row(LEARNED, b, s, rmse=0.15, sigma_mean=0.15 * ratio * noisy(s, 0.01))
            for b, ratio in ((0.1, 0.7), (0.3, 0.7), (1.0, 1.43), (3.0, 1.43)) for s in SEEDS]
    got = judged(rows, "learned_sigma_tracks_error")
    assert got["verdict"] == "does not hold"
    assert "holds at 0 of 4 β" in got["reason"]
    close = [row(LEARNED, b, s, rmse=0.15, sigma_mean=0.15 * 1.05 * noisy(s, 0.01)) for b in (0.1, 1.0) for s in SEEDS]
    assert judged(close, "learned_sigma_tracks_error")["verdict"] == "holds"


def desat(change_of_beta, jitter=0.005):
    rows = []
    for b in (0.3, 1.0, 3.0, 10.0):
        for s in SEEDS:
            fid = 100 * noisy(s, 0.03)
            rows.append(row(CB, b, s, fid=fid, fid_stretched=fid * change_of_beta(b) * noisy(s, jitter)))
            rows.append(row(BERN, b, s, fid=fid, fid_squeezed=fid * noisy(s, jitter)))
    return rows


def test_fid_moving_x1_5_at_low_beta_and_down_1_5_at_high_beta_is_not_blind():
    """Old rule: the mean change over β is ×1, so FID was "blind to the levels"."""
    got = judged(desat(lambda b: 1.5 if b < 2 else 1 / 1.5), "fid_blind_to_desaturation")
    assert got["verdict"] == "does not hold"
    assert "of 4 β" in got["reason"]
    assert judged(desat(lambda b: 1.0), "fid_blind_to_desaturation")["verdict"] == "holds"
    # a change about the margin with noisy seeds: neither blind nor seeing
    straddle = judged(desat(lambda b: 1.09, jitter=0.05), "fid_blind_to_desaturation")
    assert straddle["verdict"] == "inconclusive"
    assert json.loads(straddle["follow_up"])["kind"] == "straddles"


def test_one_beta_three_times_sharper_does_not_outweigh_four_at_0_9():
    """Old rule: the mean log ratio (log 3 + 4 log 0.9)/5 > 0 made it "holds"."""
    rows = [row(CB, b, s, sharpness_data=0.05, sharpness_param=0.05 * (3.0 if b == 10.0 else 0.9) * noisy(s, 0.01))
            for b in SWEEP for s in SEEDS]
    got = judged(rows, "cb_over_sharpening")
    assert got["verdict"] == "does not hold"
    assert "holds at 1 of 5 β" in got["reason"]


def test_range255_kl_larger_at_one_beta_only_does_not_hold():
    """Old rule: the grand mean over β of the paired log KL lay above the margin: "holds"."""
    base = [row("gaussian_fixed", b, s, kl=20 * noisy(s, 0.02)) for b in (0.1, 1.0) for s in SEEDS]
    big = [row("gaussian_fixed_range255", b, s, kl=20 * noisy(s, 0.02) * (8.0 if b == 1.0 else 1.0))
           for b in (0.1, 1.0) for s in SEEDS]
    assert judged(base + big, "range255_sigma_tiny")["verdict"] == "does not hold"
    both = [dict(r, kl=r["kl"] * 8.0 if r["beta"] == 0.1 else r["kl"]) for r in big]
    assert judged(base + both, "range255_sigma_tiny")["verdict"] == "holds"


# ---- "similar" against a stated margin -----------------------------------------------------------------------


def test_precise_seeds_do_not_turn_a_3_percent_gap_into_different():
    """Old rule: the margin was 1.96·√2·s, so seeds with 0.1 % spread made a 3 % gap "does not hold"."""
    precise = sweep(BERN, u_shape(1.0, 100), jitter=0.001) + sweep(CB, u_shape(1.0, 103), jitter=0.001)
    got = judged(precise, "best_fid_similar")
    assert got["verdict"] == "holds"
    assert f"×{math.exp(FID_MARGIN):.2f}" in got["numbers"]
    wide = sweep(BERN, u_shape(1.0, 100), jitter=0.001) + sweep(CB, u_shape(1.0, 125), jitter=0.001)
    assert judged(wide, "best_fid_similar")["verdict"] == "does not hold"


def test_best_fid_slightly_better_is_its_own_claim():
    better = sweep(BERN, u_shape(1.0, 100)) + sweep(CB, u_shape(1.0, 95))
    assert judged(better, "cb_best_fid_slightly_better")["verdict"] == "holds"
    assert judged(better, "best_fid_similar")["verdict"] == "holds"  # both: similar and a little better
    worse = sweep(BERN, u_shape(1.0, 100)) + sweep(CB, u_shape(1.0, 105))
    assert judged(worse, "cb_best_fid_slightly_better")["verdict"] == "does not hold"
    noisy_rows = sweep(BERN, u_shape(1.0, 100), jitter=0.2) + sweep(CB, u_shape(1.0, 99), jitter=0.2)
    got = judged(noisy_rows, "cb_best_fid_slightly_better")
    assert got["verdict"] == "inconclusive" and json.loads(got["follow_up"])["kind"] == "straddles"


# ---- where an optimum lies: both sides ------------------------------------------------------------------------


def planner_items(follow_up):
    from reconloss.plan.follow_up import parse

    return parse(follow_up)


def test_cb_needs_larger_beta_checks_bernoullis_side_too():
    """Old rule: CB clearly worse at Bernoulli's best β sufficed. Here Bernoulli is flat, so it is no worse at
    CB's best β: nothing shows Bernoulli's optimum lies lower."""
    flat_bern = sweep(BERN, lambda b: 100 * (1 + 0.002 * (b != 0.3)), jitter=0.05) + sweep(CB, u_shape(3.0, 100))
    got = judged(flat_bern, "cb_needs_larger_beta")
    assert got["verdict"] == "inconclusive"
    follow = json.loads(got["follow_up"])  # β 1 lies between the two already: more seeds of both
    assert follow == {"kind": "straddles", "comparison": f"{BERN} at β 3 against its best β 0.3", "labels": [BERN],
                      "betas": [], "cells": [[BERN, 0.3], [BERN, 3.0]]}
    # CB best at a β Bernoulli never ran (a follow-up's 1.7): Bernoulli's runs there, the β between its 1 and 3
    cb_between = sweep(CB, u_shape(1.7, 100)) + [row(CB, 1.7, s, fid=100 * noisy(s, 0.02)) for s in SEEDS]
    lacking = judged(sweep(BERN, u_shape(1.0, 100)) + cb_between, "cb_needs_larger_beta")
    assert lacking["verdict"] == "inconclusive" and "bernoulli at β 1.7" in lacking["reason"]
    assert {"kind": "neighbours", "label": BERN, "betas": [1.0, 3.0]} in planner_items(lacking["follow_up"])
    both = sweep(BERN, u_shape(0.3, 100)) + sweep(CB, u_shape(3.0, 100))
    assert judged(both, "cb_needs_larger_beta")["verdict"] == "holds"
    same = sweep(BERN, u_shape(1.0, 100)) + sweep(CB, u_shape(1.0, 100))
    assert judged(same, "cb_needs_larger_beta")["verdict"] == "does not hold"


# ---- robustness as a shape statistic ----------------------------------------------------------------------------


def test_a_plateau_with_a_hole_is_not_robust():
    """Old rule: the β range within noise of the best ran 0.1 to 10 around a hole at β 1 ("holds"). The
    log-FID range sees the hole: CB's range (×2) is no smaller than Bernoulli's (×2)."""
    holed = [dict(r, fid_param=r["fid"], fid_recon=r["fid"])
             for r in sweep(CB, lambda b: 200.0 if b == 1.0 else 100.0, jitter=0.01)
             + sweep(BERN, u_shape(1.0, 100, steep=0.3), jitter=0.01)]
    assert judged(holed, "cb_robust_to_beta")["verdict"] == "does not hold"


def test_cb_flat_within_15_percent_over_the_whole_grid_is_robust():
    """Old rule: with precise seeds the plateaus were narrow and ran to the edge ("inconclusive")."""
    flat = sweep(CB, lambda b: 100 * (1 + 0.15 * (math.log10(b) + 1) / 2), jitter=0.002) + \
        sweep(BERN, u_shape(1.0, 100, steep=0.3), jitter=0.002)
    got = judged(flat, "cb_robust_to_beta")
    assert got["verdict"] == "holds", got["numbers"]


# ---- collapse is not divergence, alike in every rule --------------------------------------------------------------


def optimal(pixel_outcome, image_outcome="ok"):
    return [row(label, b, s, outcome=outcome, mse_mean=0.02, fid=300 * noisy(s, 0.03))
            for label, outcome in (("gaussian_optimal_pixel", pixel_outcome), ("gaussian_optimal_image", image_outcome))
            for b in (0.1, 1.0, 10.0) for s in SEEDS]


def test_collapse_against_divergence():
    """Old rules: the per-pixel rule counted a collapse as instability ("holds"); the per-image one ignored it."""
    assert judged(optimal("collapsed"), "optimal_pixel_unstable")["verdict"] == "does not hold"
    assert judged(optimal("diverged"), "optimal_pixel_unstable")["verdict"] == "holds"
    image = judged(optimal("ok", image_outcome="collapsed"), "optimal_image_stable")
    pixel = judged(optimal("collapsed"), "optimal_pixel_unstable")
    assert image["verdict"] == "holds"  # collapsed, but never diverged
    for got in (image, pixel):  # both name the collapses the same way
        assert "collapsed 9 (a collapse is not a divergence)" in got["numbers"]
    assert judged(optimal("ok", image_outcome="diverged"), "optimal_image_stable")["verdict"] == "does not hold"


def test_needs_beta_tuned_means_beta_1_is_clearly_worse():
    """Old rule: any β worse than the best made it hold; here the best is the untuned β = 1."""
    rows = [row("gaussian_optimal_image", b, s, fid=u_shape(1.0, 100)(b) * noisy(s, 0.02))
            for b in (0.1, 1.0, 10.0) for s in SEEDS]
    assert judged(rows, "optimal_image_needs_beta")["verdict"] == "does not hold"


# ---- one row per run; values never dropped silently ----------------------------------------------------------------


def test_a_repeated_run_is_an_error_that_names_it():
    rows = sweep(BERN, u_shape(1.0, 100)) + sweep(CB, u_shape(3.0, 101))
    with pytest.raises(ValueError, match=r"mnist continuous_bernoulli β=3 seed 1"):
        claims.claims_frame(fake_summary(rows + [r for r in rows if r["likelihood"] == CB and r["seed"] == 1]))


def test_a_non_finite_value_is_named():
    rows = sweep(BERN, u_shape(1.0, 100)) + sweep(CB, u_shape(3.0, 101))
    rows[4] = dict(rows[4], fid=math.inf)
    got = judged(rows, "best_fid_similar")
    assert f"non-finite, left out: bernoulli β={rows[4]['beta']:g} seed {rows[4]['seed']} (fid)" in got["runs"]


# ---- FID verdicts survive the choice of FID network -----------------------------------------------------------------


def with_classifiers(rows, factors):
    """Copies of fid, fid_param, ... under classifiers c0, c1, ...: c_k multiplies CB's FIDs by factors[k]."""
    out = []
    for r in rows:
        r = dict(r)
        for k, f in enumerate(factors):
            for m in ("fid", "fid_param", "fid_recon", "fid_stretched", "fid_squeezed"):
                r[f"{m}_c{k}"] = r[m] * (f if r["likelihood"] == CB else 1.0)
        out.append(r)
    return out


def test_classifier_columns():
    frame = fake_summary(with_classifiers([row(CB, 1.0, 0)], [1.0, 1.0, 1.0]))
    assert classifier_columns(frame, "fid") == ["fid_c0", "fid_c1", "fid_c2"]
    assert classifier_columns(frame, "fid_stretched") == ["fid_stretched_c0", "fid_stretched_c1", "fid_stretched_c2"]
    assert classifier_columns(fake_summary([row(CB, 1.0, 0)]), "fid") == ["fid"]


def test_two_classifiers_that_disagree():
    rows = sweep(BERN, u_shape(1.0, 100)) + sweep(CB, u_shape(3.0, 101))
    agree = judged(with_classifiers(rows, [1.0, 1.02]), "best_fid_similar")
    assert agree["verdict"] == "holds" and agree["classifiers"] == "c0: holds; c1: holds"
    split = judged(with_classifiers(rows, [1.0, 1.5]), "best_fid_similar")
    assert split["verdict"] == "inconclusive"
    assert split["classifiers"] == "c0: holds; c1: does not hold"
    assert "classifier c0:" in split["numbers"] and "classifier c1:" in split["numbers"]  # the spread shown
    from reconloss.report import claims_table

    md = claims_table.markdown(claims.claims_frame(fake_summary(with_classifiers(rows, [1.0, 1.5]))))
    assert "**Under each FID classifier:** c0: holds; c1: does not hold" in md
    # c0 cannot tell whether CB's best is a little better, c1 says clearly not: no verdict from one network
    slightly = judged(with_classifiers(rows, [1.0, 1.5]), "cb_best_fid_slightly_better")
    assert slightly["classifiers"] == "c0: inconclusive; c1: does not hold"
    assert slightly["verdict"] == "inconclusive"


# ---- inconclusive verdicts say what would settle them ---------------------------------------------------------------


def test_follow_up_kinds():
    edge = judged(sweep(BERN, u_shape(1.0, 100)) + sweep(CB, u_shape(30.0, 101)), "best_fid_similar")
    assert edge["verdict"] == "inconclusive"
    assert json.loads(edge["follow_up"]) == {"kind": "edge", "label": CB, "beta": 10.0, "side": "above",
                                             "grid": list(SWEEP)}
    moving = sweep(BERN, u_shape(1.0, 100), loss_trend=-0.05) + sweep(CB, u_shape(3.0, 101))
    assert json.loads(judged(moving, "best_fid_similar")["follow_up"]) == {"kind": "unsettled", "label": BERN,
                                                                          "beta": 1.0}
    # two reasons at once (CB's best at the edge, Bernoulli still moving): both remedies, so that one round
    # can answer both, and the planner takes each
    both = judged(sweep(BERN, u_shape(1.0, 100), loss_trend=-0.05) + sweep(CB, u_shape(30.0, 101)),
                  "best_fid_similar")
    assert both["verdict"] == "inconclusive"
    assert json.loads(both["follow_up"]) == [
        {"kind": "unsettled", "label": BERN, "beta": 1.0},
        {"kind": "edge", "label": CB, "beta": 10.0, "side": "above", "grid": list(SWEEP)}]
    import pandas as pd

    from reconloss.plan import follow_up as planner
    row = {"dataset": "mnist", "claim": "best_fid_similar", "verdict": "inconclusive", "follow_up": both["follow_up"]}
    cells = {(lab, b): planner.Cell(3, 12) for lab in (BERN, CB) for b in SWEEP}
    needs = planner.plan_round(pd.DataFrame([row]), {"mnist": cells}).needs
    assert {(n["label"], tuple(n["betas"])) for n in needs} == {(CB, (33.0,))} | {(BERN, (b,)) for b in SWEEP}
    frame = claims.claims_frame(fake_summary(sweep(BERN, u_shape(1.0, 100)) + sweep(CB, u_shape(3.0, 101))))
    assert (frame.loc[frame["verdict"] != "inconclusive", "follow_up"] == "").all()
    kinds = {item["kind"] for f in frame["follow_up"] if f for item in planner.parse(f)}
    assert kinds <= {"edge", "neighbours", "straddles", "unsettled"}
    # one seed per β: more seeds settle it, and the follow-up says for which runs
    one_seed = judged(sweep(CB, u_shape(1.0, 100), seeds=(0,)) + sweep(BERN, u_shape(1.0, 100), seeds=(0,)),
                      "cb_over_sharpening")
    assert json.loads(one_seed["follow_up"]) == {"kind": "straddles", "comparison": "seed-to-seed spread",
                                                 "labels": [CB], "betas": list(SWEEP)}


def sharpness_rows(at_best, elsewhere, jitter=0.01):
    """Bernoulli best at β 1, CB at β 3; CB's E[x] gradient energy is `at_best` × Bernoulli's at CB's best β and
    `elsewhere` × at the other β; CB's λ images 2× Bernoulli's."""
    out = []
    for b in SWEEP:
        for s in SEEDS:
            out.append(row(BERN, b, s, fid=u_shape(1.0, 100)(b) * noisy(s, 0.02), sharpness_mean=0.03 * noisy(s, jitter),
                           sharpness_param=0.03 * noisy(s, jitter)))
            ratio = at_best if b == 3.0 else elsewhere
            out.append(row(CB, b, s, fid=u_shape(3.0, 100)(b) * noisy(s, 0.02),
                           sharpness_mean=0.03 * ratio * noisy(s, jitter), sharpness_param=0.06 * noisy(s, jitter)))
    return out


def test_sharpness_in_expected_values_at_each_ones_best_beta():
    """The post compares the images each likelihood gives at its best; at one nominal β the two sit at different
    trade-offs. Sharper at CB's best β only: an average over β (×0.9 at four β) would call the advantage gone."""
    got = judged(sharpness_rows(0.9, 0.9), "cb_mean_not_sharper")
    assert got["verdict"] == "holds"
    assert "CB λ image / Bernoulli ×2" in got["numbers"]  # what the parameter images showed, beside the verdict
    assert judged(sharpness_rows(1.6, 0.9), "cb_mean_not_sharper")["verdict"] == "does not hold"
    # ×1.6 at every other nominal β does not matter: those are not the images one would show
    assert judged(sharpness_rows(0.9, 1.6), "cb_mean_not_sharper")["verdict"] == "holds"
    assert judged(sharpness_rows(1.1, 1.1, jitter=0.1), "cb_mean_not_sharper")["verdict"] == "inconclusive"


# ---- an honest error rate over follow-up rounds: α split over the looks ---------------------------------------


def looked(rows, claim, looks):
    return claims.claims_frame(fake_summary(rows), only=[claim], looks=looks).set_index("claim").loc[claim]


def test_a_direction_decided_at_one_look_waits_at_three():
    """CB's best log FID 2.3 standard errors below Bernoulli's (s = 0.05 in every cell, 10 cells, df 20): the
    one-sided p lies between α/2/3 and α/2, so a 95 % interval excludes ×1 and a 98.3 % one does not."""
    from scipy.stats import t

    se, df = 0.05 * math.sqrt(2 / 3), 20
    p = t.sf(2.3, df)
    assert 0.05 / 2 / 3 < p < 0.05 / 2
    rows = sweep(BERN, u_shape(1.0, 100), jitter=0.05) + sweep(CB, u_shape(3.0, 100 * math.exp(-2.3 * se)),
                                                               jitter=0.05)
    assert looked(rows, "cb_best_fid_slightly_better", 1)["verdict"] == "holds"
    three = looked(rows, "cb_best_fid_slightly_better", 3)
    assert three["verdict"] == "inconclusive" and "3 looks" in three["rule"]


def test_an_equivalence_decided_at_one_look_waits_at_three():
    """Equal best FIDs, s = 0.05: the margin log 1.10 is 2.33 standard errors away, TOST p = 0.015, inside ±margin
    at 95 % but not at 98.3 %."""
    from scipy.stats import t

    se = 0.05 * math.sqrt(2 / 3)
    p = t.sf(FID_MARGIN / se, 20)
    assert 0.05 / 2 / 3 < p < 0.05 / 2
    rows = sweep(BERN, u_shape(1.0, 100), jitter=0.05) + sweep(CB, u_shape(3.0, 100), jitter=0.05)
    assert looked(rows, "best_fid_similar", 1)["verdict"] == "holds"
    assert looked(rows, "best_fid_similar", 3)["verdict"] == "inconclusive"


def test_an_event_decided_at_one_look_waits_at_three():
    """4 of 5 float32 runs diverged against 0 of 5: Fisher's one-sided p = C(5,4)/C(10,4) = 5/210 = 0.024, below
    0.05 but not below 0.05/3."""
    naive = "continuous_bernoulli_naive_noclamp"
    rows = [row(naive, 1.0, s, outcome="diverged" if s < 4 else "ok") for s in range(5)]
    rows += [row(CB, 1.0, s) for s in range(5)]
    assert looked(rows, "cb_float32_diverges", 1)["verdict"] == "holds"
    assert looked(rows, "cb_float32_diverges", 3)["verdict"] == "inconclusive"


def test_the_rule_states_the_split_and_bad_looks_are_refused():
    from reconloss.claims import evidence

    assert claims.VERDICT_RULE == evidence.verdict_rule(1) and "looked at" not in claims.VERDICT_RULE
    assert "divided by 3" in evidence.verdict_rule(3)
    frame = claims.claims_frame(fake_summary([row(CB, 1.0, 0)]), only=["cb_over_sharpening"], looks=3)
    assert frame.attrs["verdict_rule"] == evidence.verdict_rule(3)
    with evidence.looks(4):
        assert evidence.alpha() == pytest.approx(0.0125)
        assert holm([0.012]) == [True] and holm([0.013]) == [False]  # α 0.05 / 4 looks
        assert holm([0.006, 0.2]) == [True, False] and holm([0.007, 0.2]) == [False, False]  # and / 2 p-values
    assert evidence.alpha() == pytest.approx(0.05)  # the split ends with its context
    with pytest.raises(ValueError, match="looks"):
        claims.claims_frame(fake_summary([row(CB, 1.0, 0)]), looks=0)


def test_interval_p_values_need_a_spread():
    assert math.isnan(Interval(0.1, 0.0, 0.2).p_above())  # no standard error: no p, never rejected
