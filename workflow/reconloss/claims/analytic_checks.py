"""The post's statements that need no training, each computed here and compared with a stated tolerance.

Each check is a closed form or a numerical optimum computed in float64 (scipy), torch-free so that the claims
table needs no torch; the float32 checks use numpy's float32, which rounds as a float32 model does. A check
returns its numbers and whether they lie within its tolerance; claims.md shows both. The analytic figures
(reconloss.analytic) draw the same functions.
"""

import math
from dataclasses import dataclass
from typing import Callable

import numpy as np


@dataclass(frozen=True)
class Check:
    """quantity: what is computed; tolerance: when it agrees; figure: where it is drawn; compute() ->
    (numbers text, within tolerance)."""

    quantity: str
    tolerance: str
    figure: str
    compute: Callable


def cb_mean(lam):
    """E[x] of the continuous Bernoulli in float64 (λ ≠ 1/2)."""
    return lam / (2 * lam - 1) + 1 / (2 * math.atanh(1 - 2 * lam))


def cb_log_norm(lam):
    """log C(λ) = log(2 artanh(1 − 2λ) / (1 − 2λ)), log 2 at λ = 1/2."""
    return math.log(2.0) if lam == 0.5 else math.log(2 * math.atanh(1 - 2 * lam) / (1 - 2 * lam))


def _diag_gaussian_sum():
    from scipy.stats import multivariate_normal, norm

    rng = np.random.default_rng(0)
    x, mu, sd = rng.uniform(0, 1, 64), rng.uniform(0, 1, 64), rng.uniform(0.05, 0.5, 64)
    joint = multivariate_normal(mu, np.diag(sd ** 2)).logpdf(x)
    summed = norm.logpdf(x, mu, sd).sum()
    return f"joint {joint:.9g}, sum of 64 pixels {summed:.9g}", abs(joint - summed) < 1e-8 * abs(joint)


def _half_below_zero():
    from scipy.stats import norm

    mass = {s: norm.cdf(0, 0, s) for s in (0.01, 0.1, 0.7)}
    return ", ".join(f"σ {s:g}: {m:.12g}" for s, m in mass.items()), all(abs(m - 0.5) < 1e-12 for m in mass.values())


def _fixed_is_mse():
    from scipy.stats import norm

    rng = np.random.default_rng(1)
    x, sigma = rng.uniform(0, 1, 32), 0.3
    gaps = [-norm.logpdf(x, mu, sigma).sum() - ((x - mu) ** 2).sum() / (2 * sigma ** 2)
            for mu in rng.uniform(0, 1, (5, 32))]
    return f"NLL − SSE/(2σ²) over 5 means: {min(gaps):.12g} … {max(gaps):.12g}", max(gaps) - min(gaps) < 1e-9


def _bce_minimum():
    from scipy.optimize import minimize_scalar

    xs = (0.1, 0.3, 0.5, 0.8, 0.95)
    best = {x: minimize_scalar(lambda t, x=x: -x * math.log(t) - (1 - x) * math.log(1 - t), bounds=(1e-9, 1 - 1e-9),
                               method="bounded", options={"xatol": 1e-10}).x for x in xs}
    return ", ".join(f"x {x:g}: θ* {t:.6f}" for x, t in best.items()), all(abs(t - x) < 1e-5 for x, t in best.items())


def _cb_normalised():
    from scipy.integrate import quad

    lams = (0.1, 0.3, 0.7, 0.9999)
    total = {lam: quad(lambda x, lam=lam: lam ** x * (1 - lam) ** (1 - x), 0, 1, epsabs=1e-13)[0]
             * math.exp(cb_log_norm(lam)) for lam in lams}
    return ", ".join(f"λ {lam:g}: {v:.10f}" for lam, v in total.items()), all(abs(v - 1) < 1e-8 for v in total.values())


def _log_norm_grows():
    lams = (0.5, 0.6, 0.9, 0.99, 0.9999)
    vals = [cb_log_norm(lam) for lam in lams]
    mirror = max(abs(cb_log_norm(lam) - cb_log_norm(1 - lam)) for lam in lams[1:])
    ok = all(b > a for a, b in zip(vals, vals[1:])) and mirror < 1e-9
    return ", ".join(f"λ {lam:g}: {v:.4f}" for lam, v in zip(lams, vals)) + f"; |log C(λ) − log C(1−λ)| ≤ {mirror:.1e}", ok


def _cb_fit(x):
    """The λ maximising the CB log-likelihood of one value x: the λ whose mean is x (an exponential family)."""
    from scipy.optimize import brentq

    return brentq(lambda lam: cb_mean(lam) - x, 0.5 + 1e-9, 1 - 1e-15, xtol=1e-16) if x > 0.5 else \
        1 - _cb_fit(1 - x)


def _pushes_extreme():
    from scipy.optimize import minimize_scalar

    xs = (0.6, 0.8, 0.9)
    fit = {x: minimize_scalar(lambda lam, x=x: -(x * math.log(lam) + (1 - x) * math.log(1 - lam) + cb_log_norm(lam)),
                              bounds=(0.5 + 1e-6, 1 - 1e-12), method="bounded", options={"xatol": 1e-12}).x
           for x in xs}
    return ", ".join(f"x {x:g}: λ* {lam:.6f}" for x, lam in fit.items()), all(lam > x + 1e-3 for x, lam in fit.items())


def _mean_not_parameter():
    gap = {lam: cb_mean(lam) - lam for lam in (0.1, 0.3, 0.9)}
    return ", ".join(f"λ {lam:g}: E[x] − λ {g:+.4f}" for lam, g in gap.items()), all(abs(g) > 1e-2 for g in gap.values())


def _mean_less_extreme():
    lams = [v for v in np.linspace(0.001, 0.999, 199) if abs(v - 0.5) > 1e-6]
    margin = min(abs(lam - 0.5) - abs(cb_mean(lam) - 0.5) for lam in lams)
    return f"min over 198 λ in [0.001, 0.999] of |λ − ½| − |E[x] − ½|: {margin:.3g}", margin > 0


def _needs_extreme():
    lam = _cb_fit(0.9)
    return f"λ with E[x] = 0.9: {lam:.7f} (Bernoulli's: 0.9)", lam > 0.999


def _mean_steep():
    h = 1e-9
    slope = {lam: (cb_mean(lam + h) - cb_mean(lam - h)) / (2 * h) for lam in (0.6, 0.9999)}
    return ", ".join(f"dE/dλ at {lam:g}: {s:.4g}" for lam, s in slope.items()), slope[0.9999] > 100 * slope[0.6]


def _larger_gradients():
    """d log p / d logit is x − E[x] for CB (an exponential family) and x − λ for Bernoulli: CB's is larger
    wherever λ already leans towards the pixel's value, which is where a trained model's λ sits."""
    cases = [(1.0, lam) for lam in (0.6, 0.9, 0.99)] + [(0.0, lam) for lam in (0.4, 0.1, 0.01)]
    ratio = {(x, lam): abs(x - cb_mean(lam)) / abs(x - lam) for x, lam in cases}
    return ", ".join(f"x {x:g}, λ {lam:g}: ×{r:.3g}" for (x, lam), r in ratio.items()), all(r > 1 for r in ratio.values())


def _mean_at(lam, post, tol):
    def compute():
        value = cb_mean(lam)
        return f"E[x] at λ {lam!r}: {value:.6f} (post: {post:g})", abs(value - post) <= tol
    return compute


def _float32_one():
    held = np.float32(1 - 1e-8)
    return f"float32(1 − 1e-8) = {float(held):.10g}; float32 spacing below 1: {float(np.spacing(np.float32(1)) / 2):.3g}", \
        float(held) == 1.0


def _naive_negative():
    lam, one, two = np.float32(1e-8), np.float32(1), np.float32(2)
    with np.errstate(divide="ignore"):
        value = lam / (two * lam - one) + one / (two * np.arctanh(one - two * lam))
    return f"λ/(2λ−1) + 1/(2 artanh(1−2λ)) in float32 at λ 1e-8: {float(value):.3g}", float(value) < 0


def _beta_same_mean():
    from scipy.stats import beta

    pairs = ((2, 3), (20, 30), (200, 300))
    means = [beta(a, b).mean() for a, b in pairs]
    return ", ".join(f"Beta{p}: mean {m:.12g}" for p, m in zip(pairs, means)), all(abs(m - 0.4) < 1e-12 for m in means)


def _beta_variance():
    from scipy.stats import beta

    pairs = ((2, 3), (20, 30), (200, 300))
    var = [beta(a, b).var() for a, b in pairs]
    return ", ".join(f"Beta{p}: var {v:.3g}" for p, v in zip(pairs, var)), all(b < a for a, b in zip(var, var[1:]))


def _dropped_sigma():
    sigma = math.sqrt(0.5)
    return f"2σ² = 1 ⇒ σ = {sigma:.4f} (post: about 0.7)", abs(sigma - 0.7) < 0.01


def _smaller_sigma():
    weight = {s: 1 / (2 * s ** 2) for s in (0.7071, 0.1, 0.7071 / 255)}
    return ", ".join(f"σ {s:.3g}: squared-error weight {w:.4g}" for s, w in weight.items()), \
        all(b > a for a, b in zip(weight.values(), list(weight.values())[1:]))


def _optimal_pixel():
    from scipy.optimize import minimize_scalar

    out = {}
    for r in (0.05, 0.3):
        res = minimize_scalar(lambda s, r=r: math.log(s) + r ** 2 / (2 * s ** 2), bounds=(1e-6, 10), method="bounded",
                              options={"xatol": 1e-12})
        out[r] = (res.x, res.fun)
    ok = all(abs(s - r) < 1e-6 and abs(f - (math.log(r) + 0.5)) < 1e-9 for r, (s, f) in out.items())
    return ", ".join(f"r {r:g}: σ* {s:.7f}, L* {f:.7f} (log r + ½ = {math.log(r) + 0.5:.7f})"
                     for r, (s, f) in out.items()), ok


def _log_unbounded():
    vals = {r: math.log(r) for r in (1e-1, 1e-10, 1e-100)}
    return ", ".join(f"log {r:g} = {v:.4g}" for r, v in vals.items()), vals[1e-100] < -200


def _gradient_grows():
    rs = (0.1, 0.01)
    log_grad, sq_grad = [1 / r for r in rs], [2 * r for r in rs]
    return (f"residual 0.1 → 0.01: |d log r/dr| {log_grad[0]:g} → {log_grad[1]:g}, |d r²/dr| {sq_grad[0]:g} → "
            f"{sq_grad[1]:g}"), log_grad[1] > log_grad[0] and sq_grad[1] < sq_grad[0]


def _optimal_image():
    from scipy.optimize import minimize_scalar

    rng, d = np.random.default_rng(2), 784
    gaps, fits = [], []
    for scale in (0.02, 0.1, 0.3):
        sse = float((rng.normal(0, scale, d) ** 2).sum())
        res = minimize_scalar(lambda s: d * math.log(s) + sse / (2 * s ** 2), bounds=(1e-6, 10), method="bounded",
                              options={"xatol": 1e-12})
        fits.append(abs(res.x ** 2 - sse / d) / (sse / d))
        gaps.append(res.fun - d / 2 * math.log(sse))
    return (f"σ*² / MSE − 1 ≤ {max(fits):.1e}; L* − (d/2) log SSE: {min(gaps):.9g} … {max(gaps):.9g} (d = {d})",
            max(fits) < 1e-6 and max(gaps) - min(gaps) < 1e-6)


def _one_exact_pixel():
    r = np.array([0.0, 0.1, 0.2, 0.05])
    with np.errstate(divide="ignore"):
        per_pixel = float(np.log(np.abs(r)).sum())
    per_image = float(len(r) / 2 * np.log((r ** 2).sum()))
    return f"one exact pixel of 4: Σ log|r| = {per_pixel}, (d/2) log Σ r² = {per_image:.4g}", \
        per_pixel == -math.inf and math.isfinite(per_image)


_CB = "analytic/cb_mean"
CHECKS = {
    "log_likelihood_sums": Check("log-density of 64 independent Gaussian pixels, jointly (scipy multivariate) and "
                                 "as a sum", "equal to 1e-8 relative", "analytic/cb_log_prob", _diag_gaussian_sum),
    "half_below_zero": Check("P(x < 0) of a Gaussian with mean 0, σ ∈ {0.01, 0.1, 0.7}", "0.5 to 1e-12",
                             "analytic/sigma_beta", _half_below_zero),
    "fixed_is_mse": Check("Gaussian NLL minus SSE/(2σ²) over random means, σ = 0.3", "constant to 1e-9",
                          "analytic/sigma_beta", _fixed_is_mse),
    "bce_minimum": Check("argmin over θ of the cross-entropy for x ∈ {0.1, 0.3, 0.5, 0.8, 0.95}", "θ* = x to 1e-5",
                         "analytic/bernoulli_cross_entropy", _bce_minimum),
    "cb_normalised": Check("∫₀¹ C(λ) λˣ(1−λ)¹⁻ˣ dx (scipy quad)", "1 to 1e-8", "analytic/cb_log_prob", _cb_normalised),
    "log_norm_grows": Check("log C(λ) from λ ½ to 0.9999, and its mirror 1 − λ", "strictly increasing; symmetric to "
                            "1e-9", "analytic/cb_log_normalizer", _log_norm_grows),
    "pushes_extreme": Check("λ maximising the CB log-likelihood of x ∈ {0.6, 0.8, 0.9}", "λ* > x + 1e-3",
                            "analytic/cb_target", _pushes_extreme),
    "mean_not_parameter": Check("E[x] − λ of CB at λ ∈ {0.1, 0.3, 0.9} (Bernoulli's and Gaussian's is 0)",
                                "|E[x] − λ| > 0.01", _CB, _mean_not_parameter),
    "mean_less_extreme": Check("|λ − ½| − |E[x] − ½| over a grid of λ", "> 0 everywhere", _CB, _mean_less_extreme),
    "larger_gradients": Check("CB's gradient of the log-likelihood in the logit, |x − E[x]|, over Bernoulli's, "
                              "|x − λ|, for x ∈ {0, 1} and λ leaning towards x", "above ×1 in every case",
                              "analytic/cb_target", _larger_gradients),
    "needs_extreme": Check("λ whose CB mean is 0.9 (brentq)", "> 0.999", _CB, _needs_extreme),
    "mean_steep": Check("dE/dλ at λ 0.9999 against λ 0.6 (central difference)", "more than 100× steeper", _CB,
                        _mean_steep),
    "mean_09999": Check("E[x] of CB at λ 0.9999 (float64)", "within 5e-5 of 0.8915", _CB, _mean_at(0.9999, 0.8915, 5e-5)),
    "mean_0999999": Check("E[x] of CB at λ 0.9999999 (float64)", "within 1e-3 of 0.9373 (the post's fourth digit "
                          "is not reproduced in float64)", _CB, _mean_at(0.9999999, 0.9373, 1e-3)),
    "float32_one": Check("1 − 1e-8 stored as float32", "exactly 1.0", "analytic/cb_float32_error", _float32_one),
    "naive_negative": Check("the CB mean's closed form evaluated in float32 at λ 1e-8", "< 0",
                            "analytic/cb_float32_error", _naive_negative),
    "beta_same_mean": Check("mean of Beta(2, 3), Beta(20, 30), Beta(200, 300) (scipy)", "0.4 to 1e-12",
                            "analytic/cb_mean", _beta_same_mean),
    "beta_variance": Check("variance of the same three Beta distributions", "strictly decreasing",
                           "analytic/cb_mean", _beta_variance),
    "dropped_sigma": Check("σ for which 2σ² = 1", "within 0.01 of 0.7", "analytic/sigma_beta", _dropped_sigma),
    "smaller_sigma": Check("the squared error's weight 1/(2σ²) against the KL's 1, σ ∈ {0.71, 0.1, 0.71/255}",
                           "strictly increasing as σ shrinks", "analytic/sigma_beta", _smaller_sigma),
    "optimal_pixel": Check("argmin over σ of log σ + r²/(2σ²) and its value, r ∈ {0.05, 0.3}",
                           "σ* = |r| to 1e-6, L* = log|r| + ½ to 1e-9", "analytic/log_abs_residual", _optimal_pixel),
    "log_unbounded": Check("log|r| as r → 0", "below −200 at r = 1e-100 (no minimum)", "analytic/log_abs_residual",
                           _log_unbounded),
    "gradient_grows": Check("gradient of log|r| and of r² at r 0.1 and 0.01", "log's grows, square's shrinks",
                            "analytic/log_abs_residual", _gradient_grows),
    "optimal_image": Check("argmin over σ of d log σ + SSE/(2σ²) for three residual images (d = 784)",
                           "σ*² = MSE to 1e-6 relative; L* − (d/2) log SSE constant to 1e-6", "analytic/log_abs_residual",
                           _optimal_image),
    "one_exact_pixel": Check("per-pixel and per-image optimal-σ losses of a residual with one exact pixel",
                             "per-pixel −∞, per-image finite", "analytic/log_abs_residual", _one_exact_pixel),
}


def run(name):
    """{quantity, rule, numbers, verdict, reason, figure} of one check."""
    check = CHECKS[name]
    try:
        numbers, ok = check.compute()
    except Exception as err:  # a check that cannot be computed is named, never dropped
        return {"quantity": check.quantity, "rule": f"tolerance: {check.tolerance}", "numbers": "",
                "verdict": "inconclusive", "reason": f"the check failed: {err!r}", "figure": check.figure}
    return {"quantity": check.quantity, "rule": f"computed, not trained; holds within the tolerance: {check.tolerance}",
            "numbers": numbers, "verdict": "holds" if ok else "does not hold",
            "reason": "within the tolerance" if ok else "outside the tolerance", "figure": check.figure}
