"""Claims about Gaussians: what a fixed σ does to β, and σ learned or set to its optimum.

A fixed-σ Gaussian's NLL is ‖x − μ‖²/(2σ²) + const, so at β it is the σ0 = √0.5
objective (the summed squared error) at β·σ²/σ0² = β·2σ², scaled by 1/(2σ²):
dropping σ silently fixes β. With the same seed (same initialisation, data order
and noise) the two runs differ only by that scale, which Adam all but ignores, so
their KL and MSE agree run by run. A deliberately wrong pairing (a β 5× off) is the
negative control: a rule that lets it agree too cannot tell right from wrong.
"""

import math

from reconloss.claims.claim import PAIRED_EPOCHS, SETTLE_EPOCHS, STABILITY_EPOCHS, Claim, Need
from reconloss.claims.evidence import (
    EVENT_ALPHA, SIGMA_SETTLED, TRACK_TOLERANCE, Spread, Stat, difference, grand_mean, more_events,
)
from reconloss.claims.runs import (
    BROKEN, best_cell, betas, cells, describe, log, missing, not_tested, of, paired, still_moving,
)
from reconloss.settings import option_default

FIXED = "gaussian_fixed"
RANGE255 = "gaussian_fixed_range255"
PIXEL, IMAGE = "gaussian_optimal_pixel", "gaussian_optimal_image"
LEARNED = "gaussian_learned_global"
OPTIMAL_BETAS = (0.1, 1.0, 10.0)
#: How far off the negative control's β is from the right partner (at least this factor).
CONTROL_FACTOR = 3.0


def sigma0():
    """gaussian_fixed's default σ (√0.5: the summed squared error), as the class declares it."""
    return float(option_default(FIXED, "sigma"))


def _sigma(spec):
    return float((spec.get("options") or {}).get("sigma", sigma0()))


def _rest(spec):
    """A label's spec without σ: two labels pair only when everything else is the same."""
    return (spec.get("likelihood"), sorted((k, repr(v)) for k, v in (spec.get("options") or {}).items()
                                           if k != "sigma"), sorted((spec.get("train") or {}).items()))


def _one_side_broken(df, a, beta_a, b, beta_b):
    broken = [bool(of(df, lab, beta)["outcome"].isin(BROKEN).any()) for lab, beta in ((a, beta_a), (b, beta_b))]
    return broken[0] != broken[1]


def pairs(df, specs):
    """[(variant, β, partner β, control β or None)] for every fixed-σ variant of the summary."""
    present = [lab for lab in dict.fromkeys(df["likelihood"]) if specs.get(lab, {}).get("likelihood") == FIXED]
    refs = [lab for lab in present if math.isclose(_sigma(specs[lab]), sigma0())]
    out = []
    for lab in present:
        sigma = _sigma(specs[lab])
        ref = next((r for r in refs if _rest(specs[r]) == _rest(specs[lab])), None)
        if math.isclose(sigma, sigma0()) or ref is None:
            continue
        grid = betas(df, ref)
        for beta in betas(df, lab):
            partner = beta * sigma ** 2 / sigma0() ** 2
            if not any(math.isclose(partner, g, rel_tol=1e-6) for g in grid):
                continue
            far = [g for g in grid if abs(math.log(g / partner)) >= math.log(CONTROL_FACTOR)]
            control = min(far, key=lambda g: abs(abs(math.log(g / partner)) - math.log(5))) if far else None
            out.append((lab, ref, beta, partner, control))
    return out


def fixed_sigma_is_beta(df, specs):
    found = pairs(df, specs)
    if not found:
        return {"verdict": "not tested", "reason": "the summary has no fixed-σ variant with its partner β "
                                                   f"(σ ≠ √0.5 at β and {FIXED} at β·2σ²)"}
    labels = list(dict.fromkeys([p[0] for p in found] + [p[1] for p in found]))
    ref = found[0][1]
    noise = {c: Spread.pooled(cells(df, ref, lambda r, c=c: log(r[c]), c).values()) for c in ("kl", "mse_mean")}
    m = 2 * sum(1 + (control is not None) for *_, control in found)
    columns = (("kl", "KL"), ("mse_mean", "MSE"))
    # every comparison: (pairing, is it the control, one side broken, {column: paired differences by seed})
    compared = [((lab, beta, ref, other), other == control, _one_side_broken(df, lab, beta, ref, other),
                 {c: paired(df, lab, beta, ref, other, c) for c, _ in columns})
                for lab, ref, beta, partner, control in found for other in (partner, control) if other is not None]
    # the spread of paired differences, pooled over the right pairings and, apart, over the controls
    spread = {(is_control, c): Spread.pooled([d[c] for _, ctl, _, d in compared if ctl == is_control])
              for is_control in (False, True) for c, _ in columns}
    agree, controls, numbers = [], [], []
    for (lab, beta, ref, other), is_control, broken, diffs in compared:
        into = controls if is_control else agree
        if broken:
            into.append(False)
            numbers.append(f"{lab} β={beta:g} vs {ref} β={other:g}: one side diverged or collapsed")
            continue
        parts = []
        for column, name in columns:
            iv = difference(diffs[column], None, spread[(is_control, column)], comparisons=m)
            parts.append(iv.similar(noise[column].margin) if iv and noise[column].df else None)
            numbers.append(f"{lab} β={beta:g} vs {ref} β={other:g}{' (control)' if is_control else ''}: log {name} "
                           f"paired difference {iv.text() if iv else diffs[column].text()}")
        into.append(False if False in parts else True if all(p is True for p in parts) else None)
    margins = ", ".join(f"{c} ±{noise[c].margin:.3g}" for c in noise)
    numbers.append(f"noise margins of log KL and log MSE ({ref}'s seeds): {margins}")
    if any(a is False for a in agree):
        verdict, reason = "does not hold", "a right pairing differs beyond seed noise"
    elif agree and all(a is True for a in agree) and controls and all(c is False for c in controls):
        verdict, reason = "holds", (f"{len(agree)} right pairings agree within seed noise; {len(controls)} wrong "
                                    "pairings (negative controls) clearly differ")
    elif any(c is not False for c in controls) and all(a is True for a in agree):
        verdict, reason = "inconclusive", "a negative control agreed too: the rule cannot tell a wrong pairing here"
    elif not controls:
        verdict, reason = "inconclusive", "no negative control in the grid: the rule cannot tell a wrong pairing"
    else:
        straddle = sum(a is None for a in agree)
        verdict, reason = "inconclusive", (f"{straddle} of {len(agree)} right pairings have an interval that straddles "
                                           "the noise margin: their paired differences vary too much from seed to "
                                           "seed to decide (more seeds narrow the interval)")
    return {"numbers": "; ".join(numbers), "runs": describe(df, labels), "verdict": verdict, "reason": reason}


def range255_tiny_sigma(df, specs):
    lacking = missing(df, [RANGE255, FIXED])
    if lacking:
        return not_tested(lacking)
    shared = [b for b in betas(df, RANGE255) if b in betas(df, FIXED)]
    if not shared:
        return {"verdict": "not tested", "reason": f"no β shared by {RANGE255} and {FIXED}"}
    noise = Spread.pooled(cells(df, FIXED, lambda r: log(r["kl"]), "kl").values())
    diffs = [paired(df, RANGE255, b, FIXED, b, "kl") for b in shared]
    iv = grand_mean(diffs, Spread.pooled(diffs))
    big, small = of(df, RANGE255), of(df, FIXED)
    p = more_events(int(big["outcome"].isin(BROKEN).sum()), len(big), int(small["outcome"].isin(BROKEN).sum()),
                    len(small))
    numbers = (f"σ = √0.5 on [0, 255] is the [0, 1] objective at β/255² (β {', '.join(f'{b:g}' for b in shared)} "
               f"→ {shared[0] / 255 ** 2:.2g}); log KL ([0, 255] − [0, 1]) paired by seed "
               f"{iv.text() if iv else 'n/a'}, margin ±{noise.margin:.3g}; broken runs: {RANGE255} "
               f"{int(big['outcome'].isin(BROKEN).sum())} of {len(big)}, {FIXED} "
               f"{int(small['outcome'].isin(BROKEN).sum())} of {len(small)} (Fisher p = {p:.2g})")
    if p < EVENT_ALPHA or (iv is not None and noise.df and iv.lo > noise.margin):
        verdict, reason = "holds", "the [0, 255] runs spend far more nats on the code, or break clearly more often"
    elif iv is not None and noise.df and iv.similar(noise.margin):
        verdict, reason = "does not hold", "the same KL as on [0, 1] within seed noise"
    else:
        verdict, reason = "inconclusive", "too few finished pairs or an interval straddling the margin"
    return {"numbers": numbers, "runs": describe(df, [RANGE255, FIXED]), "verdict": verdict, "reason": reason}


def optimal_pixel_unstable(df, specs):
    lacking = missing(df, [PIXEL, IMAGE])
    if lacking:
        return not_tested(lacking)
    mse = {lab: cells(df, lab, lambda r: log(r["mse_mean"]), "mse_mean") for lab in (PIXEL, IMAGE)}
    noise = Spread.pooled([*mse[PIXEL].values(), *mse[IMAGE].values()])
    grid = betas(df, PIXEL)
    parts, numbers = [], []
    for beta in grid:
        runs = of(df, PIXEL, beta)
        events = int(runs["outcome"].isin(BROKEN).sum())
        iv = difference(mse[PIXEL].get(beta, Stat()), mse[IMAGE].get(beta, Stat()), noise, comparisons=len(grid))
        if len(runs) and events == len(runs):
            part = True
        elif iv is None or not noise.df:
            part = None
        elif iv.lo > noise.margin:
            part = True
        elif iv.hi < noise.margin and not events:
            part = False
        else:
            part = None
        parts.append(part)
        ratio = f"MSE ×{math.exp(iv.estimate):.3g} [{math.exp(iv.lo):.3g}, {math.exp(iv.hi):.3g}]" if iv else "no MSE"
        numbers.append(f"β={beta:g}: {events} of {len(runs)} broken, {ratio} of the per-image σ's")
    numbers.append(f"margin ×{math.exp(noise.margin):.3g}" if noise.df else "no spread")
    verdict = "holds" if parts and all(p is True for p in parts) else \
        "does not hold" if any(p is False for p in parts) else "inconclusive"
    return {"numbers": "; ".join(numbers), "runs": describe(df, [PIXEL, IMAGE]), "verdict": verdict,
            "reason": {"holds": "at every β it broke or its MSE is clearly worse beyond seed noise",
                       "does not hold": "at some β it trained with an MSE not worse beyond seed noise"}
            .get(verdict, "some β undecided")}


def optimal_image_stable(df, specs):
    if missing(df, [IMAGE]):
        return not_tested([IMAGE])
    runs = of(df, IMAGE)
    diverged = int((runs["outcome"] == "diverged").sum())
    if diverged:
        verdict, reason = "does not hold", f"{diverged} run(s) diverged"
    elif len(runs) >= 6:
        verdict, reason = "holds", f"none of {len(runs)} runs diverged"
    else:
        verdict, reason = "inconclusive", f"{len(runs)} runs are too few to call it stable (≥ 6)"
    return {"numbers": f"{diverged} of {len(runs)} diverged over β {', '.join(f'{b:g}' for b in betas(df, IMAGE))}",
            "runs": describe(df, [IMAGE]), "verdict": verdict, "reason": reason}


def optimal_image_needs_beta(df, specs):
    if missing(df, [IMAGE]):
        return not_tested([IMAGE])
    best, by_beta = best_cell(df, IMAGE)
    runs = describe(df, [IMAGE])
    if best is None or len(by_beta) < 2:
        return {"runs": runs, "verdict": "inconclusive", "reason": "fewer than two β with a finished run"}
    noise = Spread.pooled(by_beta.values())
    others = [b for b in by_beta if b != best]
    ivs = {b: difference(by_beta[b], by_beta[best], noise, comparisons=len(others)) for b in others}
    numbers = [f"best β {best:g}, FID {by_beta[best].text(math.exp)}"] + [
        f"β={b:g} ×{math.exp(iv.estimate):.3g} [{math.exp(iv.lo):.3g}, {math.exp(iv.hi):.3g}]"
        for b, iv in ivs.items() if iv]
    moving = still_moving(df, [IMAGE])
    if any(iv is None for iv in ivs.values()) or not noise.df:
        verdict, reason = "inconclusive", "no seed-to-seed spread"
    elif moving:
        verdict, reason = "inconclusive", moving
    elif any(iv.lo > noise.margin for iv in ivs.values()):
        verdict, reason = "holds", "some β is clearly worse than the best beyond seed noise"
    elif all(iv.similar(noise.margin) for iv in ivs.values()):
        verdict, reason = "does not hold", "every β is within seed noise of the best"
    else:
        verdict, reason = "inconclusive", "an interval straddles the margin"
    numbers.append(f"margin ×{math.exp(noise.margin):.3g}" if noise.df else "no spread")
    return {"numbers": "; ".join(numbers), "runs": runs, "verdict": verdict, "reason": reason}


def learned_sigma_tracks_error(df, specs):
    if missing(df, [LEARNED]):
        return not_tested([LEARNED])
    gap = cells(df, LEARNED, lambda r: log(r["sigma_mean"]) - log(r["rmse"]), "sigma_mean", "rmse")
    iv = grand_mean(gap.values(), Spread.pooled(gap.values()))
    tol = math.log(TRACK_TOLERANCE)
    moving = still_moving(df, [LEARNED], column="sigma_trend", limit=SIGMA_SETTLED)
    numbers = (f"σ / √MSE ×{math.exp(iv.estimate):.3g} [{math.exp(iv.lo):.3g}, {math.exp(iv.hi):.3g}] "
               f"(tolerance ×{TRACK_TOLERANCE:g})" if iv else "no spread")
    if iv is None:
        verdict, reason = "inconclusive", "no seed-to-seed spread"
    elif moving:
        verdict, reason = "inconclusive", f"σ {moving}"
    else:
        similar = iv.similar(tol)
        verdict = {True: "holds", False: "does not hold", None: "inconclusive"}[similar]
        reason = {True: "within the tolerance", False: "wholly outside the tolerance",
                  None: "the interval straddles the tolerance"}[similar]
    return {"numbers": numbers, "runs": describe(df, [LEARNED]), "verdict": verdict, "reason": reason}


CLAIMS = [
    Claim("fixed_sigma_is_beta",
          "Dropping σ from a Gaussian silently fixes β: a fixed σ at β is the σ = √0.5 (MSE) objective at β·2σ².",
          "log KL and log MSE paired by seed: each σ variant against √0.5 at β·2σ², and against a β 5× off "
          "(negative control)",
          "right pairings inside the noise margin on both, and every negative control wholly outside it: holds; "
          "a right pairing outside: does not hold; a control inside: inconclusive",
          "fid_vs_beta",
          (Need("gaussian_fixed_sigma1", (0.5,), PAIRED_EPOCHS), Need("gaussian_fixed_sigma0.1", (5.0,), PAIRED_EPOCHS),
           Need(FIXED, (0.1, 0.5, 1.0, 5.0), PAIRED_EPOCHS)),
          fixed_sigma_is_beta),
    Claim("range255_sigma_tiny",
          "On data in [0, 255] a standard deviation of 0.7 is tiny: the same loss then weighs the KL 255² times "
          "less.",
          "log KL of the [0, 255] run against the [0, 1] run at the same β and seed; broken runs",
          "KL wholly above the noise margin, or clearly more broken runs (Fisher): holds; the same KL: does not hold",
          "divergence", (Need(RANGE255, (1.0,), PAIRED_EPOCHS), Need(FIXED, (1.0,), PAIRED_EPOCHS)),
          range255_tiny_sigma),
    Claim("optimal_pixel_unstable",
          "σ at its per-pixel optimum (the loss Σ log|x − μ|) is unstable.",
          "broken runs, and reconstruction MSE against the per-image optimal σ at each β",
          "at every β all runs broke or MSE is clearly worse beyond the noise margin: holds; at some β not worse "
          "and nothing broke: does not hold",
          "divergence", (Need(PIXEL, OPTIMAL_BETAS, STABILITY_EPOCHS), Need(IMAGE, OPTIMAL_BETAS, STABILITY_EPOCHS)),
          optimal_pixel_unstable),
    Claim("optimal_image_stable",
          "σ at its per-image optimum (the σ-VAE loss d/2·log‖x − μ‖²) trains stably.",
          "diverged runs over β",
          "none of ≥ 6 runs diverged: holds; any diverged: does not hold",
          "divergence", (Need(IMAGE, OPTIMAL_BETAS, STABILITY_EPOCHS),), optimal_image_stable),
    Claim("optimal_image_needs_beta",
          "The per-image σ loss still needs β tuned.",
          "sample FID at each β against the best β",
          "some β clearly worse than the best beyond the noise margin: holds; every β within it: does not hold; "
          "an unsettled loss: inconclusive",
          "fid_vs_beta", (Need(IMAGE, OPTIMAL_BETAS, SETTLE_EPOCHS),), optimal_image_needs_beta),
    Claim("learned_sigma_tracks_error",
          "A learned global σ ends close to √MSE of the reconstructions (its analytic optimum).",
          "σ / √MSE per run, mean over β",
          f"the interval inside ×{TRACK_TOLERANCE:g}: holds; wholly outside: does not hold; σ still moving: "
          "inconclusive",
          "sigma", (Need(LEARNED, (0.1, 1.0), SETTLE_EPOCHS),), learned_sigma_tracks_error),
]
