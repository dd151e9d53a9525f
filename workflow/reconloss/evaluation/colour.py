"""Colour metrics of a run on RGB data: how far λ and E[x] sit from the data's levels.

The post (sections "Sharpness" and "Instability and Color Range") shows CB's
parameter image λ oversaturated on colour images while E[x] looks right, and on
an image with black and white elements λ overblown while E[x] comes out too
dark. These numbers let reconloss.claims.colour judge both on any RGB data set.
All are computed on the test set's reconstructions with z = the posterior mean,
intensities in [0, 1] units:

- colour_{data,param,mean}_extreme: share of subpixels at the extremes (≤ LOW or
  ≥ HIGH) in the data, in λ (the parameter image) and in E[x];
- colour_{param,mean}_w1: the Wasserstein-1 distance between λ's (E[x]'s) level
  distribution and the data's, channel by channel, averaged over the channels;
- colour_bw_images: how many test images have black-and-white elements
  (bw_indices: at least BW_MIN_SHARE of their pixels near black and as many near
  white); colour_bw_{data,param,mean}_{black,white}: the mean level, over those
  images' near-black (near-white) pixels, of the data, λ and E[x].

Grey data sets get none of these (metrics calls this module for 3 channels only).
"""

import numpy as np
import torch

#: Extremes of a subpixel's level: at most LOW or at least HIGH.
LOW, HIGH = 0.02, 0.98
#: A pixel is near black when its brightest channel is at most BLACK, near white when its darkest is at least WHITE.
BLACK, WHITE = 0.1, 0.9
#: A black-and-white test image: at least this share of its pixels near black, and at least as many near white.
BW_MIN_SHARE = 0.1
#: Black-and-white test images kept in images.pt for the figures.
BW_KEEP = 4

KEYS = ["colour_data_extreme", "colour_param_extreme", "colour_mean_extreme", "colour_param_w1", "colour_mean_w1",
        "colour_bw_images", "colour_bw_data_black", "colour_bw_data_white", "colour_bw_param_black",
        "colour_bw_param_white", "colour_bw_mean_black", "colour_bw_mean_white"]


def extreme_share(images) -> float:
    """Share of subpixels at most LOW or at least HIGH."""
    x = torch.as_tensor(images)
    return float(((x <= LOW) | (x >= HIGH)).double().mean())


def channel_w1(images, reference) -> float:
    """Wasserstein-1 distance between the level distributions of two image sets (N, C, H, W), per channel,
    averaged over channels (scipy.stats.wasserstein_distance of each channel's values)."""
    from scipy.stats import wasserstein_distance

    a, b = (torch.as_tensor(t).double().transpose(0, 1).reshape(t.shape[1], -1).numpy() for t in (images, reference))
    return float(np.mean([wasserstein_distance(u, v) for u, v in zip(a, b)]))


def bw_masks(images01):
    """(near-black, near-white) pixel masks (N, H, W) of images in [0, 1]."""
    x = torch.as_tensor(images01)
    return x.amax(1) <= BLACK, x.amin(1) >= WHITE


def bw_indices(images01):
    """Test images with black-and-white elements (both shares ≥ BW_MIN_SHARE), by the smaller of the two
    shares, largest first (ties: lower index first)."""
    black, white = bw_masks(images01)
    share = torch.minimum(black.flatten(1).double().mean(1), white.flatten(1).double().mean(1))
    order = torch.sort(-share, stable=True).indices
    return order[share[order] >= BW_MIN_SHARE]


def region_level(images, mask):
    """Mean level of `images` (N, C, H, W) over the pixels of mask (N, H, W), every channel; None if empty."""
    if not bool(mask.any()):
        return None
    return float(torch.as_tensor(images).double().permute(0, 2, 3, 1)[mask].mean())


@torch.no_grad()
def colour_pass(r):
    """(metrics, images) of a run on RGB data: r is a reconloss.evaluation.metrics.Run."""
    data, params, means = [], [], []
    for i in range(0, r.n, r.bs):
        x01 = r.x_int[i:i + r.bs].float() / r.scale
        mu, _ = r.vae.encode(x01 * r.rng)
        out = r.vae.decode(mu)
        data.append(x01.cpu())
        params.append((r.lik.param_image(out) / r.rng).float().cpu())
        means.append((r.lik.mean(out) / r.rng).float().cpu())
    x, lam, mean = torch.cat(data), torch.cat(params), torch.cat(means)
    m = {"colour_data_extreme": extreme_share(x), "colour_param_extreme": extreme_share(lam),
         "colour_mean_extreme": extreme_share(mean), "colour_param_w1": channel_w1(lam, x),
         "colour_mean_w1": channel_w1(mean, x)}
    picked = bw_indices(x)
    m["colour_bw_images"] = int(len(picked))
    black, white = bw_masks(x[picked])
    for key, img in (("data", x), ("param", lam), ("mean", mean)):
        m[f"colour_bw_{key}_black"] = region_level(img[picked], black)
        m[f"colour_bw_{key}_white"] = region_level(img[picked], white)
    keep = picked[:BW_KEEP]
    images = {"colour_indices": keep.clone(), "colour_original": x[keep].clone(), "colour_param": lam[keep].clone(),
              "colour_mean": mean[keep].clone()}
    return m, images
