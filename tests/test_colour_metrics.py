"""reconloss.evaluation.colour: the colour metrics against hand-computed values and scipy."""

from types import SimpleNamespace

import numpy as np
import pytest
import torch
from scipy.stats import wasserstein_distance

from reconloss.evaluation import colour, scores
from reconloss.report.tables import COLOUR_COLUMNS, KEY_COLUMNS, METRIC_COLUMNS, summary_frame


def test_extreme_share_counts_both_ends_inclusive():
    x = torch.tensor([0.0, 0.02, 0.021, 0.5, 0.979, 0.98, 1.0, 0.3]).view(1, 2, 2, 2)
    assert colour.extreme_share(x) == pytest.approx(4 / 8)


def test_channel_w1_is_the_mean_over_channels_of_scipy_and_of_hand_values():
    rng = np.random.default_rng(0)
    ref = torch.from_numpy(rng.uniform(0.2, 0.8, size=(5, 3, 4, 4)))
    shifts = torch.tensor([0.0, 0.1, -0.05]).view(1, 3, 1, 1)
    # a constant shift δ of every level moves the distribution by |δ|: W1 = |δ|
    assert colour.channel_w1(ref + shifts, ref) == pytest.approx((0 + 0.1 + 0.05) / 3)
    other = torch.from_numpy(rng.beta(0.3, 0.3, size=(7, 3, 4, 4)))
    expected = np.mean([wasserstein_distance(other[:, c].ravel(), ref[:, c].ravel()) for c in range(3)])
    assert colour.channel_w1(other, ref) == pytest.approx(expected)
    # by hand: levels {0, 1} against {0.5, 0.5}: each unit of mass moves 0.5
    a = torch.tensor([0.0, 1.0]).view(2, 1, 1, 1)
    b = torch.tensor([0.5, 0.5]).view(2, 1, 1, 1)
    assert colour.channel_w1(a, b) == pytest.approx(0.5)


def test_channel_w1_compares_channels_not_pooled_levels():
    """Red and blue swapped keep the pooled levels but not the per-channel ones."""
    x = torch.zeros(4, 3, 2, 2)
    x[:, 0] = 1.0
    swapped = x.flip(1)
    assert colour.channel_w1(swapped, x) == pytest.approx(2 / 3)


def bw_image(black, white, size=10):
    """An image with `black` near-black pixels, `white` near-white ones, the rest mid grey with a red tint."""
    img = torch.full((3, size, size), 0.5)
    img[0] = 0.6
    flat = img.view(3, -1)
    flat[:, :black] = 0.05
    flat[:, black:black + white] = 0.95
    return img


def test_bw_indices_need_both_shares_and_order_by_the_smaller():
    images = torch.stack([bw_image(30, 8), bw_image(10, 10), bw_image(0, 50), bw_image(20, 12), bw_image(15, 40)])
    # shares (black, white): (.3,.08) (.1,.1) (0,.5) (.2,.12) (.15,.4) -> smaller: .08 .1 0 .12 .15
    assert colour.BW_MIN_SHARE == 0.1
    assert colour.bw_indices(images).tolist() == [4, 3, 1]
    black, white = colour.bw_masks(images)
    assert black[0].sum() == 30 and white[0].sum() == 8
    # a pixel is near black only when every channel is: a dark red pixel is not
    red = torch.zeros(1, 3, 1, 1)
    red[0, 0] = 0.5
    assert not colour.bw_masks(red)[0].any()


def test_region_level_averages_every_channel_of_the_masked_pixels():
    img = torch.arange(2 * 3 * 2 * 2, dtype=torch.float64).view(2, 3, 2, 2) / 24
    mask = torch.zeros(2, 2, 2, dtype=torch.bool)
    mask[0, 0, 1] = True
    mask[1, 1, 0] = True
    expected = np.mean([img[0, c, 0, 1] for c in range(3)] + [img[1, c, 1, 0] for c in range(3)])
    assert colour.region_level(img, mask) == pytest.approx(float(expected))
    assert colour.region_level(img, torch.zeros_like(mask)) is None


class _Lik:
    """λ = the decoder output; E[x] = 0.25 + λ / 2, a mean pulled towards 0.5 as CB's is."""

    def param_image(self, out):
        return out

    def mean(self, out):
        return 0.25 + out / 2


class _VAE:
    """The posterior mean is the image itself; the decoder returns it squared (darker, more extreme)."""

    def encode(self, x):
        return x, None

    def decode(self, z):
        return z.square()


def test_colour_pass_against_a_direct_computation():
    images = torch.stack([bw_image(30, 20), bw_image(0, 3), bw_image(10, 10), bw_image(2, 2)])
    x_int = (images * 255).round().to(torch.uint8)
    run = SimpleNamespace(vae=_VAE(), lik=_Lik(), x_int=x_int, scale=255.0, rng=1.0, n=4, bs=3)
    m, imgs = colour.colour_pass(run)
    x = x_int.float() / 255
    lam, mean = x.square(), 0.25 + x.square() / 2
    assert m["colour_data_extreme"] == pytest.approx(colour.extreme_share(x))
    assert m["colour_param_extreme"] == pytest.approx(float(((lam <= 0.02) | (lam >= 0.98)).double().mean()))
    assert m["colour_mean_extreme"] == 0.0  # 0.25 + λ/2 lies in [0.25, 0.75]
    assert m["colour_mean_w1"] == pytest.approx(
        np.mean([wasserstein_distance(mean[:, c].ravel(), x[:, c].ravel()) for c in range(3)]))
    assert m["colour_bw_images"] == 2 and imgs["colour_indices"].tolist() == [0, 2]  # smaller shares .2, .1
    picked = x[[0, 2]]
    near_white = picked.amin(1) >= 0.9
    assert m["colour_bw_data_white"] == pytest.approx(float(picked.permute(0, 2, 3, 1)[near_white].mean()))
    assert m["colour_bw_param_white"] == pytest.approx(float(picked.square().permute(0, 2, 3, 1)[near_white].mean()))
    assert m["colour_bw_mean_black"] == pytest.approx(0.25 + (int(x_int[0, 0, 0, 0]) / 255) ** 2 / 2, rel=1e-5)
    assert torch.equal(imgs["colour_original"], picked) and torch.allclose(imgs["colour_mean"], mean[[0, 2]])
    assert set(m) == set(colour.KEYS)


def test_summary_places_colour_columns_only_where_runs_have_them():
    base = {"dataset": "d", "likelihood": "bernoulli", "beta": 1.0, "seed": 0, "status": "ok", "fid": 1.0}
    grey = summary_frame([base])
    assert not set(COLOUR_COLUMNS) & set(grey.columns)
    rgb = summary_frame([{**base, "colour_mean_w1": 0.1, "zzz_extra": 1}, base])
    cols = list(rgb.columns)
    start = len(KEY_COLUMNS) + len(METRIC_COLUMNS)  # right after the contract's metrics
    assert cols[:start] == KEY_COLUMNS + METRIC_COLUMNS and cols[start:start + len(COLOUR_COLUMNS)] == COLOUR_COLUMNS
    assert cols[-1] == "zzz_extra"
    assert COLOUR_COLUMNS == colour.KEYS


@pytest.mark.parametrize("shape", [(3, 16, 16), (1, 16, 16)])
def test_compute_metrics_adds_the_colour_metrics_for_rgb_data_only(shape):
    """An untrained CB conv VAE through the whole evaluation: RGB data gains the colour metrics and their images
    (equal to a direct colour_pass), grey data is as before."""
    from reconloss.evaluation import metrics
    from reconloss.training.vae import build_vae

    torch.manual_seed(0)
    settings = {"likelihood_name": "continuous_bernoulli", "beta": 1.0, "seed": 0,
                "train": {"latent_dim": 4}, "model": {"arch": "conv", "channels": [8, 16], "hidden": [16]},
                "evaluate": {"fid_samples": 40, "iw_samples": 1, "batch_size": 16, "n_images": 4,
                             "n_sample_grid": 4, "device": "cpu"}}
    vae = build_vae(settings, shape).eval()
    x = torch.randint(0, 256, (30, *shape), dtype=torch.uint8)
    x[:5, :, :8] = 0
    x[:5, :, 8:] = 255  # five black-and-white images
    data = {"test_x": x, "test_y": torch.arange(30) % 3, "scale": 255.0}
    proj = torch.randn(int(np.prod(shape)), 3)

    def extractor(images):
        return images.flatten(1) @ proj

    net = scores.fid_net(extractor, None, x.float() / 255)  # its test statistics from the test images
    m, images, _ = metrics.compute_metrics(vae, data, settings, [net])
    if shape[0] == 1:
        assert not [k for k in m if k.startswith("colour_")] and not [k for k in images if k.startswith("colour_")]
        return
    assert set(colour.KEYS) <= set(m) and m["colour_bw_images"] == 5
    assert m["colour_bw_data_white"] == 1.0 and m["colour_bw_data_black"] == 0.0
    run = metrics.Run(vae, data, settings, [net])
    direct, direct_images = colour.colour_pass(run)
    assert all(m[k] == pytest.approx(direct[k]) for k in colour.KEYS)
    assert torch.equal(images["colour_indices"], direct_images["colour_indices"])
    assert images["colour_original"].shape == (4, *shape)
