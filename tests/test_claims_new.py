"""The claims of choice, scores and sigma on fabricated summaries: every verdict each rule can give, and the
traps (opposite effects at different β, precise seeds with a small gap, classifiers that disagree, collapse
against divergence). Seed s's value is its cell's times exp(jitter · (s − 1)); runs are settled."""

import json
import math

import pytest

from fake_results import fake_summary, summary_row as row
from reconloss import claims
from reconloss.claims import choice, evidence, sigma
from reconloss.claims.claim import BETA_SWEEP

CB, BERN, BETA, TRUNC, MSE, IMAGE = (choice.CB, choice.BERNOULLI, choice.BETA, choice.TRUNC, choice.MSE,
                                     choice.IMAGE)
GRIDS = {CB: BETA_SWEEP, BERN: BETA_SWEEP, BETA: BETA_SWEEP, TRUNC: BETA_SWEEP, MSE: choice.MSE_SWEEP,
         IMAGE: choice.OPTIMAL_BETAS}
SEEDS = (0, 1, 2)


def verdict(rows, claim):
    frame = claims.claims_frame(fake_summary(rows), only=[claim]).set_index("claim")
    return frame.loc[claim, "verdict"]


def noisy(s, jitter):
    return math.exp(jitter * (s - 1))


def sweep(label, best_fid, best_beta=None, jitter=0.02, seeds=SEEDS, **extra):
    """FID over the label's grid, U-shaped around its middle β (or best_beta), best_fid at the bottom."""
    grid = GRIDS[label]
    best_beta = best_beta or grid[len(grid) // 2]
    rows = []
    for b in grid:
        fid = best_fid * 10 ** (0.4 * math.log10(b / best_beta) ** 2)
        for s in seeds:
            rows.append(row(label, b, s, fid=fid * noisy(s, jitter), **{k: v(b, s) if callable(v) else v
                                                                         for k, v in extra.items()}))
    return rows


# ---- the shared decisions ---------------------------------------------------------------------------------


def test_holm_and_two_sample_p_against_scipy():
    from scipy.stats import ttest_ind

    from reconloss.claims.evidence import Spread, Stat, difference

    assert evidence.holm([math.nan, 0.0]) == [False, True]
    assert evidence.holm([None, 0.0]) == [False, True]  # a missing p never rejects, but counts in the family
    rng = __import__("numpy").random.default_rng(3)
    a, b = rng.normal(0.5, 1, 5), rng.normal(0, 1, 4)
    t = difference(Stat(a), Stat(b), Spread.pooled([Stat(a), Stat(b)]))
    assert t.p_above(0) == pytest.approx(ttest_ind(a, b, alternative="greater").pvalue)
    assert t.p_below(0) == pytest.approx(ttest_ind(a, b, alternative="less").pvalue)


def test_per_beta_counts_and_never_averages():
    assert evidence.per_beta({0.1: (0.001, 0.9), 1.0: (0.001, 0.9)}).verdict == "holds"
    out = evidence.per_beta({0.1: (0.001, 0.9), 1.0: (0.9, 0.001)}).decision()
    assert out["verdict"] == "does not hold" and "1 of 2 β" in out["reason"] and "β 1" in out["reason"]
    assert evidence.per_beta({0.1: (0.001, 0.9), 1.0: (0.3, 0.3)}).verdict == "inconclusive"
    # (label, β) cells, and no cell at all
    cells = evidence.per_beta({("a", 0.1): (0.001, 0.9), ("b", 0.1): (0.9, 0.001)}).decision()
    assert cells["verdict"] == "does not hold" and "b β 0.1" in cells["reason"] and "of 2 (label, β)" in cells["reason"]
    assert evidence.per_beta({}).decision() == {"verdict": "inconclusive", "reason": "no β with a finished run"}


def test_classifier_columns_in_numeric_order():
    import pandas as pd

    df = pd.DataFrame({"fid": [1.0], "fid_c10": [1.0], "fid_c2": [1.0], "fid_c0": [1.0], "fid_recon_c0": [1.0]})
    assert evidence.classifier_columns(df, "fid") == ["fid_c0", "fid_c2", "fid_c10"]
    assert evidence.classifier_columns(df[["fid"]], "fid") == ["fid"]


# ---- choice ----------------------------------------------------------------------------------------------


def test_cb_best_fid_slightly_better_on_each_ones_own_grid():
    """fid.cb_best_fid_slightly_better on the choice claims' sweeps: every verdict, an edge, no CB runs."""
    claim = "cb_best_fid_slightly_better"
    assert verdict(sweep(BERN, 20) + sweep(CB, 16, 3.0), claim) == "holds"
    assert verdict(sweep(BERN, 20) + sweep(CB, 25, 3.0), claim) == "does not hold"
    assert verdict(sweep(BERN, 20) + sweep(CB, 20.1, 3.0), claim) == "inconclusive"
    assert verdict(sweep(BERN, 20) + sweep(CB, 16, 10.0), claim) == "inconclusive"  # at the edge
    assert verdict(sweep(BERN, 20), claim) == "not tested"


def test_a_fid_verdict_holds_only_under_every_classifier():
    rows = sweep(BERN, 20) + sweep(CB, 16, 3.0)
    for r in rows:  # classifier 0 is the unsuffixed fid; classifier 1 sees CB ×1.6 worse
        r["fid_c0"] = r["fid"]
        r["fid_c1"] = r["fid"] * (1.6 if r["likelihood"] == CB else 1.0)
    assert verdict(rows, "cb_best_fid_slightly_better") == "inconclusive"
    for r in rows:
        r["fid_c1"] = r["fid"] * 1.01
    assert verdict(rows, "cb_best_fid_slightly_better") == "holds"


def test_best_fids_similar_is_an_equivalence_against_a_stated_margin():
    """fid.best_fid_similar also judges 'the invalid Bernoulli works as well as CB' (the inventory)."""
    assert verdict(sweep(BERN, 20) + sweep(CB, 20, 3.0), "best_fid_similar") == "holds"
    assert verdict(sweep(BERN, 20) + sweep(CB, 30, 3.0), "best_fid_similar") == "does not hold"
    # a gap of ×1.10, the margin itself: the interval straddles it however precise the seeds
    assert verdict(sweep(BERN, 20) + sweep(CB, 22, 3.0), "best_fid_similar") == "inconclusive"
    entry = next(e for e in claims.INVENTORY if e.id == "bernoulli_as_good_as_cb")
    assert entry.claim == "best_fid_similar"


def test_cb_beats_beta_and_truncated():
    rows = lambda beta, trunc: sweep(CB, 20, 3.0) + sweep(BETA, beta) + sweep(TRUNC, trunc)
    assert verdict(rows(30, 30), "cb_beats_beta_and_truncated") == "holds"
    assert verdict(rows(30, 15), "cb_beats_beta_and_truncated") == "does not hold"
    assert verdict(rows(30, 20), "cb_beats_beta_and_truncated") == "inconclusive"
    assert verdict(sweep(CB, 20, 3.0), "cb_beats_beta_and_truncated") == "not tested"


def test_an_edge_holds_a_best_fid_verdict_back_only_where_more_beta_could_change_it():
    """A best β at its grid's edge can only get better with more β: CB clearly worse than a Beta whose best is
    at its edge stays worse (does not hold), CB clearly better than it may not (inconclusive, asking for the β
    past the edge), and CB at its own edge may still catch up."""
    edge = BETA_SWEEP[-1]
    frame = lambda rows: claims.claims_frame(fake_summary(rows), only=["cb_beats_beta_and_truncated"]).iloc[0]
    worse = frame(sweep(CB, 20, 3.0) + sweep(BETA, 10, edge) + sweep(TRUNC, 40))
    assert worse["verdict"] == "does not hold" and "whatever the open ends do" in worse["reason"]
    assert "beta's best β 10 is at the edge" in worse["reason"] and not worse["follow_up"]
    better = frame(sweep(CB, 20, 3.0) + sweep(BETA, 40, edge) + sweep(TRUNC, 40))
    assert better["verdict"] == "inconclusive" and json.loads(better["follow_up"])["kind"] == "edge"
    cb_edge = frame(sweep(CB, 20, BETA_SWEEP[0]) + sweep(BETA, 10) + sweep(TRUNC, 40))
    assert cb_edge["verdict"] == "inconclusive"
    # runs still moving may go either way: CB worse than a Beta still moving is not decided
    moving = [{**r, "loss_trend": 0.05} if r["likelihood"] == BETA else r
              for r in sweep(CB, 20, 3.0) + sweep(BETA, 10) + sweep(TRUNC, 40)]
    assert frame(moving)["verdict"] == "inconclusive"


def test_an_edge_keeps_no_single_best_inconclusive_since_a_lower_fid_could_tie_the_winner():
    """Squared error at its grid's edge, ×2 Bernoulli's FID: every other is clearly beaten (does not hold without
    the edge), but past the edge it could come within ×1.10 of Bernoulli (a tie: holds) before it overtook it.
    The shifts tried would step over that tie, so this judge keeps its edges inconclusive."""
    base = {BERN: 20, CB: 40, BETA: 40, TRUNC: 40, IMAGE: 40}
    rows = [r for lab, f in base.items() for r in sweep(lab, f)]
    assert verdict(rows + sweep(MSE, 40), "no_single_best_likelihood") == "does not hold"
    assert verdict(rows + sweep(MSE, 40, choice.MSE_SWEEP[-1]), "no_single_best_likelihood") == "inconclusive"


def test_decided_whatever_the_open_ends_tries_every_shift():
    """The robustness check against a judge whose verdict flips only at one shift of one label."""
    from reconloss.claims.choice import SHIFTS_EDGE, SHIFTS_MOVING, decided_whatever_the_open_ends
    from reconloss.claims.evidence import Spread, Stat

    found = {"a": (1.0, {1.0: Stat([0.0, 0.1])}), "b": (1.0, {1.0: Stat([0.0, 0.1])})}
    flip_at = lambda lab, d: (lambda f, s: ({"verdict": "holds" if abs(f[lab][1][1.0].mean - 0.05 - d) > 1e-9
                                             else "does not hold"}, ""))
    spread = Spread.pooled([found["a"][1][1.0]])
    for d in SHIFTS_EDGE:
        assert not decided_whatever_the_open_ends(found, spread, flip_at("a", d), {"a": SHIFTS_EDGE}, "holds")
    assert decided_whatever_the_open_ends(found, spread, flip_at("a", 5.0), {"a": SHIFTS_EDGE}, "holds")
    assert not decided_whatever_the_open_ends(found, spread, flip_at("b", 5.0), {"a": SHIFTS_EDGE, "b": SHIFTS_MOVING},
                                              "holds")


def field(best):
    """All six candidates at their own best FID."""
    return [r for lab, fid in best.items() for r in sweep(lab, fid)]


def test_no_single_best_likelihood():
    base = {BERN: 20, CB: 40, BETA: 40, TRUNC: 40, MSE: 40, IMAGE: 40}
    assert verdict(field({**base, CB: 20.2}), "no_single_best_likelihood") == "holds"
    assert verdict(field(base), "no_single_best_likelihood") == "does not hold"
    assert verdict(field({**base, CB: 22}), "no_single_best_likelihood") == "inconclusive"


def test_incorrect_losses_acceptable():
    base = {BERN: 21, MSE: 21, CB: 20, BETA: 30, TRUNC: 30, IMAGE: 30}
    assert verdict(field(base), "incorrect_losses_acceptable") == "holds"
    assert verdict(field({**base, MSE: 40}), "incorrect_losses_acceptable") == "does not hold"
    assert verdict(field({**base, MSE: 25}), "incorrect_losses_acceptable") == "inconclusive"


def test_optimal_image_good():
    base = {BERN: 20, CB: 22, BETA: 30, TRUNC: 30, MSE: 25, IMAGE: 21}
    assert verdict(field(base), "optimal_image_good") == "holds"
    assert verdict(field({**base, IMAGE: 40}), "optimal_image_good") == "does not hold"
    assert verdict(field({**base, IMAGE: 25}), "optimal_image_good") == "inconclusive"


def kl_rows(cb_kl_of_beta, jitter=0.02):
    return ([row(BERN, b, s, kl=20 * noisy(s, jitter)) for b in BETA_SWEEP for s in SEEDS]
            + [row(CB, b, s, kl=cb_kl_of_beta(b) * noisy(s, jitter)) for b in BETA_SWEEP for s in SEEDS])


def test_cb_kl_larger_is_decided_per_beta():
    assert verdict(kl_rows(lambda b: 30), "cb_kl_larger_at_same_beta") == "holds"
    # ×3 at one β cannot outweigh ×0.9 at four: the opposite is clear there
    assert verdict(kl_rows(lambda b: 60 if b == 1.0 else 18), "cb_kl_larger_at_same_beta") == "does not hold"
    assert verdict(kl_rows(lambda b: 20), "cb_kl_larger_at_same_beta") == "inconclusive"
    # a β whose CB runs all diverged is undecided, not dropped: "holds at 4 of 5" is inconclusive
    gone = [r if not (r["likelihood"] == CB and r["beta"] == 10.0) else row(CB, 10.0, r["seed"], outcome="diverged")
            for r in kl_rows(lambda b: 30)]
    frame = claims.claims_frame(fake_summary(gone), only=["cb_kl_larger_at_same_beta"]).iloc[0]
    assert frame["verdict"] == "inconclusive" and "4 of 5 β" in frame["reason"]
    # a β only CB ran (a follow-up between two of its neighbours) is not compared, and named
    between = kl_rows(lambda b: 30) + [row(CB, 1.7, s, kl=30 * noisy(s, 0.02)) for s in SEEDS]
    frame = claims.claims_frame(fake_summary(between), only=["cb_kl_larger_at_same_beta"]).iloc[0]
    assert frame["verdict"] == "holds" and "5 of 5 β" in frame["reason"]
    assert "not compared (one of the two has no run there): β 1.7" in frame["numbers"]


# ---- scores ----------------------------------------------------------------------------------------------


def score_rows(cb_change_of_beta, jitter=0.01, suffix=""):
    out = []
    for lab, how in ((CB, "stretched"), (BERN, "squeezed")):
        for b in (0.3, 1.0, 3.0):
            for s in SEEDS:
                change = cb_change_of_beta(b) if lab == CB else 1.0
                out.append(row(lab, b, s, **{f"classifier_score{suffix}": 8.0,
                                             f"classifier_score_{how}{suffix}": 8.0 * change * noisy(s, jitter)}))
    return out


def test_score_blind_to_desaturation():
    assert verdict(score_rows(lambda b: 1.0), "score_blind_to_desaturation") == "holds"
    assert verdict(score_rows(lambda b: 1.5 if b == 3.0 else 1.0), "score_blind_to_desaturation") == "does not hold"
    assert verdict(score_rows(lambda b: 1.1, jitter=0.03), "score_blind_to_desaturation") == "inconclusive"
    assert verdict([row(CB, 1.0, 0), row(BERN, 1.0, 0)], "score_blind_to_desaturation") == "not tested"
    # two classifiers: the second sees the stretch
    rows = score_rows(lambda b: 1.0)
    for r, r1 in zip(rows, score_rows(lambda b: 1.5, suffix="_c1")):
        r.update({"classifier_score_c0": r["classifier_score"], **{k: v for k, v in r1.items() if "_c1" in k}})
        for how in ("stretched", "squeezed"):
            if f"classifier_score_{how}" in r:
                r[f"classifier_score_{how}_c0"] = r[f"classifier_score_{how}"]
    assert verdict(rows, "score_blind_to_desaturation") == "inconclusive"


def sharp_rows(cb_ratio, jitter=0.02, cb_best=3.0):
    """Bernoulli best at β 1, CB at cb_best; CB's E[x] sharpness at its own best β is cb_ratio × Bernoulli's at
    its own; elsewhere CB is 2× sharper (a comparison at one nominal β would be misled)."""
    def sharp(lab, b):
        if lab == BERN:
            return 0.03
        return 0.03 * cb_ratio if b == cb_best else 0.06
    return [r for lab, best, fid in ((BERN, 1.0, 20), (CB, cb_best, 20)) for r in
            sweep(lab, fid, best, sharpness_mean=lambda b, s, lab=lab: sharp(lab, b) * noisy(s, jitter))]


def test_cb_mean_not_sharper_compares_each_at_its_own_best_beta():
    assert verdict(sharp_rows(0.9), "cb_mean_not_sharper") == "holds"
    assert verdict(sharp_rows(1.6), "cb_mean_not_sharper") == "does not hold"
    assert verdict(sharp_rows(1.1), "cb_mean_not_sharper") == "inconclusive"
    assert verdict(sharp_rows(0.9, cb_best=10.0), "cb_mean_not_sharper") == "inconclusive"  # best at the edge


# ---- sigma -----------------------------------------------------------------------------------------------


def cells(labels, jitter=0.02, betas=(0.1, 1.0), outcome=lambda lab, b, s: "ok", **columns):
    """Runs of labels at betas with columns given as value(label, β) × seed noise (of opposite sign in the
    second column, so that a ratio of two columns keeps its noise)."""
    return [row(lab, b, s, outcome=outcome(lab, b, s),
                **{c: f(lab, b) * noisy(s, jitter if i == 0 else -jitter) for i, (c, f) in enumerate(columns.items())})
            for lab in labels for b in betas for s in SEEDS]


def test_gaussian_mass_outside():
    labels = (sigma.LEARNED, MSE)
    assert verdict(cells(labels, mass_outside=lambda lab, b: 0.2), "gaussian_mass_outside") == "holds"
    low = cells(labels, mass_outside=lambda lab, b: 0.001 if lab == MSE and b == 1.0 else 0.2)
    assert verdict(low, "gaussian_mass_outside") == "does not hold"
    assert verdict(cells(labels, mass_outside=lambda lab, b: 0.0101), "gaussian_mass_outside") == "inconclusive"


def test_sigma_lower_on_black_pixels():
    labels = (sigma.LEARNED_PIXEL, sigma.PREDICTED_PIXEL)
    rows = lambda black: cells(labels, sigma_always_black=black, sigma_other=lambda lab, b: 0.2)
    assert verdict(rows(lambda lab, b: 0.02), "sigma_lower_on_black_pixels") == "holds"
    assert verdict(rows(lambda lab, b: 0.5 if b == 1.0 else 0.02), "sigma_lower_on_black_pixels") == "does not hold"
    assert verdict(rows(lambda lab, b: 0.201), "sigma_lower_on_black_pixels") == "inconclusive"
    # a σ still moving is a level not yet reached: inconclusive, asking for more epochs of the first such label
    moving = [{**r, "sigma_trend": 0.05 if r["likelihood"] == sigma.PREDICTED_PIXEL else 0.0}
              for r in rows(lambda lab, b: 0.02)]
    frame = claims.claims_frame(fake_summary(moving), only=["sigma_lower_on_black_pixels"]).iloc[0]
    assert frame["verdict"] == "inconclusive" and "still moving" in frame["reason"]
    assert json.loads(frame["follow_up"]) == {"kind": "unsettled", "label": sigma.PREDICTED_PIXEL, "beta": 0.1}
    assert verdict(cells(labels), "sigma_lower_on_black_pixels") == "not tested"  # no σ metrics in the summary


def test_sigma_lower_on_black_pixels_is_not_tested_where_no_pixel_is_always_black():
    """FashionMNIST: σ is measured (sigma_other) but no pixel is 0 in every training image, so
    sigma_always_black is empty; the claim is not tested and asks for no runs, even with σ still moving."""
    labels = (sigma.LEARNED_PIXEL, sigma.PREDICTED_PIXEL)
    rows = [{**r, "sigma_always_black": None, "sigma_trend": 0.05}
            for r in cells(labels, sigma_always_black=lambda lab, b: 0.02, sigma_other=lambda lab, b: 0.2)]
    frame = claims.claims_frame(fake_summary(rows), only=["sigma_lower_on_black_pixels"]).iloc[0]
    assert frame["verdict"] == "not tested" and "0 in every training image" in frame["reason"]
    assert not frame["follow_up"]
    one = rows[:1] + [{**r, "sigma_always_black": 0.02} for r in rows[1:]]  # one run has the pixels: judged
    assert verdict(one, "sigma_lower_on_black_pixels") != "not tested"


def test_some_images_easier():
    rows = lambda p90: cells((sigma.PREDICTED_IMAGE,), sigma_image_p10=lambda lab, b: 0.05, sigma_image_p90=p90)
    assert verdict(rows(lambda lab, b: 0.15), "some_images_easier") == "holds"
    assert verdict(rows(lambda lab, b: 0.055 if b == 0.1 else 0.15), "some_images_easier") == "does not hold"
    assert verdict(rows(lambda lab, b: 0.075), "some_images_easier") == "inconclusive"


def test_sigma_07_too_large():
    rows = lambda s: cells((sigma.LEARNED,), sigma_mean=s)
    assert verdict(rows(lambda lab, b: 0.1), "sigma_07_too_large") == "holds"
    moving = [{**r, "sigma_trend": 0.05} for r in rows(lambda lab, b: 0.1)]  # σ still moving: not yet a level
    assert verdict(moving, "sigma_07_too_large") == "inconclusive"
    assert verdict(rows(lambda lab, b: 0.6 if b == 1.0 else 0.1), "sigma_07_too_large") == "does not hold"
    assert verdict(rows(lambda lab, b: 0.2357), "sigma_07_too_large") == "inconclusive"


def test_data_sigma_trains_collapse_is_not_divergence():
    lab = sigma.DATA_PIXEL
    assert verdict(cells((lab,)), "data_sigma_trains") == "holds"
    broke = lambda kind: (lambda label, b, s: kind if (b, s) == (1.0, 2) else "ok")
    assert verdict(cells((lab,), outcome=broke("diverged")), "data_sigma_trains") == "does not hold"
    assert verdict(cells((lab,), outcome=broke("collapsed")), "data_sigma_trains") == "inconclusive"


def test_predicted_sigma_trains():
    labels = (sigma.PREDICTED_PIXEL, sigma.PREDICTED_IMAGE)
    assert verdict(cells(labels, sigma_mean=lambda lab, b: 0.1), "predicted_sigma_trains") == "holds"
    diverged = lambda lab, b, s: "diverged" if (lab, b, s) == (labels[1], 0.1, 0) else "ok"
    assert verdict(cells(labels, outcome=diverged, sigma_mean=lambda lab, b: 0.1), "predicted_sigma_trains") \
        == "does not hold"
    assert verdict(cells(labels, sigma_mean=lambda lab, b: 0.68), "predicted_sigma_trains") == "does not hold"
    assert verdict(cells(labels, sigma_mean=lambda lab, b: 0.35), "predicted_sigma_trains") == "inconclusive"


def test_a_need_states_the_seeds_its_rule_counts_on():
    need = next(c for c in claims.CLAIMS if c.id == "data_sigma_trains").needs[0]
    assert need.seeds == sigma.MIN_RUNS and need.text().endswith(f"at least {sigma.MIN_RUNS} seeds")
    assert "seeds" not in next(c for c in claims.CLAIMS if c.id == "cb_best_fid_slightly_better").needs[0].text()


def test_new_needs_name_labels_the_planner_can_resolve():
    import json
    from pathlib import Path

    from reconloss.claims.claim import spec_of

    known = set(json.loads((Path(choice.__file__).parents[1] / "likelihoods" / "options.json").read_text())
                ["likelihoods"])
    for claim in claims.CLAIMS:
        for need in claim.needs:
            assert spec_of(need.label)["likelihood"] in known, (claim.id, need.label)
