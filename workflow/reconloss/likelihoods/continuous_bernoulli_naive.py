"""Continuous Bernoulli as common float32 code computes it: the lambda-domain formulas.

lambda = sigmoid(decoder output), then, as written in the CB paper and in most code,
    log C = log(2 artanh(1 - 2 lambda) / (1 - 2 lambda)),
    E[x]  = lambda / (2 lambda - 1) + 1 / (2 artanh(1 - 2 lambda)),
with a Taylor series only inside torch.distributions.ContinuousBernoulli's window
lambda in (0.499, 0.501), where both are 0/0. It exists to show what that costs: in
float32, sigmoid(eta) rounds to 1.0 once eta > ~16.6 (1 - lambda < 6e-8), artanh(-1) is
infinite and the NLL is not finite; near lambda = 0, 1 - 2 lambda rounds to 1 and the mean
cancels (it goes negative at lambda = 1e-8). The stable version is continuous_bernoulli.
"""

import math

import torch

from reconloss.likelihoods.base import Likelihood, sum_per_example
from reconloss.likelihoods.continuous_bernoulli import CLAMP_RANGE

LOG2 = math.log(2.0)
_BAND = (0.499, 0.501)  # torch.distributions.ContinuousBernoulli's lims


def naive_cb_log_normalizer(lam):
    """log C(lambda) as written, Taylor series log 2 + 4/3 d^2 + 104/45 d^4 (d = lambda - 1/2)
    inside the band, as torch.distributions does. Branches on safe inputs (no NaN gradient)."""
    band = (lam > _BAND[0]) & (lam < _BAND[1])
    lo = torch.where(band, torch.full_like(lam, 0.25), lam)
    direct = torch.log(2.0 * torch.atanh(1.0 - 2.0 * lo) / (1.0 - 2.0 * lo))
    d2 = (torch.where(band, lam, torch.full_like(lam, 0.5)) - 0.5).square()
    return torch.where(band, LOG2 + d2 * (4.0 / 3.0 + 104.0 / 45.0 * d2), direct)


def naive_cb_mean(lam):
    """E[x] as written; 1/2 + d/3 + 16/45 d^3 inside the band (torch.distributions' series)."""
    band = (lam > _BAND[0]) & (lam < _BAND[1])
    lo = torch.where(band, torch.full_like(lam, 0.25), lam)
    direct = lo / (2.0 * lo - 1.0) + 1.0 / (2.0 * torch.atanh(1.0 - 2.0 * lo))
    d = torch.where(band, lam, torch.full_like(lam, 0.5)) - 0.5
    return torch.where(band, 0.5 + d * (1.0 / 3.0 + 16.0 / 45.0 * d.square()), direct)


class ContinuousBernoulliNaive(Likelihood):
    """The CB with lambda = sigmoid(out) and lambda-domain float arithmetic.

    Option `clamp` (default [1e-4, 1 - 1e-4], the CB authors' choice) clamps lambda itself,
    in its dtype; it can be widened or set to None (null): no clamp. Without a clamp a
    float32 lambda reaches 1.0 and the NLL is inf or NaN: the intended behaviour, the study's
    claim that the CB diverges in float32 once lambda crosses ~1 - 1e-7. In exact arithmetic
    it is the continuous Bernoulli (valid_density); in float64 it agrees with the stable one.
    NLL = -sum[x log lambda + (1 - x) log(1 - lambda) + log C(lambda)]. The parameter image is
    lambda, the expected value the formula above, a sample the inverse CDF
    x = log1p(u (2 lambda - 1) / (1 - lambda)) / (log lambda - log(1 - lambda)) (u inside the band).
    """

    param_label = "lambda"
    option_ranges = {"clamp": CLAMP_RANGE}  # or None (null): no clamp, from the signature

    def __init__(self, data_shape, clamp: tuple[float, float] | None = (1e-4, 1.0 - 1e-4)):
        super().__init__(data_shape)
        self.clamp = self._options(clamp=clamp)["clamp"]

    def probs(self, out):
        lam = torch.sigmoid(out)
        return lam if self.clamp is None else lam.clamp(*self.clamp)

    def nll(self, x, out):
        self._check(x, out)
        lam = self.probs(out)
        logp = x * torch.log(lam) + (1.0 - x) * torch.log1p(-lam) + naive_cb_log_normalizer(lam)
        return -sum_per_example(logp)

    def mean(self, out):
        return naive_cb_mean(self.probs(out))

    def param_image(self, out):
        return self.probs(out)

    def sample(self, out, generator=None, x=None):
        lam = self.probs(out)
        u = torch.rand(lam.shape, generator=generator, device=lam.device, dtype=lam.dtype)
        band = (lam > _BAND[0]) & (lam < _BAND[1])
        lo = torch.where(band, torch.full_like(lam, 0.25), lam)
        direct = torch.log1p(u * (2.0 * lo - 1.0) / (1.0 - lo)) / (torch.log(lo) - torch.log1p(-lo))
        return torch.where(band, u, direct).clamp(0.0, 1.0)

    def extra_repr(self):
        return f"{super().extra_repr()}, clamp={self.clamp}"
