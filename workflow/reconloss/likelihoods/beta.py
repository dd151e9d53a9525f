"""Beta likelihood: a density on (0, 1) with two shape parameters per pixel."""

import torch
import torch.nn.functional as F

from reconloss.likelihoods.base import Likelihood, sum_per_example
from reconloss.option_ranges import Range


class Beta(Likelihood):
    """alpha, beta = floor + softplus(decoder output), 2C decoder channels.

    What keeps it from diverging, and why:
    - Exact 0s and 1s are moved to eps and 1 - eps (option `eps`, default 1e-3, below half
      a grey level of 8-bit data): the density is 0 or infinite at x = 0 and x = 1
      (log x = -inf), and real images are full of them. Every x strictly inside (0, 1) is
      read where it is, unclamped, so exp(-NLL) is the Beta density itself on (0, 1) and
      integrates to 1 for any alpha, beta (valid_density): {0, 1} has measure zero.
      Clamping every x into [eps, 1 - eps] instead would pile the density of (0, eps) onto
      eps (for alpha = 1001, beta = 999001, mass near 0.001, the integral was ~13). For
      8-bit training data (k/255, k >= 1, all above eps) the two are identical; they
      differ only on non-grid data such as dequantised evaluation data.
    - Concentrations floor + softplus(.) (option `floor`, default 0.01): strictly positive
      (lgamma(alpha) -> inf and its gradient, the digamma, -> -inf as alpha -> 0), and
      softplus grows linearly, not exponentially, so one large decoder output cannot blow
      alpha + beta up in one step.
    - log(1 - x) as log1p(-x), lgamma for the normaliser: no overflow of Gamma(alpha).
    What it cannot prevent: at a clamped pixel the density is unbounded as alpha + beta
    grows with the mean kept at the pixel, as with a Gaussian sigma -> 0, so the NLL can
    still drift down slowly (logarithmically in the concentration).

    The expected value is alpha / (alpha + beta). The parameter image is the mode (labelled
    "mode", not a parameter of the distribution), the
    most probable pixel value: (alpha - 1)/(alpha + beta - 2) when both exceed 1, else the
    end where the density is infinite (0 when alpha < beta, 1 when alpha > beta, 1/2 for
    alpha = beta <= 1). It shows how sharp the model is, where the mean is always blurred.
    """

    channels_per_data_channel = 2
    param_label = "mode"
    option_ranges = {"eps": Range(exclusive_minimum=0, exclusive_maximum=0.5), "floor": Range(exclusive_minimum=0)}

    def __init__(self, data_shape, eps=1e-3, floor=0.01):
        super().__init__(data_shape)
        options = self._options(eps=eps, floor=floor)
        self.eps, self.floor = options["eps"], options["floor"]

    def concentrations(self, out):
        c = self.data_shape[0]
        return self.floor + F.softplus(out[:, :c]), self.floor + F.softplus(out[:, c:])

    def nll(self, x, out):
        self._check(x, out)
        a, b = self.concentrations(out)
        # only the exact ends move: the density at interior points is untouched. The upper end is at most the
        # largest number below 1 of x's type: in float32, 1 - eps rounds to 1 for eps < 6e-8 (1 - 1e-9 == 1), and
        # log1p(-1) = -inf would make a negligible trick (eps 1e-9, claims' beta_eps1e-9) an infinite loss
        # at the first white pixel instead of a density free to grow there.
        below_one = torch.nextafter(torch.ones((), dtype=x.dtype, device=x.device),
                                    torch.zeros((), dtype=x.dtype, device=x.device))
        # (new_full, a fill kernel: as_tensor of a Python float is a host copy, which CUDA-graph capture forbids)
        hi = torch.minimum(x.new_full((), 1.0 - self.eps), below_one)
        x = torch.where((x > 0.0) & (x < 1.0), x, x.clamp(min=self.eps).minimum(hi))
        log_norm = torch.lgamma(a) + torch.lgamma(b) - torch.lgamma(a + b)
        logp = (a - 1.0) * torch.log(x) + (b - 1.0) * torch.log1p(-x) - log_norm
        return -sum_per_example(logp)

    def mean(self, out):
        a, b = self.concentrations(out)
        return a / (a + b)

    def param_image(self, out):
        """The mode (see the class docstring)."""
        a, b = self.concentrations(out)
        interior = (a > 1.0) & (b > 1.0)
        denom = torch.where(interior, a + b - 2.0, torch.ones_like(a))
        mode = ((a - 1.0) / denom).clamp(0.0, 1.0)
        end = torch.where(a < b, torch.zeros_like(a), torch.where(a > b, torch.ones_like(a),
                                                                   torch.full_like(a, 0.5)))
        return torch.where(interior, mode, end)

    def sample(self, out, generator=None, x=None):
        """A Beta draw. torch's Beta sampler takes no generator; with one, the global RNG is
        reseeded from it inside fork_rng, so the draw is still a function of the generator."""
        a, b = self.concentrations(out)
        if generator is None:
            return torch.distributions.Beta(a, b).sample()
        seed = int(torch.randint(0, 2**62, (1,), generator=generator, device=generator.device))
        devices = [a.device] if a.device.type == "cuda" else []
        with torch.random.fork_rng(devices=devices, device_type=a.device.type):
            torch.manual_seed(seed)
            return torch.distributions.Beta(a, b).sample()

    def extra_repr(self):
        return f"{super().extra_repr()}, eps={self.eps}, floor={self.floor}"
