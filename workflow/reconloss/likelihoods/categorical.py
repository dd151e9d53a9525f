"""256-way categorical per pixel and channel (PixelRNN's softmax, van den Oord et al. 2016)."""

import torch

from reconloss.likelihoods.base import Likelihood, sum_per_example
from reconloss.likelihoods.discretized_logistic import LEVELS, levels


class Categorical(Likelihood):
    """A softmax over the 256 levels k/255 of every data channel: 256 C decoder channels.

    Layout: decoder channel 256 c + k is the logit of level k of data channel c, i.e. out
    (B, 256 C, H, W) is viewed as (B, C, 256, H, W). discrete: nll = -sum log softmax at
    k = round(255 x), the probability of the 8-bit data (bits per dimension exactly
    nll / (d ln 2)); log_softmax keeps it finite for any logits. The expected value is
    sum_k (k/255) p_k, the parameter image the mode (argmax level / 255; it shows how sharp
    the model is, as the Beta's mode does), a sample an inverse-CDF draw of a level.
    """

    channels_per_data_channel = LEVELS
    discrete = True
    param_label = "mode"

    def logits(self, out):
        b, _, h, w = out.shape
        return out.reshape(b, self.data_shape[0], LEVELS, h, w)

    def log_probs(self, out):
        """log p_k for every level: (B, C, 256, H, W)."""
        return torch.log_softmax(self.logits(out), dim=2)

    def nll(self, x, out):
        self._check(x, out)
        k = levels(x).long().unsqueeze(2)
        return -sum_per_example(self.log_probs(out).gather(2, k).squeeze(2))

    def _values(self, out):
        return torch.arange(LEVELS, device=out.device, dtype=out.dtype).reshape(1, 1, LEVELS, 1, 1) / (LEVELS - 1)

    def mean(self, out):
        return (torch.softmax(self.logits(out), dim=2) * self._values(out)).sum(dim=2)

    def param_image(self, out):
        return self.logits(out).argmax(dim=2).to(out.dtype) / (LEVELS - 1)

    def sample(self, out, generator=None, x=None):
        """k = #{j : CDF(j) < u CDF(255)}: one uniform per element, the CDF's own total so
        that rounding in the cumulative sum cannot push k past 255."""
        cdf = torch.softmax(self.logits(out), dim=2).cumsum(dim=2)
        u = torch.rand(cdf[:, :, :1].shape, generator=generator, device=out.device, dtype=out.dtype)
        k = (cdf < u * cdf[:, :, -1:]).sum(dim=2).clamp_max(LEVELS - 1)
        return k.to(out.dtype) / (LEVELS - 1)
