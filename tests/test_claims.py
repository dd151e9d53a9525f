"""Claims and their verdicts on fabricated summaries whose verdicts are known by construction."""

import math

import pandas as pd
import pytest

from fake_results import fake_summary, summary_row as row
from reconloss import claims

CB, BERN = "continuous_bernoulli", "bernoulli"


def verdict(rows, claim, specs=None):
    frame = claims.claims_frame(fake_summary(rows), specs)
    return frame.set_index("claim").loc[claim, "verdict"]


def cb_levels(seeds, black_gap, white_gap, jitter=0.0):
    """CB runs whose E[x] is `black_gap` above λ's black level and `white_gap` below its white level."""
    return [row(CB, b, s, black_level=0.02 + black_gap + jitter * s, param_black_level=0.02,
                white_level=0.98 - white_gap - jitter * s, param_white_level=0.98)
            for b in (0.1, 1.0) for s in seeds]


# ---- the evidence rule ------------------------------------------------------------------------------


def test_clear_needs_two_standard_errors_with_seeds_and_overwhelming_with_one():
    assert claims.clear(claims.Stat([1.0, 1.1]), claims.Stat([0.0, 0.1])) == 1
    assert claims.clear(claims.Stat([0.0, 0.1]), claims.Stat([1.0, 1.1])) == -1
    assert claims.clear(claims.Stat([0.0, 1.0]), claims.Stat([0.4, 0.6])) == 0  # within the spread
    assert claims.clear(claims.Stat([0.3]), claims.Stat([0.25]), 0.1) == 0  # one seed, small gap
    assert claims.clear(claims.Stat([0.5]), claims.Stat([0.25]), 0.1) == 1  # one seed, overwhelming gap
    assert claims.clear(claims.Stat([]), claims.Stat([1.0])) is None
    assert claims.Stat([1.0, 3.0]).text() == "2 ± 1.4 (n=2)"


def test_similarity_never_holds_with_one_seed_or_a_wide_spread():
    tol = math.log(1.15)
    assert claims.within(claims.Stat([1.0, 1.01]), claims.Stat([1.0, 1.02]), tol, math.log(2)) is True
    assert claims.within(claims.Stat([1.0]), claims.Stat([1.0]), tol, math.log(2)) is None
    assert claims.within(claims.Stat([0.5, 1.5]), claims.Stat([1.0, 1.0]), tol, math.log(2)) is None
    assert claims.within(claims.Stat([2.0, 2.01]), claims.Stat([1.0, 1.01]), tol, math.log(2)) is False


# ---- each verdict from several claims ----------------------------------------------------------------


def test_cb_parameter_against_expected_value_all_verdicts():
    assert verdict(cb_levels([0, 1, 2], 0.15, 0.1, jitter=0.01), "cb_param_vs_mean") == "holds"
    assert verdict(cb_levels([0, 1, 2], -0.15, 0.1, jitter=0.01), "cb_param_vs_mean") == "does not hold"
    assert verdict(cb_levels([0], 0.05, 0.05), "cb_param_vs_mean") == "inconclusive"  # 1 seed, not overwhelming
    assert verdict(cb_levels([0], 0.2, 0.2), "cb_param_vs_mean") == "holds"  # 1 seed, overwhelming
    assert verdict([row(BERN, 1.0, 0)], "cb_param_vs_mean") == "not tested"


def test_collapsed_and_diverged_runs_are_left_out_of_levels_but_counted():
    rows = cb_levels([0, 1], 0.15, 0.1, jitter=0.01) + [
        row(CB, 3.0, 0, outcome="diverged"), row(CB, 3.0, 1, outcome="collapsed", black_level=0.0,
                                                param_black_level=0.9)]
    frame = claims.claims_frame(fake_summary(rows)).set_index("claim")
    assert frame.loc["cb_param_vs_mean", "verdict"] == "holds"
    assert "6 runs (4 ok, 1 collapsed, 1 diverged)" in frame.loc["cb_param_vs_mean", "runs"]


def dynamic_range_rows(cb_black, seeds=(0, 1), spread=0.01):
    rows = []
    for s in seeds:
        for b in (0.1, 1.0):
            rows.append(row(CB, b, s, black_level=cb_black + spread * s, white_level=1 - cb_black - spread * s))
            rows.append(row(BERN, b, s, black_level=0.05 + spread * s, white_level=0.95 - spread * s))
            rows.append(row("gaussian_fixed", b, s, black_level=0.04 + spread * s, white_level=0.96 - spread * s))
    return rows


def test_cb_dynamic_range_all_verdicts():
    assert verdict(dynamic_range_rows(0.2), "cb_dynamic_range") == "holds"
    assert verdict(dynamic_range_rows(0.0), "cb_dynamic_range") == "does not hold"
    assert verdict(dynamic_range_rows(0.07, seeds=(0,)), "cb_dynamic_range") == "inconclusive"
    assert verdict([r for r in dynamic_range_rows(0.2) if r["likelihood"] == CB], "cb_dynamic_range") == "not tested"


def fid_rows(bern, cb, seeds=(0, 1), jitter=0.01):
    """FIDs per β: bern/cb map β -> FID; seed s multiplies by (1 + jitter·s)."""
    return ([row(BERN, b, s, fid=f * (1 + jitter * s)) for b, f in bern.items() for s in seeds]
            + [row(CB, b, s, fid=f * (1 + jitter * s)) for b, f in cb.items() for s in seeds])


def test_best_fid_and_its_beta():
    bern = {0.1: 10.0, 1.0: 30.0, 10.0: 80.0}
    assert verdict(fid_rows(bern, {0.1: 40.0, 1.0: 10.5, 10.0: 50.0}), "best_fid") == "holds"
    # similar FID but CB's best β is the same as Bernoulli's, clearly: larger β are clearly worse
    assert verdict(fid_rows(bern, {0.1: 10.5, 1.0: 40.0, 10.0: 90.0}), "best_fid") == "does not hold"
    # CB's best FID is twice Bernoulli's
    assert verdict(fid_rows(bern, {0.1: 40.0, 1.0: 20.0, 10.0: 50.0}), "best_fid") == "does not hold"
    assert verdict(fid_rows(bern, {0.1: 40.0, 1.0: 10.5, 10.0: 50.0}, seeds=(0,)), "best_fid") == "inconclusive"
    assert verdict(fid_rows(bern, {}), "best_fid") == "not tested"


def test_robustness_to_beta_counts_diverged_runs_against_it():
    bern = {0.1: 10.0, 1.0: 30.0, 10.0: 80.0}
    assert verdict(fid_rows(bern, {0.1: 12.0, 1.0: 11.0, 10.0: 14.0}), "robustness_to_beta") == "holds"
    assert verdict(fid_rows(bern, {0.1: 12.0, 1.0: 11.0, 10.0: 900.0}), "robustness_to_beta") == "does not hold"
    # CB is flat on its finished runs, but diverges at β=10: there it takes twice the worst finished FID
    flat = {0.1: 10.0, 1.0: 12.0, 10.0: 14.0}
    assert verdict(fid_rows(flat, {0.1: 12.0, 1.0: 11.0, 10.0: 11.5}), "robustness_to_beta") == "holds"
    rows = fid_rows(flat, {0.1: 12.0, 1.0: 11.0}) + [row(CB, 10.0, s, outcome="diverged") for s in (0, 1)]
    assert verdict(rows, "robustness_to_beta") == "does not hold"
    assert verdict(fid_rows(bern, {0.1: 12.0, 1.0: 11.0, 10.0: 14.0}, seeds=(0,)), "robustness_to_beta") == "holds"
    assert verdict(fid_rows(bern, {0.1: 10.0, 1.0: 25.0, 10.0: 50.0}, seeds=(0,)), "robustness_to_beta") \
        == "inconclusive"


def test_fid_does_not_see_desaturation():
    bern = {0.1: 10.0, 1.0: 30.0}
    rows = fid_rows(bern, {0.1: 30.0, 1.0: 10.2})
    for r in rows:
        if r["likelihood"] == CB:
            r.update(black_level=0.2 + 0.01 * r["seed"], white_level=0.8)
    assert verdict(rows, "fid_vs_desaturation") == "holds"
    assert verdict(fid_rows(bern, {0.1: 30.0, 1.0: 10.2}), "fid_vs_desaturation") == "inconclusive"  # same range
    assert verdict(fid_rows(bern, {0.1: 30.0, 1.0: 25.0}), "fid_vs_desaturation") == "does not hold"


SPECS = {"gaussian_fixed": {"likelihood": "gaussian_fixed", "options": {}},
         "gaussian_fixed_sigma1": {"likelihood": "gaussian_fixed", "options": {"sigma": 1.0}},
         "gaussian_fixed_range255": {"likelihood": "gaussian_fixed", "options": {"mean_activation": "identity"},
                                     "train": {"data_range": 255.0}}}


def sigma_rows(fid_variant, fid_reference, variant_betas=(0.5,), outcome="ok"):
    rows = [row("gaussian_fixed_sigma1", b, s, fid=fid_variant * (1 + 0.01 * s), likelihood_name="gaussian_fixed",
                outcome=outcome) for b in variant_betas for s in (0, 1)]
    rows += [row("gaussian_fixed", b, s, fid=fid_reference * (1 + 0.01 * s)) for b in (1.0, 0.1) for s in (0, 1)]
    rows += [row("gaussian_fixed_range255", 1.0, s, fid=500.0, likelihood_name="gaussian_fixed") for s in (0, 1)]
    return rows


def test_fixed_sigma_pairs_with_beta_times_two_sigma_squared():
    # σ = 1 at β = 0.5 pairs with √0.5 at β = 1, never with the range-255 variant (other options)
    assert verdict(sigma_rows(20.0, 20.2), "fixed_sigma_is_beta", SPECS) == "holds"
    assert verdict(sigma_rows(40.0, 20.2), "fixed_sigma_is_beta", SPECS) == "does not hold"
    assert verdict(sigma_rows(20.0, 20.2, outcome="diverged"), "fixed_sigma_is_beta", SPECS) == "does not hold"
    frame = claims.claims_frame(fake_summary(sigma_rows(20.0, 20.2, variant_betas=(2.0,))), SPECS)
    got = frame.set_index("claim").loc["fixed_sigma_is_beta"]
    assert got["verdict"] == "not tested" and "gaussian_fixed at β=4" in got["reason"]
    assert verdict([row("gaussian_fixed", 1.0, 0)], "fixed_sigma_is_beta", SPECS) == "not tested"


def optimal_rows(pixel_outcomes, image_outcome="ok", seeds=(0, 1), pixel_fid=100.0):
    rows = []
    for b, outcome in pixel_outcomes.items():
        for s in seeds:
            rows.append(row("gaussian_optimal_pixel", b, s, outcome=outcome, fid=pixel_fid))
            rows.append(row("gaussian_optimal_image", b, s, outcome=image_outcome, fid=20.0))
    return rows


def test_optimal_sigma_per_pixel_against_per_image():
    assert verdict(optimal_rows({0.1: "diverged", 1.0: "collapsed"}), "optimal_sigma_pixel_vs_image") == "holds"
    # at β = 1 the per-pixel σ trains and its FID is not far worse: unstable "at every β" fails
    assert verdict(optimal_rows({0.1: "diverged", 1.0: "ok"}, pixel_fid=25.0),
                   "optimal_sigma_pixel_vs_image") == "does not hold"
    assert verdict(optimal_rows({0.1: "diverged"}, image_outcome="diverged"),
                   "optimal_sigma_pixel_vs_image") == "does not hold"
    # far-worse FID alone with one seed is a comparison, not an event: inconclusive
    assert verdict(optimal_rows({0.1: "ok"}, seeds=(0,)), "optimal_sigma_pixel_vs_image") == "inconclusive"
    assert verdict(optimal_rows({0.1: "ok"}), "optimal_sigma_pixel_vs_image") == "holds"  # 2 seeds, FID 5x worse
    assert verdict(optimal_rows({0.1: "diverged"}, seeds=(0,)), "optimal_sigma_pixel_vs_image") == "holds"


def sigma_learned(ratio, seeds=(0, 1), jitter=0.01):
    return [row("gaussian_learned_global", b, s, sigma_mean=0.1 * ratio * (1 + jitter * s), rmse=0.1)
            for b in (0.1, 1.0) for s in seeds]


def test_learned_sigma_tracks_the_error():
    assert verdict(sigma_learned(1.02), "learned_sigma_tracks_error") == "holds"
    assert verdict(sigma_learned(0.5), "learned_sigma_tracks_error") == "does not hold"
    assert verdict(sigma_learned(1.02, seeds=(0,)), "learned_sigma_tracks_error") == "inconclusive"
    assert verdict(sigma_learned(3.0, seeds=(0,)), "learned_sigma_tracks_error") == "does not hold"
    assert verdict(sigma_learned(1.2, jitter=0.5), "learned_sigma_tracks_error") == "inconclusive"
    assert verdict([row(BERN, 1.0, 0)], "learned_sigma_tracks_error") == "not tested"


def winner_rows(fids, seeds=(0, 1)):
    return [row(lab, b, s, fid=f * (1 + 0.01 * s)) for lab, per in fids.items() for b, f in per.items()
            for s in seeds]


def test_no_single_winner():
    assert verdict(winner_rows({BERN: {0.1: 10.0, 1.0: 40.0}, CB: {0.1: 30.0, 1.0: 12.0}}),
                   "no_single_winner") == "holds"
    assert verdict(winner_rows({BERN: {0.1: 10.0, 1.0: 12.0}, CB: {0.1: 30.0, 1.0: 40.0}}),
                   "no_single_winner") == "does not hold"
    assert verdict(winner_rows({BERN: {0.1: 10.0, 1.0: 12.0}, CB: {0.1: 10.1, 1.0: 11.9}}),
                   "no_single_winner") == "inconclusive"
    assert verdict(winner_rows({BERN: {0.1: 10.0, 1.0: 12.0}}), "no_single_winner") == "not tested"
    # a variant is not a likelihood of its own here
    rows = winner_rows({BERN: {0.1: 10.0, 1.0: 12.0}, CB: {0.1: 30.0, 1.0: 40.0}})
    rows += [row("bernoulli_wide", b, s, fid=1.0, likelihood_name=BERN) for b in (0.1, 1.0) for s in (0, 1)]
    assert verdict(rows, "no_single_winner") == "does not hold"


# ---- the table -------------------------------------------------------------------------------------------


def test_one_row_per_claim_and_dataset_and_files_written(tmp_path):
    rows = dynamic_range_rows(0.2) + [dict(r, dataset="fashion_mnist") for r in dynamic_range_rows(0.0)]
    summary = tmp_path / "summary.csv"
    fake_summary(rows).to_csv(summary, index=False)
    claims.main(["--summary", str(summary), "--out-dir", str(tmp_path / "out")])
    frame = pd.read_csv(tmp_path / "out" / "claims.csv")
    assert len(frame) == 2 * len(claims.CLAIMS)
    assert list(frame.columns) == claims.COLUMNS
    assert set(frame["verdict"]) <= set(claims.VERDICTS)
    by = frame.set_index(["dataset", "claim"])["verdict"]
    assert by["mnist", "cb_dynamic_range"] == "holds" and by["fashion_mnist", "cb_dynamic_range"] == "does not hold"
    md = (tmp_path / "out" / "claims.md").read_text()
    assert "| dataset" in md and "not tested" in md and "2 standard errors" in md
    assert "<table>" in (tmp_path / "out" / "claims.html").read_text()


@pytest.mark.parametrize("claim_id", [c[0] for c in claims.CLAIMS])
def test_every_claim_is_not_tested_on_an_empty_grid_of_its_runs(claim_id):
    rows = [row("gaussian_data_pixel", 1.0, 0)]
    assert verdict(rows, claim_id) == "not tested"
