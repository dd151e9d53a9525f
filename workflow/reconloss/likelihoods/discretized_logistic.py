"""8-bit discretised logistic (PixelCNN++, Salimans et al. 2017), one component per pixel.

Data are the levels x = k/255, k = 0..255. A latent y ~ Logistic(mu, s) is binned:
P(k) = F((k + 1/2)/255) - F((k - 1/2)/255) with F(y) = sigmoid((y - mu)/s), and the edge
bins take the tails, P(0) = F(1/510), P(255) = 1 - F(254.5/255), so the 256 masses sum
to 1 exactly. NLL = -sum log P(k) in nats: a probability of the 8-bit data, not a density.

Numerics. In standard units lo, hi = ((k -+ 1/2)/255 - mu)/s, with the bin on the side
of mu where both are <= 0 (hi, lo -> -lo, -hi above mu; the logistic is symmetric):
    log P = log sigmoid(hi) + log(1 - exp(d)),   d = log sigmoid(lo) - log sigmoid(hi)
          = -(hi - lo) - softplus(lo) + softplus(hi),
exact in the far tail where sigmoid(hi) underflows (PixelCNN++'s cdf_plus - cdf_min
would be 0 - 0 there). Where the bin is narrow in standard units, width
delta = 1/(255 s) < eps^(1/3) of the dtype, log(1 - exp(d)) cancels (relative error
~eps/delta); there the mass is the logistic density at the bin centre times the bin width,
PixelCNN++'s mid-bin fallback, whose relative error ~delta^2/24 is below eps^(2/3).
"""

import math

import torch
import torch.nn.functional as F

from reconloss.likelihoods.base import Likelihood, sum_per_example
from reconloss.option_ranges import Range

LEVELS = 256
HALF_BIN = 0.5 / (LEVELS - 1)
LOG_BIN = math.log(LEVELS - 1)


def _log1mexp(d):
    """log(1 - exp(d)) for d < 0 (Maechler 2012: expm1 near 0, log1p far from it)."""
    near = d > -math.log(2.0)
    dn = torch.where(near, d, torch.full_like(d, -1.0))
    df = torch.where(near, torch.full_like(d, -1.0), d)
    return torch.where(near, torch.log(-torch.expm1(dn)), torch.log1p(-torch.exp(df)))


def levels(x):
    """The level k = round(255 x) in 0..255 of data x (exact for x = k/255)."""
    return torch.round(x * (LEVELS - 1)).clamp(0, LEVELS - 1)


def discretized_logistic_log_prob(k, mu, log_s):
    """log P(k) of the binned Logistic(mu, exp(log_s)); k a float tensor of levels 0..255."""
    inv_s = torch.exp(-log_s)
    centre = (k / (LEVELS - 1) - mu) * inv_s
    delta = 2.0 * HALF_BIN * inv_s
    hi0 = (k / (LEVELS - 1) + HALF_BIN - mu) * inv_s
    lo0 = (k / (LEVELS - 1) - HALF_BIN - mu) * inv_s
    above = centre > 0
    hi = torch.where(above, -lo0, hi0)
    lo = torch.where(above, -hi0, lo0)
    d = -delta - F.softplus(lo) + F.softplus(hi)
    wide = delta >= torch.finfo(delta.dtype).eps ** (1.0 / 3.0)
    interior = F.logsigmoid(hi) + _log1mexp(torch.where(wide, d, torch.full_like(d, -1.0)))
    mid = centre - log_s - 2.0 * F.softplus(centre) - LOG_BIN  # log pdf(centre) + log width
    interior = torch.where(wide, interior, mid)
    first = F.logsigmoid(hi0)  # P(0) = F(1/510)
    last = F.logsigmoid(-lo0)  # P(255) = 1 - F(254.5/255)
    return torch.where(k <= 0, first, torch.where(k >= LEVELS - 1, last, interior))


class DiscretizedLogistic(Likelihood):
    """mu, log s per pixel (2C channels): mu = first C decoder channels (unbounded, as in
    PixelCNN++: mass piles on an edge bin through mu beyond it), log s = the last C clamped
    below at `log_scale_min` (default -7.0, PixelCNN++'s bound; in [0, 1] units s >= 9e-4,
    0.23 bins: the NLL of a pixel is bounded below by 0 nats either way, the clamp keeps
    the gradient of a confident model from growing like 1/s).

    discrete: nll is -log P(x) of the 8-bit data, x read as level round(255 x); bits per
    dimension are nll / (d ln 2), with no dequantisation offset. The expected value is
    sum_k (k/255) P(k) = (1/255) sum_{k=1..255} P(K >= k), a sum of 255 sigmoids; the
    parameter image is mu clamped to [0, 1] (the latent's mode and median); a sample is
    the level of a logistic draw.
    """

    channels_per_data_channel = 2
    discrete = True
    param_label = "mu"
    option_ranges = {"log_scale_min": Range()}  # any finite number

    def __init__(self, data_shape, log_scale_min=-7.0):
        super().__init__(data_shape)
        self.log_scale_min = self._options(log_scale_min=log_scale_min)["log_scale_min"]

    def params(self, out):
        c = self.data_shape[0]
        return out[:, :c], out[:, c:].clamp_min(self.log_scale_min)

    def nll(self, x, out):
        self._check(x, out)
        mu, log_s = self.params(out)
        return -sum_per_example(discretized_logistic_log_prob(levels(x), mu, log_s))

    def log_probs(self, out):
        """log P(k) for every level: (B, C, 256, H, W), for tests and analyses."""
        mu, log_s = (p.unsqueeze(2) for p in self.params(out))
        k = torch.arange(LEVELS, device=out.device, dtype=out.dtype).reshape(1, 1, LEVELS, 1, 1)
        return discretized_logistic_log_prob(k, mu, log_s)

    def mean(self, out):
        mu, log_s = self.params(out)
        inv_s = torch.exp(-log_s)
        acc = torch.zeros_like(mu)
        for k in range(1, LEVELS):  # P(K >= k) = 1 - F((k - 1/2)/255): no (..., 256) tensor
            acc = acc + torch.sigmoid((mu - (k - 0.5) / (LEVELS - 1)) * inv_s)
        return acc / (LEVELS - 1)

    def param_image(self, out):
        return self.params(out)[0].clamp(0.0, 1.0)

    def sample(self, out, generator=None, x=None):
        mu, log_s = self.params(out)
        u = torch.rand(mu.shape, generator=generator, device=mu.device, dtype=mu.dtype)
        u = u.clamp(torch.finfo(u.dtype).tiny, 1.0 - torch.finfo(u.dtype).eps)
        y = mu + torch.exp(log_s) * (torch.log(u) - torch.log1p(-u))
        return levels(y) / (LEVELS - 1)

    def extra_repr(self):
        return f"{super().extra_repr()}, log_scale_min={self.log_scale_min}"
