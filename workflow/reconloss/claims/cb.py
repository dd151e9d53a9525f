"""Claims about the continuous Bernoulli (CB) and Bernoulli: what their images show, their range, float32.

CB's parameter λ is not its expected value: E[x] = λ/(2λ−1) + 1/(2 artanh(1−2λ)),
which stays inside (0.1085, 0.8915) for λ in the default clamp [1e-4, 1−1e-4].
Bernoulli's "density" λ^x (1−λ)^(1−x) does not integrate to 1 over [0, 1]; its
normaliser is what CB adds.
"""

import math

from reconloss.claims.claim import (
    BETA_SWEEP, EVENT_EPOCHS, SWEEP_EPOCHS, Claim, LABEL_SPECS, Need, verdict_of,
)
from reconloss.claims.evidence import EVENT_ALPHA, Spread, grand_mean, more_events
from reconloss.claims.runs import cells, describe, finished, log, missing, not_tested, of, still_moving
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


def _grand(c, comparisons=1):
    """Interval of the mean over β of per-run values, with the spread pooled over the β cells."""
    return grand_mean(c.values(), Spread.pooled(c.values()), comparisons)


def _signed(iv):
    return None if iv is None or iv.sign() == 0 else iv.sign() > 0


def param_vs_mean(df, specs):
    if missing(df, [CB]):
        return not_tested([CB])
    black = cells(df, CB, lambda r: r["black_level"] - r["param_black_level"], "black_level", "param_black_level")
    white = cells(df, CB, lambda r: r["param_white_level"] - r["white_level"], "white_level", "param_white_level")
    ivs = [_grand(c, comparisons=2) for c in (black, white)]
    parts = [_signed(iv) for iv in ivs]
    verdict = verdict_of(parts)
    if None in ivs:
        return {"runs": describe(df, [CB]), "verdict": "inconclusive",
                "reason": "no seed-to-seed spread (one seed per β)"}
    return {"numbers": f"E[x] − λ on the data's black pixels {ivs[0].text()}; λ − E[x] on its white pixels "
                       f"{ivs[1].text()} (mean over β, interval over seeds)",
            "runs": describe(df, [CB]), "verdict": verdict,
            "reason": {"holds": "both clearly > 0: E[x] is greyer than λ at both ends",
                       "does not hold": "a difference is clearly < 0"}.get(verdict, "an interval holds 0")}


def mean_bounds(df, specs):
    if missing(df, [CB]):
        return not_tested([CB])
    clamp = (specs.get(CB, {}).get("options") or {}).get("clamp") or option_default(CB, "clamp")
    lo, hi = cb_mean(float(clamp[0])), cb_mean(float(clamp[1]))
    runs = finished(of(df, CB), "recon_p01", "recon_p99")
    inside = (bool(len(runs)) and bool((runs["recon_p99"] <= hi + 1e-4).all())
              and bool((runs["recon_p01"] >= lo - 1e-4).all())) if len(runs) else None
    grey = _grand(cells(df, CB, lambda r: r["data_white_level"] - r["white_level"], "white_level",
                        "data_white_level"), comparisons=2)
    bern = _grand(cells(df, BERNOULLI, lambda r: r["recon_p99"] - hi, "recon_p99"), comparisons=2) \
        if not missing(df, [BERNOULLI]) else None
    parts = [inside, _signed(grey), True if bern is not None and bern.sign() > 0 else None]
    numbers = (f"E[x] bounds at λ ∈ [{clamp[0]:g}, {clamp[1]:g}]: {lo:.4f}, {hi:.4f} (the study: 0.1085, 0.8915); "
               f"CB 1st-99th percentiles {runs['recon_p01'].min():.4f} to {runs['recon_p99'].max():.4f} over "
               f"{len(runs)} runs; " if len(runs) else "no finished CB run; ")
    numbers += f"data white − CB white level {grey.text() if grey else 'n/a'}; "
    numbers += f"Bernoulli 99th percentile − {hi:.4f}: {bern.text() if bern else 'n/a'}"
    return {"numbers": numbers, "runs": describe(df, [CB, BERNOULLI]), "verdict": verdict_of(parts),
            "reason": f"CB inside its bounds: {_yes(parts[0])}; CB's white clearly below the data's: "
                      f"{_yes(parts[1])}; Bernoulli clearly reaches above {hi:.4f}: {_yes(parts[2])}"}


def _yes(part):
    return {True: "yes", False: "no", None: "unclear"}[part]


def over_sharpening(df, specs):
    if missing(df, [CB]):
        return not_tested([CB])
    ratio = _grand(cells(df, CB, lambda r: log(r["sharpness_param"]) - log(r["sharpness_data"]),
                        "sharpness_param", "sharpness_data"))
    if ratio is None:
        return {"runs": describe(df, [CB]), "verdict": "inconclusive", "reason": "no seed-to-seed spread"}
    verdict = {1: "holds", -1: "does not hold", 0: "inconclusive"}[ratio.sign()]
    reason = {"holds": "λ images clearly sharper than the data", "does not hold":
              "λ images clearly less sharp than the data"}.get(verdict, "the interval holds ×1")
    moving = still_moving(df, [CB])  # sharpness is a level: it changes with training
    if moving:
        verdict, reason = "inconclusive", moving
    return {"numbers": f"λ image / data gradient energy ×{math.exp(ratio.estimate):.3g} "
                       f"[{math.exp(ratio.lo):.3g}, {math.exp(ratio.hi):.3g}]",
            "runs": describe(df, [CB]), "verdict": verdict, "reason": reason}


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
    if p < EVENT_ALPHA:
        verdict, reason = "holds", f"the float32 form diverges clearly more often (p < {EVENT_ALPHA:g})"
    elif n_a >= 3 and k_a / n_a <= k_b / n_b:
        verdict, reason = "does not hold", "the float32 form diverges no more often than the stable one"
    else:
        verdict, reason = "inconclusive", "too few runs to tell the rates apart"
    return {"numbers": numbers, "runs": describe(df, [NAIVE, CB]), "verdict": verdict, "reason": reason}


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


def desaturation(df, specs):
    lacking = missing(df, [CB, BERNOULLI])
    if lacking:
        return not_tested(lacking)
    stretch = cells(df, CB, lambda r: log(r["fid_stretched"]) - log(r["fid"]), "fid", "fid_stretched")
    squeeze = cells(df, BERNOULLI, lambda r: log(r["fid_squeezed"]) - log(r["fid"]), "fid", "fid_squeezed")
    noise = Spread.pooled([*cells(df, CB, lambda r: log(r["fid"]), "fid").values(),
                           *cells(df, BERNOULLI, lambda r: log(r["fid"]), "fid").values()])
    ivs = [_grand(c, comparisons=2) for c in (stretch, squeeze)]
    runs = describe(df, [CB, BERNOULLI])
    if None in ivs or not noise.df:
        return {"runs": runs, "verdict": "inconclusive", "reason": "no seed-to-seed spread (one seed per β)"}
    margin = noise.margin
    parts = [iv.similar(margin) for iv in ivs]
    verdict = verdict_of(parts)
    reason = {"holds": "neither change of levels moves FID beyond seed noise",
              "does not hold": "changing only the levels moves FID beyond seed noise: FID sees them"}.get(
        verdict, "an interval straddles the margin")
    # how FID weighs levels depends on what else the samples get right: judged on settled models only
    moving = still_moving(df, [CB, BERNOULLI])
    if moving:
        verdict, reason = "inconclusive", moving

    def pct(iv):
        return f"{math.expm1(iv.estimate):+.1%} [{math.expm1(iv.lo):+.1%}, {math.expm1(iv.hi):+.1%}]"

    return {"numbers": f"FID change, CB stretched to the data's range {pct(ivs[0])}; Bernoulli squeezed into "
                       f"CB's {pct(ivs[1])}; noise margin ±{math.expm1(margin):.1%} (log FID {noise.text()})",
            "runs": runs, "verdict": verdict, "reason": reason}


def bernoulli_not_density(df, specs):
    masses = {lam: bernoulli_mass(lam) for lam in (0.6, 0.9, 0.99, 0.9999)}
    off = max(abs(m - 1) for m in masses.values())
    return {"numbers": "∫₀¹ λ^x (1−λ)^(1−x) dx: " + ", ".join(f"λ={lam:g}: {m:.4f}" for lam, m in masses.items()),
            "runs": "none: a closed form (its reciprocal is CB's normaliser)",
            "verdict": "holds" if off > 1e-6 else "does not hold",
            "reason": f"the integral misses 1 by up to {off:.3g}"}


CLAIMS = [
    Claim("cb_param_vs_mean",
          "The CB paper showed distribution parameters (λ) instead of expected values: they look sharp but are "
          "not what the model predicts; E[x] is greyer.",
          "E[x] − λ on the data's black pixels and λ − E[x] on its white pixels, per run",
          "both mean differences over β clearly > 0 (interval excludes 0, Bonferroni over 2)",
          "cb_image", (_sweep(CB),), param_vs_mean),
    Claim("cb_mean_bounds",
          "CB's expected values cannot reach 0 or 1 (λ = 0.9999 gives a mean of 0.8915), so CB reconstructions "
          "are grey where the data is white.",
          "1st and 99th percentiles of CB reconstructions against E[x] at the clamp; white level against the data's",
          "every CB run inside the bounds, CB's white level clearly below the data's, and Bernoulli's 99th "
          "percentile clearly above the upper bound (so the bound is CB's, not the network's)",
          "dynamic_range", (_sweep(CB), _sweep(BERNOULLI)), mean_bounds),
    Claim("cb_over_sharpening",
          "CB's parameter images look sharper than the original.",
          "gradient energy (mean squared neighbour difference) of λ reconstructions over that of the data",
          "the ratio's interval (mean over β) clearly above 1: holds; clearly below: does not hold",
          "cb_image", (_sweep(CB),), over_sharpening),
    Claim("cb_float32_diverges",
          "In float32 a CB whose λ crosses about 1 − 1e-7 gets an infinite log-normaliser and diverges.",
          "diverged runs of the float32 CB without a clamp against the stable CB",
          f"one-sided Fisher exact test, p < {EVENT_ALPHA:g}",
          "divergence", (Need(NAIVE, (0.1, 1.0, 10.0), EVENT_EPOCHS), _sweep(CB)), float32_divergence),
    Claim("fid_blind_to_desaturation",
          "FID does not see CB's desaturation.",
          "FID change when only the levels change: CB's samples stretched to the data's range, Bernoulli's "
          "squeezed into CB's",
          "both changes inside the noise margin of log FID: holds; either wholly outside: does not hold",
          "dynamic_range", (_sweep(CB), _sweep(BERNOULLI)), desaturation),
    Claim("bernoulli_not_a_density",
          "Bernoulli (binary cross-entropy on [0, 1] data) is not a valid density.",
          "∫₀¹ of exp(−BCE) for λ ≠ 1/2, in closed form",
          "the integral differs from 1",
          "analytic/cb_log_prob", (), bernoulli_not_density),
]
assert all(n.label in LABEL_SPECS or n.label in (CB, BERNOULLI) for c in CLAIMS for n in c.needs)
