"""Claims about Gaussians: what a fixed σ does to β, and σ learned or set to its optimum.

A fixed-σ Gaussian's NLL is ‖x − μ‖²/(2σ²) + const, so at β it is the σ0 = √0.5
objective (the summed squared error) at β·σ²/σ0² = β·2σ², scaled by 1/(2σ²):
dropping σ silently fixes β. With the same seed (same initialisation, data order
and noise) the two runs differ only by that scale, which Adam all but ignores, so
their KL and MSE agree run by run. A deliberately wrong pairing (a β 5× off) is the
negative control: a rule that lets it agree too cannot tell right from wrong.
"""

import math

from reconloss.claims import followup
from reconloss.claims.claim import (
    PAIRED_EPOCHS,
    SETTLE_EPOCHS,
    STABILITY_EPOCHS,
    Claim,
    Need,
    every_classifier,
)
from reconloss.claims.evidence import (
    EVENT_ALPHA,
    FID_MARGIN,
    PAIRED_MARGIN,
    SIGMA_SETTLED,
    TRACK_TOLERANCE,
    Spread,
    cell_intervals,
    confidence_text,
    difference,
    more_events,
    per_beta,
    rate_upper,
    ratio_text,
)
from reconloss.claims.runs import (
    BROKEN,
    best_cell,
    betas,
    cells,
    describe,
    divergences,
    diverges_more,
    log,
    missing,
    moving_follow_up,
    no_spread,
    not_tested,
    of,
    paired,
    still_moving,
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


def _flags(compared, agree, controls):
    """Each comparison's agreement flag, in the order of `compared` (right pairings and controls interleaved)."""
    right, control = iter(agree), iter(controls)
    return [next(control) if is_control else next(right) for _, is_control, _, _ in compared]


def fixed_sigma_is_beta(df, specs):
    found = pairs(df, specs)
    if not found:
        return {"verdict": "not tested", "reason": "the summary has no fixed-σ variant with its partner β "
                                                   f"(σ ≠ √0.5 at β and {FIXED} at β·2σ²)"}
    labels = list(dict.fromkeys([p[0] for p in found] + [p[1] for p in found]))
    ref = found[0][1]
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
            parts.append(iv.similar(PAIRED_MARGIN) if iv else None)
            numbers.append(f"{lab} β={beta:g} vs {ref} β={other:g}{' (control)' if is_control else ''}: log {name} "
                           f"paired difference {iv.text() if iv else diffs[column].text()}")
        into.append(False if False in parts else True if all(p is True for p in parts) else None)
    numbers.append(f"margin of log KL and log MSE ±{PAIRED_MARGIN:.3g} (×{math.exp(PAIRED_MARGIN):.2f})")
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
                                           "the margin: their paired differences vary too much from seed to "
                                           "seed to decide (more seeds narrow the interval)")
    undecided = [pairing for (pairing, is_control, _, _), a in zip(compared, _flags(compared, agree, controls))
                 if a is None]
    follow = followup.straddles("fixed σ against its β·2σ² partner (paired log KL, log MSE)", labels,
                                [b for lab, b, ref, o in undecided] + [o for lab, b, ref, o in undecided],
                                [c for lab, b, ref, o in undecided for c in ((lab, b), (ref, o))]) \
        if verdict == "inconclusive" and undecided else ""
    return {"numbers": "; ".join(numbers), "runs": describe(df, labels), "verdict": verdict, "reason": reason,
            "follow_up": follow}


def _broken(df, label):
    runs = of(df, label)
    return int(runs["outcome"].isin(BROKEN).sum()), len(runs)


def range255_tiny_sigma(df, specs):
    lacking = missing(df, [RANGE255, FIXED])
    if lacking:
        return not_tested(lacking)
    shared = [b for b in betas(df, RANGE255) if b in betas(df, FIXED)]
    if not shared:
        return {"verdict": "not tested", "reason": f"no β shared by {RANGE255} and {FIXED}"}
    diffs = {b: paired(df, RANGE255, b, FIXED, b, "kl") for b in shared}
    spread = Spread.pooled(diffs.values())
    ivs = {b: iv for b, d in diffs.items() if (iv := difference(d, None, spread)) is not None}
    (k_big, n_big), (k_small, n_small) = _broken(df, RANGE255), _broken(df, FIXED)
    p = more_events(k_big, n_big, k_small, n_small)
    numbers = (f"σ = √0.5 on [0, 255] is the [0, 1] objective at β/255² (β {', '.join(f'{b:g}' for b in shared)} "
               f"→ {shared[0] / 255 ** 2:.2g}); KL [0, 255] / [0, 1] paired by seed: "
               + (", ".join(f"β={b:g} {ratio_text(iv)}" for b, iv in ivs.items()) or "no finished pairs")
               + f", margin ×{math.exp(PAIRED_MARGIN):.2f}; broken runs (evidence, not the verdict): {RANGE255} "
               f"{k_big} of {n_big}, {FIXED} {k_small} of {n_small} (Fisher p = {p:.2g})")
    runs = describe(df, [RANGE255, FIXED])
    if not ivs:
        return {"numbers": numbers, "runs": runs, "verdict": "inconclusive", "follow_up": "",
                "reason": f"no finished pair of seeds to compare KL (broken: {k_big} of {n_big}); the KL decides, "
                          "a count of broken runs cannot"}
    # the claim's own quantity decides: KL clearly larger by more than the margin at every β (Holm)
    result = per_beta({b: ([iv.p_above(PAIRED_MARGIN)], iv.p_below(PAIRED_MARGIN)) for b, iv in ivs.items()})
    verdict = result.verdict
    reason = f"{result.text()}: " + {
        "holds": "the [0, 255] runs spend clearly more nats on the code at every β",
        "does not hold": "at some β the [0, 255] runs' KL is clearly not larger beyond the margin"}.get(
        verdict, "an interval straddles the margin")
    follow = followup.straddles("KL on [0, 255] against [0, 1], paired by seed", [RANGE255, FIXED],
                                [b for b in result.betas if b not in result.held]) if verdict == "inconclusive" else ""
    return {"numbers": numbers, "runs": runs, "verdict": verdict, "reason": reason, "follow_up": follow}


def optimal_pixel_unstable(df, specs):
    return diverges_more(df, PIXEL, IMAGE, "divergence rate, per-pixel against per-image σ", {
        "holds": "the per-pixel σ diverges clearly more often than the per-image σ",
        "does not hold": "the per-pixel σ diverges in clearly fewer than half of its runs",
        "inconclusive": "too few runs to tell its divergence rate apart"})


def optimal_image_stable(df, specs):
    if missing(df, [IMAGE]):
        return not_tested([IMAGE])
    diverged, n, text = divergences(df, IMAGE)
    if diverged:
        verdict, reason = "does not hold", f"{diverged} run(s) diverged"
    elif n >= 6:
        verdict, reason = "holds", (f"none of {n} runs diverged (rate at most {rate_upper(0, n):.2f}, one-sided "
                                    f"{confidence_text()})")
    else:
        verdict, reason = "inconclusive", f"{n} runs are too few to call it stable (≥ 6)"
    follow = followup.straddles("divergence rate of the per-image σ", [IMAGE], betas(df, IMAGE)) \
        if verdict == "inconclusive" else ""
    return {"numbers": f"{text}, over β {', '.join(f'{b:g}' for b in betas(df, IMAGE))}",
            "runs": describe(df, [IMAGE]), "verdict": verdict, "reason": reason, "follow_up": follow}


@every_classifier
def optimal_image_needs_beta(df, specs):
    if missing(df, [IMAGE]):
        return not_tested([IMAGE])
    _, by_beta = best_cell(df, IMAGE)
    runs = describe(df, [IMAGE])
    untuned = next((b for b in by_beta if math.isclose(b, 1.0)), None)
    others = [b for b in by_beta if b != untuned]
    if untuned is None or not others:
        return {"runs": runs, "verdict": "inconclusive", "follow_up": "",
                "reason": "no finished run at the untuned β = 1, or no other β"}
    noise = Spread.pooled(by_beta.values())
    # β = 1 against each other β, Bonferroni over them (no selection of "the best" from noisy means)
    ivs = {b: difference(by_beta[untuned], by_beta[b], noise, comparisons=len(others)) for b in others}
    if any(iv is None for iv in ivs.values()):
        return no_spread(df, [IMAGE])
    numbers = [f"FID at β = 1 {by_beta[untuned].text(math.exp)}"] + [
        f"β=1 / β={b:g} {ratio_text(iv)}" for b, iv in ivs.items()] + [f"margin ×{math.exp(FID_MARGIN):.2f}"]
    moving = still_moving(df, [IMAGE])
    follow = ""
    if moving:
        verdict, reason, follow = "inconclusive", moving, moving_follow_up(df, [IMAGE])
    elif any(iv.lo > FID_MARGIN for iv in ivs.values()):
        better = [b for b, iv in ivs.items() if iv.lo > FID_MARGIN]
        verdict, reason = "holds", (f"the untuned β = 1 is clearly worse than β {', '.join(f'{b:g}' for b in better)} "
                                    f"by more than ×{math.exp(FID_MARGIN):.2f}")
    elif all(iv.hi < FID_MARGIN for iv in ivs.values()):
        verdict, reason = "does not hold", f"no β is clearly better than β = 1 by ×{math.exp(FID_MARGIN):.2f}"
    else:
        verdict, reason = "inconclusive", "an interval straddles the margin"
        follow = followup.straddles("FID at β = 1 against the other β", [IMAGE],
                                    [untuned] + [b for b, iv in ivs.items() if iv.hi >= FID_MARGIN])
    return {"numbers": "; ".join(numbers), "runs": runs, "verdict": verdict, "reason": reason, "follow_up": follow}


def learned_sigma_tracks_error(df, specs):
    if missing(df, [LEARNED]):
        return not_tested([LEARNED])
    gap = cell_intervals(cells(df, LEARNED, lambda r: log(r["sigma_mean"]) - log(r["rmse"]), "sigma_mean", "rmse"))
    tol = math.log(TRACK_TOLERANCE)
    runs = describe(df, [LEARNED])
    if not gap:
        return no_spread(df, [LEARNED])
    result = per_beta({b: ([iv.p_inside(tol)], iv.p_outside(tol)) for b, iv in gap.items()})
    numbers = "σ / √MSE: " + ", ".join(f"β={b:g} {ratio_text(iv)}" for b, iv in sorted(gap.items())) + \
        f" (tolerance ×{TRACK_TOLERANCE:g})"
    verdict = result.verdict
    reason = f"{result.text()}: " + {"holds": "within the tolerance at every β",
                                     "does not hold": "wholly outside the tolerance at some β"}.get(
        verdict, "an interval straddles the tolerance at some β")
    follow = followup.straddles("learned σ against √MSE", [LEARNED], [b for b in result.betas if b not in result.held]) \
        if verdict == "inconclusive" else ""
    moving = still_moving(df, [LEARNED], column="sigma_trend", limit=SIGMA_SETTLED)
    if moving:
        verdict, reason = "inconclusive", f"σ {moving}"
        follow = moving_follow_up(df, [LEARNED], column="sigma_trend", limit=SIGMA_SETTLED)
    return {"numbers": numbers, "runs": runs, "verdict": verdict, "reason": reason, "follow_up": follow}


CLAIMS = [
    Claim("fixed_sigma_is_beta",
          "Dropping σ from a Gaussian silently fixes β: a fixed σ at β is the σ = √0.5 (MSE) objective at β·2σ².",
          "log KL and log MSE paired by seed: each σ variant against √0.5 at β·2σ², and against a β 5× off "
          "(negative control)",
          f"right pairings inside ×{math.exp(PAIRED_MARGIN):.2f} on both (an identity up to Adam's ε: a few percent "
          "at most), and every negative control wholly outside it: holds; a right pairing outside: does not hold; a "
          "control inside: inconclusive",
          "fid_vs_beta",
          (Need("gaussian_fixed_sigma1", (0.5,), PAIRED_EPOCHS), Need("gaussian_fixed_sigma0.1", (5.0,), PAIRED_EPOCHS),
           Need(FIXED, (0.1, 0.5, 1.0, 5.0), PAIRED_EPOCHS)),
          fixed_sigma_is_beta),
    Claim("range255_sigma_tiny",
          "On data in [0, 255] a standard deviation of 0.7 is tiny: the same loss then weighs the KL 255² times "
          "less.",
          "log KL of the [0, 255] run against the [0, 1] run at the same β and seed; broken runs as evidence",
          f"per β (Holm): KL clearly larger by more than ×{math.exp(PAIRED_MARGIN):.2f} at every β: holds; clearly "
          "not at some β: does not hold; broken runs are reported but never decide (no finished pair: inconclusive)",
          "divergence", (Need(RANGE255, (1.0,), PAIRED_EPOCHS), Need(FIXED, (1.0,), PAIRED_EPOCHS)),
          range255_tiny_sigma),
    Claim("optimal_pixel_unstable",
          "Training with σ at its per-pixel optimum (the loss Σ log|x − μ|) runs off to a non-finite loss, a floor "
          "under σ notwithstanding.",
          "diverged runs (a non-finite loss) of the per-pixel optimal σ (with its default floor) against the "
          "per-image optimal σ; collapses named, not counted",
          f"one-sided Fisher exact test, p < {EVENT_ALPHA:g}: holds; its divergence rate's one-sided 95 % upper "
          "bound below one half: does not hold; else inconclusive",
          "divergence", (Need(PIXEL, OPTIMAL_BETAS, STABILITY_EPOCHS), Need(IMAGE, OPTIMAL_BETAS, STABILITY_EPOCHS)),
          optimal_pixel_unstable),
    Claim("optimal_image_stable",
          "σ at its per-image optimum (the σ-VAE loss d/2·log‖x − μ‖²) trains stably.",
          "diverged runs (a non-finite loss) over β; collapses named, not counted (as for the per-pixel σ)",
          "none of ≥ 6 runs diverged: holds; any diverged: does not hold",
          "divergence", (Need(IMAGE, OPTIMAL_BETAS, STABILITY_EPOCHS),), optimal_image_stable),
    Claim("optimal_image_needs_beta",
          "The per-image σ loss still needs β tuned.",
          "sample FID at the untuned β = 1 against each other β, under every FID classifier",
          f"some β clearly better than β = 1 by more than ×{math.exp(FID_MARGIN):.2f} (Bonferroni over the β): "
          "holds; every other β clearly within it: does not hold; an unsettled loss: inconclusive; the same under "
          "every classifier",
          "fid_vs_beta", (Need(IMAGE, OPTIMAL_BETAS, SETTLE_EPOCHS),), optimal_image_needs_beta),
    Claim("learned_sigma_tracks_error",
          "A learned global σ ends close to √MSE of the reconstructions (its analytic optimum).",
          "σ / √MSE per run, at each β",
          f"per β (Holm, equivalence tests): inside ×{TRACK_TOLERANCE:g} at every β: holds; clearly outside at some "
          "β: does not hold; σ still moving: inconclusive",
          "sigma", (Need(LEARNED, (0.1, 1.0), SETTLE_EPOCHS),), learned_sigma_tracks_error),
]
