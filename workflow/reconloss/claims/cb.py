"""Claims about the continuous Bernoulli (CB) and Bernoulli: what their images show, their range, float32.

CB's parameter λ is not its expected value: E[x] = λ/(2λ−1) + 1/(2 artanh(1−2λ)),
which stays inside (0.1085, 0.8915) for λ in the default clamp [1e-4, 1−1e-4].
Bernoulli's "density" λ^x (1−λ)^(1−x) does not integrate to 1 over [0, 1]; its
normaliser is what CB adds.
"""

import math

from reconloss.claims import followup
from reconloss.claims.claim import (
    BETA_SWEEP,
    EVENT_EPOCHS,
    LABEL_SPECS,
    SWEEP_EPOCHS,
    Claim,
    Need,
    every_classifier,
    verdict_of,
)
from reconloss.claims.evidence import (
    EVENT_ALPHA,
    FID_MARGIN,
    alpha,
    cell_intervals,
    holm,
    more_events,
    per_beta,
    ratio_text,
)
from reconloss.claims.runs import (
    cells,
    describe,
    finished,
    log,
    missing,
    moving_follow_up,
    no_spread,
    not_tested,
    of,
    still_moving,
)
from reconloss.settings import option_default

CB, BERNOULLI = "continuous_bernoulli", "bernoulli"
NAIVE = "continuous_bernoulli_naive_noclamp"


def cb_mean(lam):
    """E[x] of CB(λ) in float64 (the Taylor limit 1/2 + (λ − 1/2)/3 near λ = 1/2, where the formula is 0/0)."""
    if abs(lam - 0.5) < 1e-6:
        return 0.5 + (lam - 0.5) / 3
    return lam / (2 * lam - 1) + 1 / (2 * math.atanh(1 - 2 * lam))


def bernoulli_mass(lam):
    """∫₀¹ λ^x (1−λ)^(1−x) dx = (2λ − 1)/(log λ − log(1 − λ)): 1 only at λ = 1/2."""
    if abs(lam - 0.5) < 1e-9:
        return 1.0
    return (2 * lam - 1) / (math.log(lam) - math.log1p(-lam))


def _sweep(label):
    return Need(label, BETA_SWEEP, SWEEP_EPOCHS)


def _ivs_text(ivs, name, ratio=False):
    fmt = ratio_text if ratio else (lambda iv: iv.text())
    return f"{name}: " + ", ".join(f"β={b:g} {fmt(iv)}" for b, iv in sorted(ivs.items()))


def _decided(result, labels, comparison):
    """The row's verdict and follow-up from a PerBeta result: more seeds at the β not yet decided."""
    verdict = result.verdict
    follow = followup.straddles(comparison, labels, [b for b in result.betas if b not in result.held]) \
        if verdict == "inconclusive" and result.betas else ""
    return verdict, follow


def param_vs_mean(df, specs):
    if missing(df, [CB]):
        return not_tested([CB])
    black = cell_intervals(cells(df, CB, lambda r: r["black_level"] - r["param_black_level"], "black_level",
                                 "param_black_level"))
    white = cell_intervals(cells(df, CB, lambda r: r["param_white_level"] - r["white_level"], "white_level",
                                 "param_white_level"))
    shared = sorted(set(black) & set(white))
    if not shared:
        return no_spread(df, [CB])
    result = per_beta({b: ([black[b].p_above(), white[b].p_above()],
                           min(1.0, 2 * min(black[b].p_below(), white[b].p_below()))) for b in shared})
    verdict, follow = _decided(result, [CB], "E[x] against λ at the data's black and white pixels")
    return {"numbers": f"{_ivs_text(black, 'E[x] − λ on black pixels')}; {_ivs_text(white, 'λ − E[x] on white')}",
            "runs": describe(df, [CB]), "verdict": verdict, "follow_up": follow,
            "reason": f"{result.text()}: " + {"holds": "E[x] clearly greyer than λ at both ends at every β",
                                              "does not hold": "λ clearly greyer than E[x] at some β"}
            .get(verdict, "some β undecided")}


def mean_bounds(df, specs):
    if missing(df, [CB]):
        return not_tested([CB])
    clamp = (specs.get(CB, {}).get("options") or {}).get("clamp") or option_default(CB, "clamp")
    lo, hi = cb_mean(float(clamp[0])), cb_mean(float(clamp[1]))
    runs = finished(of(df, CB), "recon_p01", "recon_p99")
    inside = (bool((runs["recon_p99"] <= hi + 1e-4).all()) and bool((runs["recon_p01"] >= lo - 1e-4).all())) \
        if len(runs) else None
    grey = cell_intervals(cells(df, CB, lambda r: r["data_white_level"] - r["white_level"], "white_level",
                                "data_white_level"))
    grey_result = per_beta({b: ([iv.p_above()], iv.p_below()) for b, iv in grey.items()})
    grey_part = {"holds": True, "does not hold": False}.get(grey_result.verdict)
    bern = cell_intervals(cells(df, BERNOULLI, lambda r: r["recon_p99"] - hi, "recon_p99")) \
        if not missing(df, [BERNOULLI]) else {}
    reaches = holm([iv.p_above() for iv in bern.values()]) if bern else []
    bern_part = True if any(reaches) else None
    parts = [inside, grey_part, bern_part]
    numbers = (f"E[x] bounds at λ ∈ [{clamp[0]:g}, {clamp[1]:g}]: {lo:.4f}, {hi:.4f}; "
               f"CB 1st-99th percentiles {runs['recon_p01'].min():.4f} to {runs['recon_p99'].max():.4f} over "
               f"{len(runs)} runs; " if len(runs) else "no finished CB run; ")
    numbers += _ivs_text(grey, "data white − CB white level") + f" ({grey_result.text()}); "
    numbers += _ivs_text(bern, f"Bernoulli 99th percentile − {hi:.4f}") if bern else "Bernoulli: n/a"
    verdict = verdict_of(parts)
    follow = ""
    if verdict == "inconclusive" and inside is not None:
        follow = followup.straddles("CB's white level against the data's" if grey_part is None else
                                    f"Bernoulli's 99th percentile against {hi:.4f}",
                                    [CB] if grey_part is None else [BERNOULLI],
                                    [b for b in grey_result.betas if b not in grey_result.held]
                                    if grey_part is None else list(bern))
    return {"numbers": numbers, "runs": describe(df, [CB, BERNOULLI]), "verdict": verdict, "follow_up": follow,
            "reason": f"CB inside its bounds: {_yes(parts[0])}; CB's white clearly below the data's at every β: "
                      f"{_yes(parts[1])}; Bernoulli clearly reaches above {hi:.4f} at some β: {_yes(parts[2])}"}


def _yes(part):
    return {True: "yes", False: "no", None: "unclear"}[part]


def _moving(df, labels):
    """(reason, follow-up) when the runs of labels have not settled, else (None, None)."""
    reason = still_moving(df, labels)
    return (reason, moving_follow_up(df, labels)) if reason else (None, None)


def over_sharpening(df, specs):
    if missing(df, [CB]):
        return not_tested([CB])
    ratio = cell_intervals(cells(df, CB, lambda r: log(r["sharpness_param"]) - log(r["sharpness_data"]),
                                 "sharpness_param", "sharpness_data"))
    if not ratio:
        return no_spread(df, [CB])
    result = per_beta({b: ([iv.p_above()], iv.p_below()) for b, iv in ratio.items()})
    verdict, follow = _decided(result, [CB], "λ image against data sharpness")
    reason = f"{result.text()}: " + {"holds": "λ images clearly sharper than the data at every β",
                                     "does not hold": "λ images clearly less sharp than the data at some β"}.get(
        verdict, "some β undecided")
    moving, moving_fu = _moving(df, [CB])  # sharpness is a level: it changes with training
    if moving:
        verdict, reason, follow = "inconclusive", moving, moving_fu
    return {"numbers": _ivs_text(ratio, "λ image / data gradient energy", ratio=True),
            "runs": describe(df, [CB]), "verdict": verdict, "reason": reason, "follow_up": follow}


def float32_divergence(df, specs):
    lacking = missing(df, [NAIVE, CB])
    if lacking:
        return not_tested(lacking)
    naive, stable = of(df, NAIVE), of(df, CB)
    k_a, n_a = int((naive["outcome"] == "diverged").sum()), len(naive)
    k_b, n_b = int((stable["outcome"] == "diverged").sum()), len(stable)
    p = more_events(k_a, n_a, k_b, n_b)
    where = naive["diverged_epoch"].dropna()
    numbers = (f"{NAIVE} diverged in {k_a} of {n_a} runs"
               + (f" (epoch {int(where.min())}–{int(where.max())})" if len(where) else "")
               + f", {CB} in {k_b} of {n_b}; one-sided Fisher p = {p:.2g}; " + _float32_edge())
    if p < alpha(EVENT_ALPHA):
        verdict, reason = "holds", f"the float32 form diverges clearly more often (p < {alpha(EVENT_ALPHA):.3g})"
    elif n_a >= 3 and k_a / n_a <= k_b / n_b:
        verdict, reason = "does not hold", "the float32 form diverges no more often than the stable one"
    else:
        verdict, reason = "inconclusive", "too few runs to tell the rates apart"
    follow = followup.straddles("divergence rate, float32 CB against the stable CB", [NAIVE, CB],
                                sorted({float(b) for b in naive["beta"]})) if verdict == "inconclusive" else ""
    return {"numbers": numbers, "runs": describe(df, [NAIVE, CB]), "verdict": verdict, "reason": reason,
            "follow_up": follow}


def _float32_edge():
    """The naive log-normaliser log(2 artanh(1−2λ)/(1−2λ)) in float32 just below and at the edge."""
    import numpy as np

    out = []
    with np.errstate(all="ignore"):
        for lam in (1 - 1e-7, 1 - 1e-8):
            x = np.float32(lam)
            c = np.log(2 * np.arctanh(np.float32(1) - 2 * x) / (np.float32(1) - 2 * x))
            out.append(f"λ = 1−{1 - lam:.0e}: float32 λ {float(x):.8f}, log-normaliser {float(c):.3g}")
    return "; ".join(out)


@every_classifier
def desaturation(df, specs):
    lacking = missing(df, [CB, BERNOULLI])
    if lacking:
        return not_tested(lacking)
    stretch = cell_intervals(cells(df, CB, lambda r: log(r["fid_stretched"]) - log(r["fid"]), "fid",
                                   "fid_stretched"))
    squeeze = cell_intervals(cells(df, BERNOULLI, lambda r: log(r["fid_squeezed"]) - log(r["fid"]), "fid",
                                   "fid_squeezed"))
    runs = describe(df, [CB, BERNOULLI])
    if not stretch or not squeeze:
        return no_spread(df, [CB, BERNOULLI])
    tests = {}
    for b in sorted(set(stretch) | set(squeeze)):
        ivs = [iv for iv in (stretch.get(b), squeeze.get(b)) if iv is not None]
        tests[b] = ([iv.p_inside(FID_MARGIN) for iv in ivs],
                    min(1.0, len(ivs) * min(iv.p_outside(FID_MARGIN) for iv in ivs)))
    result = per_beta(tests)
    verdict, follow = _decided(result, [CB, BERNOULLI], "FID of levels changed against FID")
    reason = f"{result.text()}: " + {
        "holds": f"at every β neither change of levels moves FID beyond ×{math.exp(FID_MARGIN):.2f}",
        "does not hold": "at some β changing only the levels moves FID beyond the margin: FID sees them"}.get(
        verdict, "an interval straddles the margin at some β")
    # how FID weighs levels depends on what else the samples get right: judged on settled models only
    moving, moving_fu = _moving(df, [CB, BERNOULLI])
    if moving:
        verdict, reason, follow = "inconclusive", moving, moving_fu

    def pct(ivs):
        return ", ".join(f"β={b:g} {math.expm1(iv.estimate):+.1%} [{math.expm1(iv.lo):+.1%}, {math.expm1(iv.hi):+.1%}]"
                         for b, iv in sorted(ivs.items()))

    return {"numbers": f"FID change, CB stretched to the data's range: {pct(stretch)}; Bernoulli squeezed into "
                       f"CB's: {pct(squeeze)}; margin ±{math.expm1(FID_MARGIN):.0%}",
            "runs": runs, "verdict": verdict, "reason": reason, "follow_up": follow}


def bernoulli_not_density(df, specs):
    masses = {lam: bernoulli_mass(lam) for lam in (0.6, 0.9, 0.99, 0.9999)}
    off = max(abs(m - 1) for m in masses.values())
    return {"numbers": "∫₀¹ λ^x (1−λ)^(1−x) dx: " + ", ".join(f"λ={lam:g}: {m:.4f}" for lam, m in masses.items()),
            "runs": "none: a closed form (its reciprocal is CB's normaliser)",
            "verdict": "holds" if off > 1e-6 else "does not hold",
            "reason": f"the integral misses 1 by up to {off:.3g}"}


CLAIMS = [
    Claim("cb_param_vs_mean",
          "CB's parameter image λ is not what the model predicts: its expected value E[x] is greyer than λ at the "
          "data's black and white pixels, so images of λ look sharper than the model's predictions.",
          "E[x] − λ on the data's black pixels and λ − E[x] on its white pixels, per run, at each β",
          "per β (Holm over both ends and every β): both differences clearly > 0 at every β: holds; either clearly "
          "< 0 at some β: does not hold; else inconclusive",
          "cb_image", (_sweep(CB),), param_vs_mean),
    Claim("cb_mean_bounds",
          "CB's expected values cannot reach 0 or 1 (λ = 0.9999 gives a mean of 0.8915), so CB reconstructions "
          "are grey where the data is white.",
          "1st and 99th percentiles of CB reconstructions against E[x] at the clamp; white level against the "
          "data's at each β",
          "every CB run inside the bounds, CB's white level clearly below the data's at every β (Holm), and "
          "Bernoulli's 99th percentile clearly above the upper bound at some β (Holm; so the bound is CB's, not "
          "the network's)",
          "dynamic_range", (_sweep(CB), _sweep(BERNOULLI)), mean_bounds),
    Claim("cb_over_sharpening",
          "CB's parameter images look sharper than the original.",
          "gradient energy (mean squared neighbour difference) of λ reconstructions over that of the data, per β",
          "per β (Holm): the ratio clearly above 1 at every β: holds; clearly below 1 at some β: does not hold",
          "cb_image", (_sweep(CB),), over_sharpening),
    Claim("cb_float32_diverges",
          "In float32 a CB whose λ crosses about 1 − 1e-7 gets an infinite log-normaliser and diverges.",
          "diverged runs (a non-finite loss) of the float32 CB without a clamp against the stable CB; collapses "
          "are not divergence",
          f"one-sided Fisher exact test, p < {EVENT_ALPHA:g}",
          "divergence", (Need(NAIVE, (0.1, 1.0, 10.0), EVENT_EPOCHS), _sweep(CB)), float32_divergence),
    Claim("fid_blind_to_desaturation",
          "FID does not see CB's desaturation.",
          "FID change when only the levels change: CB's samples stretched to the data's range, Bernoulli's "
          "squeezed into CB's, at each β and under every FID classifier",
          f"per β (Holm, equivalence tests): both changes inside ×{math.exp(FID_MARGIN):.2f} at every β: holds; "
          "either clearly outside at some β: does not hold; the same under every classifier, else inconclusive",
          "dynamic_range", (_sweep(CB), _sweep(BERNOULLI)), desaturation),
    Claim("bernoulli_not_a_density",
          "Bernoulli (binary cross-entropy on [0, 1] data) is not a valid density.",
          "∫₀¹ of exp(−BCE) for λ ≠ 1/2, in closed form",
          "the integral differs from 1",
          "analytic/cb_log_prob", (), bernoulli_not_density),
]
assert all(n.label in LABEL_SPECS or n.label in (CB, BERNOULLI) for c in CLAIMS for n in c.needs)
