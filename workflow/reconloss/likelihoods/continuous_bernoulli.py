"""Continuous Bernoulli (Loaiza-Ganem & Cunningham 2019), stable in float32 everywhere.

p(x | lambda) = C(lambda) lambda^x (1 - lambda)^(1 - x) on [0, 1], with
C(lambda) = 2 artanh(1 - 2 lambda) / (1 - 2 lambda) (C(1/2) = 2) and mean
E[x] = lambda / (2 lambda - 1) + 1 / (2 artanh(1 - 2 lambda)) (1/2 at lambda = 1/2).

Numerics. Written in the logit eta = log(lambda / (1 - lambda)), both become simple,
because artanh(1 - 2 lambda) = -eta / 2 exactly:
    log C = log(eta / tanh(eta / 2)),      E[x] = 1 / (1 - exp(-eta)) - 1 / eta.
Away from eta = 0 these have no cancellation worth the name (evaluated with log1p/expm1
so that neither overflows); near eta = 0 (lambda = 1/2) both are 0/0 forms, so a Taylor
series is used there (|eta| < 1/2 for log C, |eta| < 1 for the mean, truncation error
below 1e-10). The likelihood keeps the decoder's logit and never forms lambda for these,
so nothing is lost to rounding lambda (near lambda = 1, float32 holds 1 - lambda to only
a few digits). The lambda-domain functions the contract names (cb_log_normalizer,
cb_mean) first recover eta from lambda to full float32 precision: 2 artanh(2 lambda - 1)
in [1/4, 3/4], where 2 lambda - 1 is exact in floating point (Sterbenz), and
log(lambda) - log1p(-lambda) outside, where the two logs do not cancel.

torch.distributions.ContinuousBernoulli evaluates lambda-domain formulas and switches to
its Taylor series only inside (0.499, 0.501); in float32 it loses digits just outside that
window. Every torch.where below selects between branches computed on "safe" inputs so that
the branch not taken cannot put a NaN into the gradient.
"""

import math

import torch

from reconloss.likelihoods.base import Likelihood, sum_per_example
from reconloss.option_ranges import Range

LOG2 = math.log(2.0)

# log(y / tanh y) = y^2/3 - 7 y^4/90 + 62 y^6/2835 - 127 y^8/18900 + ... in s = y^2, y = eta/2
_LOGC_SERIES = (1.0 / 3.0, -7.0 / 90.0, 62.0 / 2835.0, -127.0 / 18900.0, 0.0021848110736999626)
# 1/(1 - e^-eta) - 1/eta = 1/2 + sum_k B_2k eta^(2k-1) / (2k)!  (Bernoulli numbers)
_MEAN_SERIES = (1.0 / 12.0, -1.0 / 720.0, 1.0 / 30240.0, -1.0 / 1209600.0, 1.0 / 47900160.0,
                -691.0 / 1307674368000.0)
_LOGC_TAYLOR = 0.5
_MEAN_TAYLOR = 1.0


def _poly(coeffs, s):
    """sum_k coeffs[k] s^k by Horner's rule."""
    acc = torch.zeros_like(s) + coeffs[-1]
    for c in reversed(coeffs[:-1]):
        acc = acc * s + c
    return acc


def cb_log_normalizer_logits(eta):
    """log C as a function of the logit eta: log(eta / tanh(eta/2)); log 2 at eta = 0."""
    small = eta.abs() < _LOGC_TAYLOR
    y2 = (0.5 * torch.where(small, eta, torch.zeros_like(eta))).square()
    series = LOG2 + y2 * _poly(_LOGC_SERIES, y2)
    a = torch.where(small, torch.ones_like(eta), eta.abs())
    # log tanh(a/2) = log1p(-e^-a) - log1p(e^-a): no overflow, accurate for large a
    e = torch.exp(-a)
    direct = torch.log(a) - torch.log1p(-e) + torch.log1p(e)
    return torch.where(small, series, direct)


def cb_mean_logits(eta):
    """E[x] as a function of the logit eta: 1/(1 - e^-eta) - 1/eta; 1/2 at eta = 0."""
    small = eta.abs() < _MEAN_TAYLOR
    es = torch.where(small, eta, torch.zeros_like(eta))
    series = 0.5 + es * _poly(_MEAN_SERIES, es.square())
    ed = torch.where(small, torch.ones_like(eta), eta)
    # 1/(1 - e^-eta) = exp(eta)/expm1(eta) for eta < 0, 1/(-expm1(-eta)) for eta > 0: no overflow
    pos = ed > 0
    inv = torch.where(pos, 1.0 / -torch.expm1(-ed.abs()), torch.exp(-ed.abs()) / torch.expm1(-ed.abs()))
    direct = inv - 1.0 / ed
    return torch.where(small, series, direct)


#: The `clamp` option of both continuous Bernoullis: [lo, hi] with 0 < lo < hi < 1.
CLAMP_RANGE = Range(exclusive_minimum=0, exclusive_maximum=1, ordered=True)


def _logit(lam):
    """logit(lambda) to full precision of lambda's dtype (see module docstring)."""
    mid = (lam >= 0.25) & (lam <= 0.75)
    lm = torch.where(mid, lam, torch.full_like(lam, 0.5))
    lo = torch.where(mid, torch.full_like(lam, 0.1), lam)
    return torch.where(mid, 2.0 * torch.atanh(2.0 * lm - 1.0), torch.log(lo) - torch.log1p(-lo))


def cb_log_normalizer(lam):
    """log C(lambda), C = 2 artanh(1 - 2 lambda)/(1 - 2 lambda), C(1/2) = 2; lambda in (0, 1)."""
    return cb_log_normalizer_logits(_logit(lam))


def cb_mean(lam):
    """E[x] = lambda/(2 lambda - 1) + 1/(2 artanh(1 - 2 lambda)), 1/2 at lambda = 1/2."""
    return cb_mean_logits(_logit(lam))


class ContinuousBernoulli(Likelihood):
    """lambda = sigmoid(decoder output), clamped into `clamp` (default [1e-4, 1 - 1e-4], the
    CB authors' choice: C(lambda) grows like log(1/lambda) towards the ends and the mean
    approaches 0 or 1 only logarithmically, so nothing is gained beyond it).

    The clamp is applied to the logit (the same set of lambdas, the logit of the bounds is
    taken in float64); like the authors' clamp of lambda, it passes no gradient outside.
    NLL = -sum[x log lambda + (1 - x) log(1 - lambda) + log C(lambda)], with log lambda =
    logsigmoid(eta) and log(1 - lambda) = logsigmoid(-eta), exact for every logit.
    The parameter image is lambda (what the CB paper plotted), the expected value is the
    CB mean, and a sample is an inverse-CDF draw, x = log1p(u expm1(eta)) / eta.
    """

    param_label = "lambda"
    option_ranges = {"clamp": CLAMP_RANGE}

    def __init__(self, data_shape, clamp=(1e-4, 1.0 - 1e-4)):
        super().__init__(data_shape)
        self.clamp = lo, hi = self._options(clamp=clamp)["clamp"]
        self.logit_bounds = (math.log(lo) - math.log1p(-lo), math.log(hi) - math.log1p(-hi))

    def logits(self, out):
        return out.clamp(*self.logit_bounds)

    def nll(self, x, out):
        self._check(x, out)
        eta = self.logits(out)
        logp = x * torch.nn.functional.logsigmoid(eta) + (1.0 - x) * torch.nn.functional.logsigmoid(-eta)
        return -sum_per_example(logp + cb_log_normalizer_logits(eta))

    def mean(self, out):
        return cb_mean_logits(self.logits(out))

    def param_image(self, out):
        return torch.sigmoid(self.logits(out))

    def sample(self, out, generator=None, x=None):
        eta = self.logits(out)
        u = torch.rand(eta.shape, generator=generator, device=eta.device, dtype=eta.dtype)
        tiny = eta.abs() < 1e-6
        safe = torch.where(tiny, torch.ones_like(eta), eta)
        return torch.where(tiny, u, torch.log1p(u * torch.expm1(safe)) / safe).clamp(0.0, 1.0)

    def extra_repr(self):
        return f"{super().extra_repr()}, clamp={self.clamp}"
