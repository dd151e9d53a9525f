"""Claims about a Gaussian's σ beyond fixed, learned-global and optimal: where the Gaussian puts its mass, which
pixels and images get a lower σ, how far below √0.5 a learned σ ends, and whether σ from the data or from the
decoder trains.

Each is decided per (label, β) with Holm's correction (reconloss.claims.evidence.per_beta). The σ metrics are
the evaluation's (INTERFACES 4): sigma_always_black / sigma_other (mean σ over the pixels that are 0 in every
training image against the rest) and sigma_image_p10 / p90 (percentiles over test images of each image's mean
σ), all in [0, 1] units. A summary without them leaves the claim "not tested", naming the column.
"""

import math

from reconloss.claims.choice import MSE, SWEEPS
from reconloss.claims.claim import SETTLE_EPOCHS, STABILITY_EPOCHS, Claim, Need
from reconloss.claims.evidence import LOSS_SETTLED, SIGMA_SETTLED, Spread, difference, per_beta, ratio_text
from reconloss.claims.runs import (BROKEN, betas, cells, describe, log, missing, moving_follow_up, not_tested, of,
                                   still_moving)

LEARNED, LEARNED_PIXEL = "gaussian_learned_global", "gaussian_learned_pixel"
PREDICTED_PIXEL, PREDICTED_IMAGE, DATA_PIXEL = "gaussian_predicted_pixel", "gaussian_predicted_image", "gaussian_data_pixel"
#: β of the learned global σ (shared with learned_sigma_tracks_error); the other σ labels train at β 1 only, which
#: keeps their runs to 3 per label (the budget of the claims run), so their per-β rule has one β.
SIGMA_BETAS = (0.1, 1.0)
OTHER_BETAS = (1.0,)
#: "Puts mass outside [0, 1]": at least 1 % of each pixel's probability on average.
MASS_FLOOR = 0.01
#: "Some images are easier": the 90th percentile of per-image σ at least this factor above the 10th.
IMAGE_SPREAD = 1.5
#: σ = √0.5 ≈ 0.71 is what dropping 2σ² assumes; "far too large" when a learned σ ends at least 3× below it.
SIGMA_DROPPED, FAR_BELOW = math.sqrt(0.5), 3.0
#: A decoder-predicted σ starts near floor + softplus(0) ≈ log 2 (a zero pre-activation); "it moves" when it ends
#: at least a factor 2 below that.
PREDICTED_START, MOVED = math.log(2.0), 2.0
#: Runs per β before "every run trained" means anything.
MIN_RUNS = 3


def _need(label, epochs=SETTLE_EPOCHS, seeds=None):
    return Need(label, SIGMA_BETAS if label == LEARNED else OTHER_BETAS, epochs, seeds)


def _cellwise(df, labels, value, columns, bound, below, what, settled=("sigma_trend", SIGMA_SETTLED)):
    """Per (label, β): the log quantity value(row) tested against log bound (below: the sentence says it is
    lower), Holm over cells, once the runs have settled (`settled`: the trend column and its limit; a σ level
    needs log σ settled, not the loss); {numbers, runs, verdict, reason}."""
    lacking = missing(df, labels)
    if lacking:
        return not_tested(lacking)
    absent = [c for c in columns if c not in df]
    if absent:
        return {"verdict": "not tested", "reason": f"the summary has no {', '.join(absent)} column"}
    by = {lab: cells(df, lab, value, *columns) for lab in labels}
    spread = Spread.pooled([s for c in by.values() for s in c.values()])
    # every cell counts: one without a finished run (or without a spread) is undecided, never dropped
    tests = {(lab, b): difference(s, None, spread) for lab, c in by.items() for b, s in c.items()}
    numbers = "; ".join(f"{lab} β {b:g}: {ratio_text(t, '') if t else 'no finished run'}"
                        for (lab, b), t in tests.items()) or "no spread"
    p = {k: (1.0, 1.0) if t is None else (t.p_below(bound), t.p_above(bound)) if below else
         (t.p_above(bound), t.p_below(bound)) for k, t in tests.items()}
    moving = still_moving(df, labels, column=settled[0], limit=settled[1])
    decision = {"verdict": "inconclusive", "reason": moving,  # more epochs settle a level still moving
                "follow_up": moving_follow_up(df, labels, column=settled[0], limit=settled[1])} if moving else \
        per_beta(p, what).decision()
    return {"numbers": numbers + f" (bound {math.exp(bound):.3g})", "runs": describe(df, labels), **decision}


def mass_outside(df, specs):
    return _cellwise(df, [LEARNED, MSE], lambda r: log(r["mass_outside"]), ["mass_outside"], math.log(MASS_FLOOR),
                     False, f"mass outside [0, 1] above {MASS_FLOOR:g}", settled=("loss_trend", LOSS_SETTLED))


def black_pixels_lower(df, specs):
    """Not tested where the data has no always-black pixel (FashionMNIST, CIFAR-10): finished runs carry
    sigma_other but no sigma_always_black, and no run or epoch would change that."""
    cols = ["sigma_always_black", "sigma_other"]
    labels = [LEARNED_PIXEL, PREDICTED_PIXEL]
    if not missing(df, labels) and all(c in df for c in cols):
        runs = df[df["likelihood"].isin(labels)]
        measured = runs[runs[cols[1]].notna()]
        if len(measured) and measured[cols[0]].isna().all():
            levels = "; ".join(f"{lab} β {b:g}: {g[cols[1]].mean():.3g}"
                               for (lab, b), g in measured.groupby(["likelihood", "beta"]))
            return {"verdict": "not tested", "runs": describe(df, labels),
                    "numbers": f"mean σ over every pixel (sigma_other, seed mean): {levels}",
                    "reason": "no pixel of this data set is 0 in every training image: the pixels the claim is "
                              "about do not exist here (sigma_always_black is empty in every run)"}
    return _cellwise(df, labels, lambda r: log(r[cols[0]]) - log(r[cols[1]]), cols, 0.0, True,
                     "σ lower on always-black pixels")


def images_differ(df, specs):
    cols = ["sigma_image_p10", "sigma_image_p90"]
    return _cellwise(df, [PREDICTED_IMAGE], lambda r: log(r[cols[1]]) - log(r[cols[0]]), cols,
                     math.log(IMAGE_SPREAD), False, f"per-image σ p90 / p10 above {IMAGE_SPREAD:g}")


def dropped_sigma_too_large(df, specs):
    return _cellwise(df, [LEARNED], lambda r: log(r["sigma_mean"]), ["sigma_mean"],
                     math.log(SIGMA_DROPPED / FAR_BELOW), True, f"learned σ below √0.5 / {FAR_BELOW:g}")


def _trained(df, label, beta):
    """(p it trained, p it broke) at one cell as 0/1 evidence: every run of ≥ MIN_RUNS ok, or one diverged.
    Collapse is neither: the run did not break, nor did it learn, so it leaves the cell undecided."""
    runs = of(df, label, beta)
    if (runs["outcome"] == "diverged").any():
        return 1.0, 0.0
    if len(runs) >= MIN_RUNS and (runs["outcome"] == "ok").all():
        return 0.0, 1.0
    return 1.0, 1.0


def data_sigma_trains(df, specs):
    if missing(df, [DATA_PIXEL]):
        return not_tested([DATA_PIXEL])
    tests = {b: _trained(df, DATA_PIXEL, b) for b in betas(df, DATA_PIXEL)}
    numbers = "; ".join(f"β {b:g}: " + ", ".join(f"{o} {int((of(df, DATA_PIXEL, b)['outcome'] == o).sum())}"
                                                  for o in ("ok", *BROKEN)) for b in tests)
    return {"numbers": numbers, "runs": describe(df, [DATA_PIXEL]),
            **per_beta(tests, f"every run (≥ {MIN_RUNS}) trained").decision()}


def predicted_sigma_trains(df, specs):
    labels = [PREDICTED_PIXEL, PREDICTED_IMAGE]
    lacking = missing(df, labels)
    if lacking:
        return not_tested(lacking)
    bound = math.log(PREDICTED_START / MOVED)
    sig = {lab: cells(df, lab, lambda r: log(r["sigma_mean"]), "sigma_mean") for lab in labels}
    spread = Spread.pooled([s for c in sig.values() for s in c.values()])
    tests, numbers = {}, []
    for lab in labels:
        for b in betas(df, lab):
            ran, broke = _trained(df, lab, b)
            t = difference(sig[lab][b], None, spread) if b in sig[lab] else None
            moved, stuck = (t.p_below(bound), t.p_above(bound)) if t else (1.0, 1.0)
            tests[(lab, b)] = (max(ran, moved), min(broke, stuck))
            numbers.append(f"{lab} β {b:g}: σ {ratio_text(t, '') if t else 'n/a'}")
    decision = per_beta(tests, f"trained, σ below {PREDICTED_START / MOVED:.3g}").decision()
    return {"numbers": "; ".join(numbers) + f" (start ≈ {PREDICTED_START:.3g})", "runs": describe(df, labels),
            **decision}


CLAIMS = [
    Claim("gaussian_mass_outside",
          "A Gaussian likelihood puts probability on pixel values below 0 and above 1.",
          "mean over test pixels of P(x < 0) + P(x > 1) under the decoder's Gaussian, learned global σ and σ = √0.5",
          f"clearly above {MASS_FLOOR:g} at every (label, β) (Holm): holds; clearly below at some: does not hold",
          "sigma", (_need(LEARNED), SWEEPS[MSE]), mass_outside),
    Claim("sigma_lower_on_black_pixels",
          "A per-pixel σ (learned or predicted) ends lower on pixels that are black in every training image.",
          "log of mean σ on always-black pixels over mean σ on the others, per label and β",
          "clearly below ×1 at every (label, β) (Holm): holds; clearly above at some: does not hold",
          "sigma", (_need(LEARNED_PIXEL), _need(PREDICTED_PIXEL)), black_pixels_lower),
    Claim("some_images_easier",
          "A σ predicted per image differs between images: some are reconstructed more precisely than others.",
          "90th over 10th percentile of per-image σ on the test set, per β",
          f"clearly above ×{IMAGE_SPREAD:g} at every β (Holm): holds; clearly below at some: does not hold",
          "sigma", (_need(PREDICTED_IMAGE),), images_differ),
    Claim("sigma_07_too_large",
          "σ ≈ 0.7, the value dropping 2σ² assumes, is far too wide for pixels in [0, 1]: a σ learned by the "
          "model ends far below it.",
          "learned global σ at the end of training, per β",
          f"clearly below √0.5 / {FAR_BELOW:g} = {SIGMA_DROPPED / FAR_BELOW:.3g} at every β (Holm): holds; clearly "
          "above at some: does not hold",
          "sigma", (_need(LEARNED),), dropped_sigma_too_large),
    Claim("data_sigma_trains",
          "A per-pixel σ computed from the training data gives a loss a VAE trains on.",
          "run outcomes per β (ok, collapsed, diverged)",
          f"every run ok, ≥ {MIN_RUNS} per β, at every β: holds; a diverged run at some β: does not hold; "
          "collapse leaves a β undecided",
          "divergence", (_need(DATA_PIXEL, STABILITY_EPOCHS, MIN_RUNS),), data_sigma_trains),
    Claim("predicted_sigma_trains",
          "A σ output by the decoder (per pixel or per image) trains by backpropagation with μ.",
          "run outcomes, and the mean σ at the end against its start floor + softplus(0) ≈ 0.69",
          f"at every (label, β) all runs ok and σ clearly below the start / {MOVED:g} (Holm): holds; a diverged "
          "run or σ clearly above that at some: does not hold",
          "sigma", (_need(PREDICTED_PIXEL, seeds=MIN_RUNS), _need(PREDICTED_IMAGE, seeds=MIN_RUNS)),
          predicted_sigma_trains),
]
