"""Encoder and decoder architectures, chosen by data shape.

Two families, in the style of pytorch/examples' VAE: an MLP on flattened
pixels and a small strided convolutional net. The encoder returns the
Gaussian posterior's (mu, logvar); the decoder returns the likelihood's raw
output with `out_channels` (= `lik.decoder_channels`) channels per pixel, so
one decoder serves every likelihood.

`arch: auto` rule (`choose_arch`): grey images of at most 28x28 pixels get the
MLP (it is what the compared papers used on MNIST-sized data and is several
times faster there on a CPU); colour images or larger ones get the conv net,
which needs H and W divisible by 2**len(channels) (28 and 32 with two layers).
`hidden` sizes the MLP, and the conv net's linear layers after the convolutions.
"""

import math

import torch
from torch import nn


def choose_arch(data_shape) -> str:
    c, h, w = data_shape
    return "mlp" if c == 1 and h * w <= 28 * 28 else "conv"


def _mlp(sizes):
    layers = []
    for a, b in zip(sizes[:-1], sizes[1:]):
        layers += [nn.Linear(a, b), nn.ReLU()]
    return layers[:-1]  # no activation on the output layer


class MLPEncoder(nn.Module):
    def __init__(self, data_shape, latent_dim, hidden=(256, 128)):
        super().__init__()
        self.net = nn.Sequential(nn.Flatten(), *_mlp([math.prod(data_shape), *hidden, 2 * latent_dim]))

    def forward(self, x):
        return self.net(x).chunk(2, dim=1)


class MLPDecoder(nn.Module):
    def __init__(self, data_shape, latent_dim, out_channels, hidden=(256, 128)):
        super().__init__()
        _, h, w = data_shape
        self.shape = (out_channels, h, w)
        self.net = nn.Sequential(*_mlp([latent_dim, *reversed(hidden), math.prod(self.shape)]))

    def forward(self, z):
        return self.net(z).view(-1, *self.shape)


class ConvEncoder(nn.Module):
    """Stride-2 4x4 convolutions halve H and W per layer, then a linear head."""

    def __init__(self, data_shape, latent_dim, channels=(32, 64), hidden=(256,)):
        super().__init__()
        c, h, w = _check_conv_shape(data_shape, channels)
        layers = []
        for a, b in zip([c, *channels[:-1]], channels):
            layers += [nn.Conv2d(a, b, 4, 2, 1), nn.ReLU()]
        flat = channels[-1] * (h >> len(channels)) * (w >> len(channels))
        self.net = nn.Sequential(*layers, nn.Flatten(), *_mlp([flat, *hidden, 2 * latent_dim]))

    def forward(self, x):
        return self.net(x).chunk(2, dim=1)


class ConvDecoder(nn.Module):
    """Mirror of ConvEncoder with transposed convolutions doubling H and W."""

    def __init__(self, data_shape, latent_dim, out_channels, channels=(32, 64), hidden=(256,)):
        super().__init__()
        _, h, w = _check_conv_shape(data_shape, channels)
        n = len(channels)
        self.start = (channels[-1], h >> n, w >> n)
        layers = []
        rev = list(reversed(channels))
        for a, b in zip(rev, [*rev[1:], out_channels]):
            layers += [nn.ConvTranspose2d(a, b, 4, 2, 1), nn.ReLU()]
        self.head = nn.Sequential(*_mlp([latent_dim, *reversed(hidden), math.prod(self.start)]), nn.ReLU())
        self.net = nn.Sequential(*layers[:-1])

    def forward(self, z):
        return self.net(self.head(z).view(-1, *self.start))


def _check_conv_shape(data_shape, channels):
    c, h, w = data_shape
    k = 2 ** len(channels)
    if h % k or w % k:
        raise ValueError(f"conv arch needs H and W divisible by {k} (got {h}x{w}); use arch: mlp")
    return c, h, w


def build_networks(model_settings: dict, data_shape, latent_dim: int, out_channels: int):
    """(encoder, decoder) for `model_settings` = {"arch", "hidden", "channels"}; keys left out take
    reconloss.settings' defaults."""
    from reconloss.settings import defaults

    model_settings = {**defaults("model"), **model_settings}
    data_shape = tuple(int(s) for s in data_shape)
    arch = model_settings["arch"]
    if arch == "auto":
        arch = choose_arch(data_shape)
    hidden = tuple(model_settings["hidden"])
    if arch == "mlp":
        return (MLPEncoder(data_shape, latent_dim, hidden),
                MLPDecoder(data_shape, latent_dim, out_channels, hidden))
    if arch == "conv":
        channels = tuple(model_settings["channels"])
        return (ConvEncoder(data_shape, latent_dim, channels, hidden),
                ConvDecoder(data_shape, latent_dim, out_channels, channels, hidden))
    raise ValueError(f"unknown arch {arch!r} (expected auto, mlp or conv)")
