"""reconloss.claims.colour on fabricated summaries: each verdict, the traps, Holm, and where the runs are planned."""

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from reconloss import claims
from reconloss.claims import colour, evidence
from reconloss.plan import runs as plan_runs

SEEDS = (0, 1, 2)
# per-seed deviations with mean 0: sample sd 0.001 (scaled by `noise`)
JITTER = (-0.001, 0.0, 0.001)
BASE = {  # one run's colour metrics by label (before jitter)
    "continuous_bernoulli": {"colour_param_extreme": 0.30, "colour_mean_extreme": 0.01, "colour_mean_w1": 0.050,
                             "colour_param_w1": 0.12, "colour_bw_param_white": 0.99, "colour_bw_param_black": 0.005,
                             "colour_bw_mean_white": 0.80, "colour_bw_mean_black": 0.15},
    "bernoulli": {"colour_param_extreme": 0.05, "colour_mean_extreme": 0.05, "colour_mean_w1": 0.045,
                  "colour_param_w1": 0.045, "colour_bw_param_white": 0.90, "colour_bw_param_black": 0.08,
                  "colour_bw_mean_white": 0.90, "colour_bw_mean_black": 0.08},
    "gaussian_fixed": {"colour_param_extreme": 0.02, "colour_mean_extreme": 0.02, "colour_mean_w1": 0.080,
                       "colour_param_w1": 0.080, "colour_bw_param_white": 0.85, "colour_bw_param_black": 0.12,
                       "colour_bw_mean_white": 0.85, "colour_bw_mean_black": 0.12},
}
DATA = {"colour_data_extreme": 0.10, "colour_bw_images": 20, "colour_bw_data_white": 0.95,
        "colour_bw_data_black": 0.04}


def summary(changes=None, betas=(1.0, 3.0), noise=1.0, labels=tuple(BASE)):
    """Rows of a fabricated summary; changes[(label, β)] = {column: value} overrides a cell before jitter."""
    rows = []
    for label in labels:
        for beta in betas:
            cell = {**BASE[label], **(changes or {}).get((label, beta), {})}
            for seed, j in zip(SEEDS, JITTER):
                row = {"dataset": "photo_patches", "likelihood": label, "likelihood_name": label, "beta": beta,
                       "seed": seed, "status": "ok", "outcome": "ok", "epochs": 12, "loss_trend": 0.002, **DATA}
                row.update({k: v + noise * j for k, v in cell.items()})
                rows.append(row)
    return pd.DataFrame(rows)


def judge(test, df):
    out = test(df, {})
    assert out["verdict"] in claims.VERDICTS
    return out


@pytest.mark.parametrize("test", [colour.lambda_oversaturated, colour.black_white_elements])
def test_clear_evidence_holds_at_every_beta(test):
    out = judge(test, summary())
    assert out["verdict"] == "holds", out
    assert out["numbers"].startswith("2 of 2 β")


def test_lambda_share_below_the_data_at_one_beta_does_not_hold():
    out = judge(colour.lambda_oversaturated, summary({("continuous_bernoulli", 3.0): {"colour_param_extreme": 0.05}}))
    assert out["verdict"] == "does not hold" and "λ share > data share at β 3" in out["reason"]
    assert out["numbers"].startswith("1 of 2 β")


def test_opposite_effects_over_beta_are_not_averaged_away():
    """CB's E[x] far worse than Bernoulli's at β 1 and far better at β 3: the mean over β would pass."""
    df = summary({("continuous_bernoulli", 1.0): {"colour_mean_w1": 0.110},
                  ("continuous_bernoulli", 3.0): {"colour_mean_w1": 0.010}})
    out = judge(colour.lambda_oversaturated, df)
    assert out["verdict"] == "does not hold" and "at β 1" in out["reason"] and "β 3" not in out["reason"]


def test_precise_seeds_with_a_small_gap_stay_within_the_margin():
    """CB's E[x] 0.015 further from the data than Bernoulli's, measured very precisely: still "fine"."""
    df = summary({("continuous_bernoulli", b): {"colour_mean_w1": 0.060} for b in (1.0, 3.0)}, noise=0.01)
    assert judge(colour.lambda_oversaturated, df)["verdict"] == "holds"
    df = summary({("continuous_bernoulli", b): {"colour_mean_w1": 0.080} for b in (1.0, 3.0)}, noise=0.01)
    out = judge(colour.lambda_oversaturated, df)
    assert out["verdict"] == "does not hold" and "bernoulli" in out["reason"]


def test_noisy_seeds_are_inconclusive():
    df = summary({("continuous_bernoulli", b): {"colour_mean_w1": 0.060} for b in (1.0, 3.0)}, noise=20)
    out = judge(colour.lambda_oversaturated, df)
    assert out["verdict"] == "inconclusive" and "not clear" in out["reason"]


def test_one_seed_per_cell_has_no_spread():
    df = summary()
    out = judge(colour.lambda_oversaturated, df[df["seed"] == 0])
    assert out["verdict"] == "inconclusive" and "no seed-to-seed spread" in out["reason"]


def test_bw_expected_value_brighter_than_a_comparator_does_not_hold():
    df = summary({("continuous_bernoulli", 1.0): {"colour_bw_mean_white": 0.88}})
    out = judge(colour.black_white_elements, df)
    assert out["verdict"] == "does not hold" and "gaussian_fixed's on white at β 1" in out["reason"]


def test_bw_lambda_not_overblown_is_inconclusive_or_worse():
    df = summary({("continuous_bernoulli", b): {"colour_bw_param_white": 0.95} for b in (1.0, 3.0)}, noise=5)
    assert judge(colour.black_white_elements, df)["verdict"] == "inconclusive"
    df = summary({("continuous_bernoulli", 3.0): {"colour_bw_param_white": 0.90}})
    assert judge(colour.black_white_elements, df)["verdict"] == "does not hold"


def test_no_black_and_white_test_image_is_inconclusive():
    df = summary()
    df["colour_bw_images"] = 0
    out = judge(colour.black_white_elements, df)
    assert out["verdict"] == "inconclusive" and "black-and-white" in out["reason"]


@pytest.mark.parametrize("test", [colour.lambda_oversaturated, colour.black_white_elements])
def test_grey_data_and_missing_comparators_are_not_tested(test):
    grey = summary().drop(columns=[c for c in summary().columns if c.startswith("colour_")])
    out = judge(test, grey)
    assert out["verdict"] == "not tested" and "not RGB" in out["reason"]
    out = judge(test, summary(labels=("continuous_bernoulli", "bernoulli")))
    assert out["verdict"] == "not tested" and "gaussian_fixed" in out["reason"]


def test_claims_frame_lists_both_colour_claims():
    frame = claims.claims_frame(summary(), only=["colour_lambda_oversaturated", "colour_black_white_elements"])
    assert list(frame["claim"]) == ["colour_lambda_oversaturated", "colour_black_white_elements"]
    assert list(frame["verdict"]) == ["holds", "holds"]


def test_holm_by_hand():
    assert evidence.holm([0.01, 0.04, 0.03]) == [True, False, False]  # .03 > .05/2
    assert evidence.holm([0.01, 0.02, 0.04]) == [True, True, True]  # .01 ≤ .05/3, .02 ≤ .05/2, .04 ≤ .05
    assert evidence.holm([0.2, 0.001]) == [False, True]
    assert evidence.holm([]) == []


def test_one_sided_matches_scipy_ttest():
    values = np.array([0.31, 0.29, 0.305, 0.298])
    est, se, df = values.mean(), values.std(ddof=1) / math.sqrt(len(values)), len(values) - 1
    above, below = colour.one_sided(est, se, df, shift=0.29)
    assert above == pytest.approx(stats.ttest_1samp(values, 0.29, alternative="greater").pvalue)
    assert below == pytest.approx(stats.ttest_1samp(values, 0.29, alternative="less").pvalue)


def _cells(plan, dataset):
    """{label: {β label: epochs}} of the claims' runs of one data set."""
    out = {}
    for run, label in plan.reads("claims", [dataset]):
        out.setdefault(label, {})[run.beta] = run.epochs
    return out


def test_colour_runs_are_planned_for_rgb_data_only():
    from reconloss.plan import config_check

    config = config_check.effective({"datasets": ["mnist", "photo_patches", "cifar10"], "likelihoods": [],
                                     "claims": {"only": None, "max_epochs": 5}})
    plan = _cells(plan_runs.Plan(config), "photo_patches")
    assert {"1", "3"} <= set(plan["gaussian_fixed"])
    assert "3" not in _cells(plan_runs.Plan(config), "mnist")["gaussian_fixed"]  # the colour claims' β 3 alone
    only = config_check.effective({**config, "claims": {"only": [c.id for c in colour.CLAIMS], "max_epochs": None}})
    planned = plan_runs.Plan(only)
    assert _cells(planned, "mnist") == {}
    for dataset in ("photo_patches", "cifar10"):
        cells = _cells(planned, dataset)
        assert set(cells) == {"continuous_bernoulli", "bernoulli", "gaussian_fixed"}
        assert all(e == {"1": colour.COLOUR_EPOCHS, "3": colour.COLOUR_EPOCHS} for e in cells.values())
    assert planned.specs("claims")["gaussian_fixed"]["train"] == {"grad_clip": None}


def test_colour_configuration_plans_what_its_comment_states():
    from reconloss.plan import config_check

    path = plan_runs.__file__.rsplit("/workflow/", 1)[0] + "/configs/colour.yaml"
    config = config_check.load_files([path])
    plan = plan_runs.Plan(config)
    runs = plan.of("claims")
    run_epochs = sum(r.epochs for r in runs)
    seeds = len(config["claims"]["seeds"])
    text = open(path).read()
    assert config["datasets"] == ["photo_patches"] and len(plan.packs) == 3 and seeds == 3  # a pack per label
    assert f"{len(plan.packs)} packs, {len(runs)} runs of {colour.COLOUR_EPOCHS} epochs = {run_epochs} run-epochs" \
        in text
    assert config["model"]["channels"] == [32, 64, 128] and "32, 64, 128" in text


def test_the_claim_states_the_evaluations_thresholds():
    from reconloss.evaluation import colour as metrics_colour

    text = colour.CLAIMS[1].quantity
    assert f"≥ {metrics_colour.BW_MIN_SHARE:.0%}".replace("%", " %") in text
    assert f"≤ {metrics_colour.BLACK:g}" in text and f"≥ {metrics_colour.WHITE:g}" in text
    assert f"≤ {metrics_colour.LOW:g} or ≥ {metrics_colour.HIGH:g}" in colour.CLAIMS[0].quantity


@pytest.mark.parametrize("test", [colour.lambda_oversaturated, colour.black_white_elements])
def test_a_loss_still_moving_is_not_judged(test):
    df = summary()
    df.loc[df["likelihood"] == "bernoulli", "loss_trend"] = -0.05
    out = judge(test, df)
    assert out["verdict"] == "inconclusive" and "still moving" in out["reason"] and "holds" in out["reason"]
    assert out["follow_up"]["kind"] == "unsettled"  # a follow-up round trains it longer


def test_bw_black_regions_are_shown_not_judged():
    """λ greyer than the data on the black regions: the post speaks of brightness, the verdict stays."""
    df = summary({("continuous_bernoulli", b): {"colour_bw_param_black": 0.2} for b in (1.0, 3.0)})
    out = judge(colour.black_white_elements, df)
    assert out["verdict"] == "holds" and "CB λ 0.99 / 0.2" in out["numbers"]
