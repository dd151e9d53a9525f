"""Bernoulli likelihood: binary cross-entropy, the most common VAE loss on [0, 1] pixels."""

import torch
import torch.nn.functional as F

from reconloss.likelihoods.base import Likelihood, sum_per_example


class Bernoulli(Likelihood):
    """p = sigmoid(decoder output); NLL = -sum[x log p + (1 - x) log(1 - p)].

    For grey x in (0, 1) this cross-entropy is not the log of a normalised density on
    [0, 1]^d (it is what the continuous Bernoulli fixes), hence valid_density = False; its
    minimum over p is at p = x but is not zero there. The NLL is computed from the logits
    (binary_cross_entropy_with_logits), finite with finite gradients for any logit. The
    expected value and the parameter image are both p; a sample is a Bernoulli draw, so
    it is binary, which is what the model claims the data are.
    """

    valid_density = False
    param_label = "p"

    def nll(self, x, out):
        self._check(x, out)
        return sum_per_example(F.binary_cross_entropy_with_logits(out, x, reduction="none"))

    def mean(self, out):
        return torch.sigmoid(out)

    def param_image(self, out):
        return torch.sigmoid(out)

    def sample(self, out, generator=None, x=None):
        return torch.bernoulli(torch.sigmoid(out), generator=generator)
