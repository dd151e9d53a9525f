"""Level interventions: the same images with only their grey levels changed.

The desaturation claim asks whether FID sees CB's grey whites and black. Comparing
CB's FID with Bernoulli's cannot tell: the two are different models. Changing only
the levels of one model's samples can: FID of CB's samples with their range
stretched to the data's, and of Bernoulli's squeezed into the range CB's expected
value can reach. If FID moves by more than seed-to-seed noise, it sees the levels.
Torch only where the images are tensors; the bounds are torch.distributions'.
"""

import torch

def cb_mean_range(clamp=None) -> tuple[float, float]:
    """(lowest, highest) expected value of a continuous Bernoulli with λ in `clamp` (None: its default):
    (0.1085, 0.8915) by default.

    E[x] is increasing in λ, so the ends of the clamp give the ends of the range
    (torch.distributions.ContinuousBernoulli's mean, in float64).
    """
    from reconloss.settings import option_default

    lam = torch.tensor(clamp or option_default("continuous_bernoulli", "clamp"), dtype=torch.float64)
    lo, hi = torch.distributions.ContinuousBernoulli(probs=lam).mean.tolist()
    return lo, hi


def remap(images, src, dst):
    """Levels mapped affinely from the interval src = (a, b) onto dst = (c, d), clipped to [0, 1].

    None where src is empty (a constant image has no range to stretch).
    """
    (a, b), (c, d) = src, dst
    if not b - a > 1e-6:
        return None
    return ((images - a) * ((d - c) / (b - a)) + c).clamp(0.0, 1.0)


def sharpness_sum(images) -> float:
    """Sum over images of the mean squared difference between neighbouring pixels (rows and columns).

    Divided by the number of images it is a per-image gradient energy. Squared, not
    absolute: a monotone edge has the same total variation whether it is a ramp or a
    step, but a step (what an over-sharpened image shows) has more gradient energy.
    Float64 sums.
    """
    x = images.double()
    dx = (x[..., :, 1:] - x[..., :, :-1]).square().flatten(1).mean(1)
    dy = (x[..., 1:, :] - x[..., :-1, :]).square().flatten(1).mean(1)
    return float((dx + dy).sum() / 2)
