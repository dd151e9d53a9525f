"""The interface every reconstruction likelihood p(x|z) implements.

A likelihood is an nn.Module so that learned parameters (a learned sigma) and
fitted buffers (per-pixel data sigma) are trained by the VAE's optimiser and
saved in the VAE's state_dict. `out` is always the decoder's raw output,
(B, decoder_channels, H, W); each likelihood maps it to its parameters itself.
"""

import functools
import inspect

import torch
from torch import nn

from reconloss.option_ranges import checked, option_spec


class Likelihood(nn.Module):
    """Base class: one subclass per distribution family (as torch.distributions does)."""

    #: False where `nll` is not a normalised density on [0, 1]^d (Bernoulli on grey data).
    valid_density = True
    #: True where `nll` is -log P(x) of 8-bit data (x = k/255, a probability mass, not a density),
    #: so nll / (d ln 2) is exactly bits per dimension and no dequantisation is needed.
    discrete = False
    #: (lo, hi): where exp(-nll) is normalised; the Gaussians' is the real line.
    support = (0.0, 1.0)
    #: what `param_image` shows, for figure labels.
    param_label = "parameter"
    #: decoder channels per data channel (Gaussian with predicted pixel sigma and Beta need 2).
    channels_per_data_channel = 1
    #: {option: reconloss.option_ranges.Range}: the allowed values of this class's own options (those of
    #: its bases are inherited). The constructor checks its arguments against them (`_options`), and
    #: `make generate` writes them into likelihoods/options.json for the plan-time check.
    option_ranges = {}

    def __init__(self, data_shape):
        super().__init__()
        data_shape = tuple(int(s) for s in data_shape)
        if len(data_shape) != 3 or min(data_shape) < 1:
            raise ValueError(f"data_shape must be (C, H, W) with positive sizes, got {data_shape}")
        self.data_shape = data_shape
        self.decoder_channels = data_shape[0] * self.channels_per_data_channel

    # --- the interface -------------------------------------------------------
    def nll(self, x, out):
        """Negative log-likelihood in nats per example, summed over C, H, W, every constant kept: (B,)."""
        raise NotImplementedError

    def mean(self, out):
        """Expected value E[x|z], shape of x: what a reconstruction shows."""
        raise NotImplementedError

    def param_image(self, out):
        """The distribution's parameter as an image (mu, p, lambda, ...), shape of x."""
        raise NotImplementedError

    def sample(self, out, generator=None):
        """One sample of p(x|z), shape of x; `generator` makes it a function of the run's seed."""
        raise NotImplementedError

    def fit_data(self, x_train01):
        """Hook called once before training with the training set in [0, 1]; a no-op by default."""

    def stats(self, out, x=None):
        """Scalars (python floats) for the training log; {} for likelihoods without a sigma."""
        return {}

    # --- options ---------------------------------------------------------------
    @classmethod
    def option_specs(cls) -> dict:
        """{option: spec} of the constructor's options: default, type and range, as options.json has them."""
        return _option_specs(cls)

    def _options(self, **given) -> dict:
        """The constructor's arguments `given`, checked against option_specs() and normalised
        (floats, tuples); a ValueError names the first wrong one and what it must be."""
        return checked(self.option_specs(), given)

    # --- helpers ---------------------------------------------------------------
    def _check(self, x, out):
        if tuple(x.shape[1:]) != self.data_shape:
            raise ValueError(f"x has shape {tuple(x.shape)}, expected (B, *{self.data_shape})")
        want = (self.decoder_channels, *self.data_shape[1:])
        if tuple(out.shape[1:]) != want or out.shape[0] != x.shape[0]:
            raise ValueError(f"decoder output has shape {tuple(out.shape)}, expected ({x.shape[0]}, *{want})")

    def extra_repr(self):
        return f"data_shape={self.data_shape}, decoder_channels={self.decoder_channels}"


@functools.cache
def _option_specs(cls) -> dict:
    ranges = {}
    for klass in reversed(cls.__mro__):
        ranges.update(vars(klass).get("option_ranges", {}))
    params = inspect.signature(cls.__init__).parameters
    return {k: option_spec(p.default, "None" in str(p.annotation), ranges.get(k)) for k, p in params.items()
            if k not in ("self", "data_shape") and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)}


def sum_per_example(t):
    """Sum over every dimension but the first (batch): (B, ...) -> (B,)."""
    return t.flatten(1).sum(dim=1)


def sigma_stats(sigma):
    """sigma_mean/min/max of a sigma tensor as python floats, for the training log."""
    s = sigma.detach().float()
    return {"sigma_mean": s.mean().item(), "sigma_min": s.min().item(), "sigma_max": s.max().item()}


def randn_like(t, generator=None):
    return torch.randn(t.shape, generator=generator, device=t.device, dtype=t.dtype)
