"""Where a Gaussian reconstruction's σ differs: on always-black pixels, and from image to image.

The post's σ discussion (section "Revisiting the Gaussian likelihood") expects a
lower σ on pixels that are black in every training image (MNIST's border) and
a σ that varies between images, since some images are easier than others. The
metrics, all in [0, 1] units (σ divided by the run's data range), of the
reconstruction at z = posterior mean, with σ as lik.normal gives it (the
optimal-σ variants take it at the data x, as their NLL does):

- sigma_always_black, sigma_other: mean σ over the pixels (subpixels, for
  colour) that are 0 in every training image, and over all other pixels;
- sigma_image_p10, sigma_image_p90: the 10th and 90th percentiles over the
  test images of each image's mean σ.

Null for a likelihood without a Gaussian σ (no lik.normal); sigma_always_black
and sigma_other also where the mask of always-black pixels is unknown, and
sigma_always_black where the training set has no such pixel (CIFAR-10: then
sigma_other is the mean over every pixel).
"""

import numpy as np
import torch

KEYS = ("sigma_always_black", "sigma_other", "sigma_image_p10", "sigma_image_p90")


def always_black(train_x):
    """(C, H, W) bool: the pixels that are 0 in every training image (uint8 levels)."""
    return (torch.as_tensor(train_x) == 0).all(dim=0)


class SigmaSpread:
    """Sums of σ over always-black and other pixels, and each image's mean σ, batch by batch."""

    def __init__(self, mask=None, data_range=1.0):
        self.mask = None if mask is None else torch.as_tensor(mask, dtype=torch.bool)
        self.rng = float(data_range)
        self.sums = {"black": 0.0, "other": 0.0}
        self.counts = {"black": 0, "other": 0}
        self.per_image = []

    def add(self, lik, out, x):
        """Add a batch: the decoder output `out` and the data `x` it reconstructs (as trained)."""
        if not hasattr(lik, "normal"):
            return
        sigma = lik.normal(out, x)[1].double() / self.rng
        sigma = sigma.expand(len(x), *x.shape[1:])
        self.per_image.append(sigma.flatten(1).mean(1).cpu())
        if self.mask is not None:
            black = self.mask.to(sigma.device).expand_as(sigma)
            for key, where in (("black", black), ("other", ~black)):
                self.sums[key] += float(sigma[where].sum())
                self.counts[key] += int(where.sum())

    def metrics(self) -> dict:
        m = dict.fromkeys(KEYS)
        if not self.per_image:
            return m
        p10, p90 = np.percentile(torch.cat(self.per_image).numpy(), [10, 90])
        m["sigma_image_p10"], m["sigma_image_p90"] = float(p10), float(p90)
        for key in ("black", "other"):
            if self.counts[key]:
                m["sigma_always_black" if key == "black" else "sigma_other"] = self.sums[key] / self.counts[key]
        return m
