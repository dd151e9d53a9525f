"""Gaussian reconstruction likelihoods: N(x; mu, sigma^2) per pixel, eight ways to set sigma.

They share the mean and one NLL; they differ only in where sigma comes from:
a constant, the data, a learned parameter, the decoder, or its optimum given
the residual. The mean is mu = sigmoid(decoder output) by default
(`mean_activation="sigmoid"`): the data lie in [0, 1], so the expected value a
reconstruction shows stays an image, every variant shares one parameterisation
(so differences come from sigma alone), and it matches the other likelihoods,
which also read the decoder through a sigmoid. `mean_activation="identity"`
gives the unbounded mean some implementations use. Samples are mu + sigma*eps,
not clipped: the Gaussian's support is the real line, and a sample that leaves
[0, 1] is part of what the study shows.

Floors: a sigma that can shrink towards zero makes the NLL unbounded below
(-log sigma) and its gradient unbounded (r / sigma^2). The default floor of
learned, predicted and optimal sigma is exp(-6) ~ 0.0025, the lower bound on
log sigma of the sigma-VAE (Rybkin et al. 2021); floor=0 is accepted and lets
the instability happen (the study's sum of log|x - mu|).
"""

import math

import torch
import torch.nn.functional as F
from torch import nn

from reconloss.likelihoods.base import Likelihood, randn_like, sigma_stats, sum_per_example
from reconloss.option_ranges import Range

LOG_2PI = math.log(2.0 * math.pi)
SIGMA_FLOOR = math.exp(-6.0)
MEAN_ACTIVATIONS = ("sigmoid", "identity")
#: The allowed sigmas and floors (option_ranges below): a sigma > 0; a floor >= 0 where sigma = floor +
#: something positive (0 lets the instability happen), > 0 where the floor is all there is.
POSITIVE = Range(exclusive_minimum=0)
NON_NEGATIVE = Range(minimum=0)


def gaussian_nll(x, mu, var):
    """-log N(x; mu, var) elementwise, all constants kept; var broadcasts against x.

    The closed form of torch.distributions.Normal(mu, var.sqrt()).log_prob, taking the
    variance so that the optimal-sigma variants need no square root (whose gradient is
    infinite at a zero residual).
    """
    return 0.5 * ((x - mu).square() / var + torch.log(var) + LOG_2PI)


class _Gaussian(Likelihood):
    """Shared part: mu from the first C decoder channels; subclasses give the variance."""

    has_sigma_stats = True
    support = (-math.inf, math.inf)
    param_label = "mu"
    option_ranges = {"mean_activation": Range(choices=MEAN_ACTIVATIONS)}

    def __init__(self, data_shape, mean_activation="sigmoid"):
        super().__init__(data_shape)
        self.mean_activation = self._options(mean_activation=mean_activation)["mean_activation"]

    def _mu(self, out):
        mu = out[:, : self.data_shape[0]]
        return torch.sigmoid(mu) if self.mean_activation == "sigmoid" else mu

    def _var(self, out, x=None):
        """Variance broadcastable to x; x is given to the optimal-sigma variants."""
        raise NotImplementedError

    def nll(self, x, out):
        self._check(x, out)
        mu = self._mu(out)
        return sum_per_example(gaussian_nll(x, mu, self._var(out, x)).expand_as(x))

    def mean(self, out):
        return self._mu(out)

    def normal(self, out, x=None):
        """(mu, sigma) of the per-pixel Normal, both of mu's shape; x gives the optimal-sigma
        variants their sigma at x, as in their NLL (evaluate's mass outside the data range)."""
        mu = self._mu(out)
        return mu, self._var(out, x).sqrt().expand_as(mu)

    def param_image(self, out):
        return self._mu(out)

    def sample(self, out, generator=None, x=None):
        mu = self._mu(out)
        return mu + self._var(out, x).sqrt() * randn_like(mu, generator)

    def stats(self, out, x=None):
        """sigma_mean/min/max; for the floored sigmas (every variant with sigma stats) also
        floor_fraction, the fraction of sigma values at the floor (sigma^2 <= floor^2 up to
        a few ulps: a sigma pinned there no longer moves, and the NLL is bounded only by the
        floor), and, given x, nll_pixel_min, the smallest per-element NLL: it approaches
        log(floor) + 1/2 log(2 pi) (-5.08 nats at the default floor) where sigma is pinned
        and the residual vanishes. One extra elementwise pass: cheap enough per epoch."""
        if not self.has_sigma_stats:
            return {}
        with torch.no_grad():
            var = self._var(out, x)
            st = sigma_stats(var.sqrt().expand(out.shape[0], *self.data_shape))
            tol = 8.0 * torch.finfo(var.dtype).eps
            at_floor = var <= self.floor**2 * (1.0 + tol)
            st["floor_fraction"] = at_floor.expand(out.shape[0], *self.data_shape).float().mean().item()
            if x is not None:
                st["nll_pixel_min"] = gaussian_nll(x, self._mu(out), var).min().item()
            return st


class GaussianFixed(_Gaussian):
    """One hand-set sigma. The default sqrt(0.5) makes the NLL the summed squared error
    plus the constant d/2 log(pi), as in most VAE tutorials' MSE loss."""

    has_sigma_stats = False
    option_ranges = {"sigma": POSITIVE}

    def __init__(self, data_shape, sigma=math.sqrt(0.5), mean_activation="sigmoid"):
        super().__init__(data_shape, mean_activation)
        self.sigma = self._options(sigma=sigma)["sigma"]

    def _var(self, out, x=None):
        # new_full is a fill kernel on the device; new_tensor would copy a host value to it,
        # which a CUDA-graph capture forbids (reconloss.training.capture_hazards).
        return out.new_full((), self.sigma**2)

    def extra_repr(self):
        return f"{super().extra_repr()}, sigma={self.sigma}"


class GaussianDataPixel(_Gaussian):
    """One fixed sigma per pixel: the per-pixel standard deviation of the training set.

    The floor (default 0.01, about 2.5 grey levels of 255) matters only for pixels that are
    (nearly) constant in training, such as MNIST's border: with sigma 0 their NLL would be
    infinite for any error, with the floor an error of 0.1 there costs 50 nats. The buffer
    exists from construction (ones) and is persistent, so a fresh module loads a trained
    VAE's state_dict without fit_data.
    """

    has_sigma_stats = False
    option_ranges = {"floor": POSITIVE}

    def __init__(self, data_shape, floor=0.01, mean_activation="sigmoid"):
        super().__init__(data_shape, mean_activation)
        self.floor = self._options(floor=floor)["floor"]
        self.register_buffer("sigma", torch.ones(self.data_shape), persistent=True)

    @torch.no_grad()
    def fit_data(self, x_train01, chunk=4096):
        """sigma = max(per-pixel population std of the training set, floor).

        Two passes in float64 over chunks: exact enough for near-constant pixels, and no
        float64 copy of the whole training set (CIFAR-10 would need 1.2 GB)."""
        x = x_train01.reshape(-1, *self.data_shape)
        n = x.shape[0]
        total = torch.zeros(self.data_shape, dtype=torch.float64, device=x.device)
        for i in range(0, n, chunk):
            total += x[i:i + chunk].double().sum(dim=0)
        mean = total / n
        total.zero_()
        for i in range(0, n, chunk):
            total += (x[i:i + chunk].double() - mean).square().sum(dim=0)
        std = (total / n).sqrt()
        self.sigma.copy_(std.clamp_min(self.floor).to(self.sigma))

    def _var(self, out, x=None):
        return self.sigma.square()

    def extra_repr(self):
        return f"{super().extra_repr()}, floor={self.floor}"


class _GaussianLearned(_Gaussian):
    """sigma = floor + exp(theta), theta a parameter trained with the VAE.

    The exponential keeps sigma positive with a gradient that scales with sigma (Adam then
    moves log sigma at a steady rate); the additive floor bounds the NLL below without
    clipping the gradient away, and leaves every sigma above the floor reachable exactly.
    """

    sigma_shape = None
    option_ranges = {"sigma_init": Range(exclusive_minimum=0, above="floor"), "floor": NON_NEGATIVE}

    def __init__(self, data_shape, sigma_init=1.0, floor=SIGMA_FLOOR, mean_activation="sigmoid"):
        super().__init__(data_shape, mean_activation)
        options = self._options(sigma_init=sigma_init, floor=floor)
        sigma_init, self.floor = options["sigma_init"], options["floor"]
        shape = () if self.sigma_shape == "global" else self.data_shape
        self.theta = nn.Parameter(torch.full(shape, math.log(sigma_init - self.floor)))

    def sigma(self):
        return self.floor + self.theta.exp()

    def _var(self, out, x=None):
        return self.sigma().square()

    def extra_repr(self):
        return f"{super().extra_repr()}, floor={self.floor}"


class GaussianLearnedGlobal(_GaussianLearned):
    """One learned sigma shared by every pixel and image."""

    sigma_shape = "global"


class GaussianLearnedPixel(_GaussianLearned):
    """One learned sigma per data dimension (C, H, W)."""

    sigma_shape = "pixel"


class GaussianPredictedImage(_Gaussian):
    """The decoder predicts one sigma per image: one extra channel, averaged over H and W
    (a spatial mean keeps the decoder architecture shared by every likelihood), then
    sigma = floor + softplus(.). softplus grows linearly, not exponentially, so one large
    decoder output cannot make sigma explode; softplus(0) = 0.69 ~ sqrt(0.5) at init."""

    option_ranges = {"floor": NON_NEGATIVE}

    def __init__(self, data_shape, floor=SIGMA_FLOOR, mean_activation="sigmoid"):
        super().__init__(data_shape, mean_activation)
        self.floor = self._options(floor=floor)["floor"]
        self.decoder_channels = self.data_shape[0] + 1

    def _var(self, out, x=None):
        raw = out[:, self.data_shape[0]:].mean(dim=(1, 2, 3), keepdim=True)
        return (self.floor + F.softplus(raw)).square()

    def extra_repr(self):
        return f"{super().extra_repr()}, floor={self.floor}"


class GaussianPredictedPixel(_Gaussian):
    """The decoder predicts sigma per pixel beside mu (2C channels): sigma = floor + softplus(.)."""

    channels_per_data_channel = 2
    option_ranges = {"floor": NON_NEGATIVE}

    def __init__(self, data_shape, floor=SIGMA_FLOOR, mean_activation="sigmoid"):
        super().__init__(data_shape, mean_activation)
        self.floor = self._options(floor=floor)["floor"]

    def _var(self, out, x=None):
        return (self.floor + F.softplus(out[:, self.data_shape[0]:])).square()

    def extra_repr(self):
        return f"{super().extra_repr()}, floor={self.floor}"


class _GaussianOptimal(_Gaussian):
    """sigma at its optimum given the residual r = x - mu, with a floor.

    The NLL is the Gaussian NLL at that sigma (not a surrogate), and sigma is not detached:
    at the optimum d NLL / d sigma = 0, so the gradient with respect to mu is the same
    either way, and this way the loss is literally the closed form. Without x (sampling,
    stats of generated images) the optimum is undefined; sigma is then its floor, the value
    it tends to as reconstructions become exact.

    Not a density of x: sigma is chosen after seeing x, so exp(-NLL) does not integrate to
    one over x, and its "likelihood" bounds nothing (valid_density = False).
    """

    valid_density = False
    option_ranges = {"floor": NON_NEGATIVE}

    def __init__(self, data_shape, floor=SIGMA_FLOOR, mean_activation="sigmoid"):
        super().__init__(data_shape, mean_activation)
        self.floor = self._options(floor=floor)["floor"]

    def _residual_var(self, r2):
        raise NotImplementedError

    def _var(self, out, x=None):
        if x is None:
            return out.new_full((), self.floor**2)  # not new_tensor: a host copy (see GaussianFixed)
        r2 = (x - self._mu(out)).square()
        return self._residual_var(r2).clamp_min(self.floor**2)

    def stats(self, out, x=None):
        return {} if x is None else super().stats(out, x)

    def extra_repr(self):
        return f"{super().extra_repr()}, floor={self.floor}"


class GaussianOptimalPixel(_GaussianOptimal):
    """sigma^2 = max((x - mu)^2, floor^2) per element. Above the floor the NLL is
    sum log|x - mu| + d/2 (1 + log 2 pi): the study's loss, unbounded below and with a
    gradient 1/(x - mu); with floor=0 an exact hit gives 0/0, i.e. a diverged run."""

    def _residual_var(self, r2):
        return r2


class GaussianOptimalImage(_GaussianOptimal):
    """sigma^2 = max(||x - mu||^2 / d, floor^2) per image: d/2 log(||x - mu||^2 / d) +
    d/2 (1 + log 2 pi) above the floor.

    Not the sigma-VAE's official form: Rybkin et al.'s code takes one sigma^2, the MSE over
    the whole batch (gaussian_optimal_global). Per image, each example's loss is
    d/2 log MSE_i, whose gradient weights example i by 1/MSE_i: well-reconstructed images
    get a small sigma and dominate the batch, and a single near-exact image can reach the
    floor on its own; with the shared sigma every example gets the same weight 1/MSE_batch.
    """

    def _residual_var(self, r2):
        return r2.mean(dim=(1, 2, 3), keepdim=True)


class GaussianOptimalGlobal(_GaussianOptimal):
    """sigma^2 = max(mean (x - mu)^2 over the whole batch and every pixel, floor^2): one
    sigma shared by the batch, the sigma-VAE's official form (Rybkin et al. 2021, whose code
    takes the batch MSE; they bound log sigma below by -6 with a soft clip, here a hard floor
    like the other optimal variants). Each example's NLL uses that shared sigma, so it
    depends on the rest of its batch; the batch total is N d/2 log MSE_batch + const."""

    def _residual_var(self, r2):
        return r2.mean().reshape(1, 1, 1, 1)
