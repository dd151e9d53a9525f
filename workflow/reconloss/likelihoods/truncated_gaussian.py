"""Gaussian truncated to [0, 1]: N(x; mu, sigma^2) / Z on [0, 1], mu and sigma per pixel.

Parameters: mu = the decoder's first C channels as they are (identity), sigma = floor +
softplus(last C channels). mu is unbounded on purpose: a truncated Gaussian puts its mass
at an edge only through a location beyond it (x near 0 with mu < 0), so mu = +-20 is an
ordinary value, and the numerics below have to hold there in float32.

Numerics, in standard units a = (0 - mu)/sigma, b = (1 - mu)/sigma, w = b - a = 1/sigma.
First reflect x -> 1 - x, mu -> 1 - mu where mu > 1/2 (the density is symmetric under
it), so that mu <= 1/2 and the far side of the interval is always b. Then two cases:

- a <= 1 (mu >= -sigma: the interval is not deep in a tail): Z = Phi(b) - Phi(a)
  = (erf(b/sqrt2) - erf(a/sqrt2)) / 2; with a <= 0 <= b a sum of two non-negative terms,
  for 0 < a <= 1 a difference of values below 0.85: no catastrophic cancellation.
  log p and the mean mu + sigma (phi(a) - phi(b)) / Z are the textbook formulas, with
  phi(a) - phi(b) = phi(a) (1 - exp(-w (a + b)/2)) through expm1 (a ~ b for large sigma).
  The mean's absolute error is ~|mu| eps amplified by the cancellation in Z: 3.5e-5 in
  float32 at mu = 20, sigma = 30 (1e-2 grey levels), 1e-13 in float64.
- a > 1 (mu < -sigma): Phi(a) and Phi(b) are both 1 - (tiny) and Z underflows (mu = -20,
  sigma = 0.01 gives Z ~ exp(-2e6)). With the Mills ratio R(t) = Q(t)/phi(t) =
  sqrt(pi/2) erfcx(t/sqrt2), Z = phi(a) D with D = R(a) - s R(b), s = phi(b)/phi(a) =
  exp(-w (a + b)/2), so
      log p(x) = x (2 mu - x) / (2 sigma^2) - log sigma - log D,
  where the huge terms -(x - mu)^2/(2 sigma^2) and +a^2/2 were cancelled analytically.
  The mean is E = sigma g, g = E[t - a | a < t < b] = (R(a) T(a) - s R(b) (T(b) + w)) / D
  with T(t) = 1/R(t) - t (the inverse Mills ratio minus t, ~1/t): measured from the edge,
  so it is never mu + (a number close to -mu), the 0/0-then-cancellation of the textbook
  form. T is sqrt(2/pi)/erfcx(t/sqrt2) - t for t <= 5 (cancellation at most t^2 = 25
  ulps) and the continued fraction T(t) = 1/(t + 2/(t + 3/(t + ...))) beyond.
Branches are computed on safe inputs so that the one not taken puts no NaN in the gradient.
"""

import math

import torch
import torch.nn.functional as F

from reconloss.likelihoods.base import Likelihood, sum_per_example
from reconloss.likelihoods.gaussian import NON_NEGATIVE, SIGMA_FLOOR

SQRT2 = math.sqrt(2.0)
HALF_LOG_2PI = 0.5 * math.log(2.0 * math.pi)
SQRT_PI_2 = math.sqrt(math.pi / 2.0)
SQRT_2_PI = math.sqrt(2.0 / math.pi)
_TAIL = 1.0  # a above this: the tail formulas
_CF_FROM = 5.0  # T(t) by continued fraction from here
_CF_TERMS = 40


def mills_ratio(t):
    """R(t) = Q(t) / phi(t), Q the upper normal tail; finite for every finite t >= 0."""
    return SQRT_PI_2 * torch.special.erfcx(t / SQRT2)


def mills_excess(t):
    """T(t) = phi(t)/Q(t) - t for t >= 1 (the inverse Mills ratio minus t), ~1/t for large t."""
    small = t <= _CF_FROM
    ts = torch.where(small, t, torch.ones_like(t))
    direct = SQRT_2_PI / torch.special.erfcx(ts / SQRT2) - ts
    tl = torch.where(small, torch.full_like(t, 2 * _CF_FROM), t)
    tail = tl
    for k in range(_CF_TERMS, 1, -1):  # t + 2/(t + 3/(t + ...)), from the bottom up
        tail = tl + k / tail
    return torch.where(small, direct, 1.0 / tail)


def _split(mu, sigma):
    """Reflection flag and the standardised interval of the reflected problem."""
    flip = mu > 0.5
    m = torch.where(flip, 1.0 - mu, mu)
    a = -m / sigma
    tail = a > _TAIL
    return flip, m, a, tail


def _tail_terms(a, w):
    """s, R(a), R(b), D = R(a) - s R(b) for the tail case (a > 1), b = a + w."""
    b = a + w
    s = torch.exp(-0.5 * w * (a + b))
    ra, rb = mills_ratio(a), mills_ratio(b)
    d = (ra - s * rb).clamp_min(torch.finfo(a.dtype).tiny)  # > 0 in exact arithmetic
    return b, s, ra, rb, d


def _central_log_z(a, b):
    return torch.log(0.5 * (torch.erf(b / SQRT2) - torch.erf(a / SQRT2)))


def truncnorm_log_prob(x, mu, sigma):
    """log of N(x; mu, sigma^2) truncated to [0, 1], for x in [0, 1]; stable for any mu."""
    flip, m, a, tail = _split(mu, sigma)
    xr = torch.where(flip, 1.0 - x, x)
    # central case, on safe inputs where the tail case holds
    mc = torch.where(tail, torch.zeros_like(m), m)
    ac = -mc / sigma
    central = (-0.5 * ((xr - mc) / sigma).square() - torch.log(sigma) - HALF_LOG_2PI
               - _central_log_z(ac, ac + 1.0 / sigma))
    # tail case, on safe inputs where the central case holds
    mt = torch.where(tail, m, -2.0 * sigma)
    at = -mt / sigma
    *_, d = _tail_terms(at, 1.0 / sigma)
    far = xr * (2.0 * mt - xr) / (2.0 * sigma.square()) - torch.log(sigma) - torch.log(d)
    return torch.where(tail, far, central)


def truncnorm_mean(mu, sigma):
    """E[x] of N(mu, sigma^2) truncated to [0, 1]; in [0, 1] and finite for any mu."""
    flip, m, a, tail = _split(mu, sigma)
    w = 1.0 / sigma
    mc = torch.where(tail, torch.zeros_like(m), m)
    ac = -mc / sigma
    bc = ac + w
    # phi(a) - phi(b) = phi(a) (1 - s): expm1 keeps it when sigma is large (a ~ b)
    h = torch.exp(-0.5 * ac.square() - HALF_LOG_2PI - _central_log_z(ac, bc)) * -torch.expm1(-0.5 * w * (ac + bc))
    central = mc + sigma * h
    at = torch.where(tail, a, torch.full_like(a, 2.0))
    bt, s, ra, rb, d = _tail_terms(at, w)
    far = sigma * (ra * mills_excess(at) - s * rb * (mills_excess(bt) + w)) / d
    e = torch.where(tail, far, central).clamp(0.0, 1.0)
    return torch.where(flip, 1.0 - e, e)


class TruncatedGaussian(Likelihood):
    """N(x; mu, sigma^2) truncated to [0, 1]: mu, sigma per pixel (2C decoder channels).

    A normalised density on [0, 1] (valid_density), unlike the Gaussians on the real line,
    whose mass outside [0, 1] is wasted on data that never go there. mu = decoder output
    (unbounded, see the module docstring), sigma = floor + softplus(.) (option `floor`,
    default exp(-6) as the Gaussians'): at a pixel, as sigma -> 0 with mu at x, the density
    is unbounded, so the floor bounds the NLL below as it does for the Gaussians.
    The expected value is the truncated mean, the parameter image is mu clamped to [0, 1]
    (the mode), and a sample is an inverse-CDF draw (log space in the tails).
    """

    channels_per_data_channel = 2
    param_label = "mode"
    option_ranges = {"floor": NON_NEGATIVE}

    def __init__(self, data_shape, floor=SIGMA_FLOOR):
        super().__init__(data_shape)
        self.floor = self._options(floor=floor)["floor"]

    def params(self, out):
        c = self.data_shape[0]
        return out[:, :c], self.floor + F.softplus(out[:, c:])

    def nll(self, x, out):
        self._check(x, out)
        mu, sigma = self.params(out)
        return -sum_per_example(truncnorm_log_prob(x, mu, sigma))

    def mean(self, out):
        return truncnorm_mean(*self.params(out))

    def param_image(self, out):
        return self.params(out)[0].clamp(0.0, 1.0)

    @torch.no_grad()
    def sample(self, out, generator=None, x=None):
        """Inverse CDF in float64. Central case: t = Phi^-1(Phi(a) + u Z), from the nearer
        end. Tail case: solve log Q(t) = log Q(a) + log(1 - u (1 - Q(b)/Q(a))) for t by
        Newton's method (log Q is concave, so after one step it converges monotonically),
        then x = sigma (t - a), measured from the edge."""
        mu, sigma = (p.double() for p in self.params(out))
        u = torch.rand(mu.shape, generator=generator, device=mu.device, dtype=mu.dtype)
        flip, m, a, tail = _split(mu, sigma)
        b = a + 1.0 / sigma
        # central: p = Phi(a) + u Z; take the complement where p > 1/2 so neither end rounds
        pa, qb = torch.special.ndtr(a), torch.special.ndtr(-b)
        z = (0.5 * (torch.erf(b / SQRT2) - torch.erf(a / SQRT2))).clamp_min(1e-300)
        p = pa + u * z
        q = qb + (1.0 - u) * z
        t = torch.where(p <= 0.5, torch.special.ndtri(p.clamp(1e-300, 0.5)),
                        -torch.special.ndtri(q.clamp(1e-300, 0.5)))
        central = m + sigma * t
        # tail: Newton on f(t) = log Q(t) - target, f'(t) = -phi(t)/Q(t)
        at = torch.where(tail, a, torch.full_like(a, 2.0))
        bt = at + 1.0 / sigma
        lqa, lqb = torch.special.log_ndtr(-at), torch.special.log_ndtr(-bt)
        target = lqa + torch.log1p(-u * -torch.expm1(lqb - lqa))
        tt = at
        for _ in range(30):
            lam = torch.exp(-0.5 * tt.square() - HALF_LOG_2PI - torch.special.log_ndtr(-tt))
            tt = (tt + (torch.special.log_ndtr(-tt) - target) / lam).clamp(at, bt)
        far = sigma * (tt - at)
        xr = torch.where(tail, far, central).clamp(0.0, 1.0)
        return torch.where(flip, 1.0 - xr, xr).to(out.dtype)

    def extra_repr(self):
        return f"{super().extra_repr()}, floor={self.floor}"
