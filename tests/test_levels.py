"""Level interventions and sharpness (reconloss.evaluation.levels) against closed forms and mpmath."""

import mpmath
import numpy as np
import pytest
import torch

from reconloss.evaluation import levels


def _cb_mean_mpmath(lam):
    lam = mpmath.mpf(lam)
    return lam / (2 * lam - 1) + 1 / (2 * mpmath.atanh(1 - 2 * lam))


def test_cb_mean_range_is_the_posts_bounds():
    lo, hi = levels.cb_mean_range()
    assert lo == pytest.approx(float(_cb_mean_mpmath(1e-4)), abs=1e-12)
    assert hi == pytest.approx(float(_cb_mean_mpmath(1 - 1e-4)), abs=1e-12)
    assert round(hi, 4) == 0.8915 and round(lo, 4) == 0.1085


def test_remap_is_the_affine_map_clipped():
    x = torch.tensor([0.0, 0.2, 0.5, 0.8, 1.0])
    got = levels.remap(x, (0.2, 0.8), (0.0, 1.0))
    want = np.clip((x.numpy() - 0.2) / 0.6, 0, 1)
    np.testing.assert_allclose(got.numpy(), want, atol=1e-6)
    squeezed = levels.remap(x, (0.0, 1.0), (0.1085, 0.8915))
    np.testing.assert_allclose(squeezed.numpy(), 0.1085 + x.numpy() * 0.783, atol=1e-6)
    assert levels.remap(x, (0.5, 0.5), (0.0, 1.0)) is None


def test_sharpness_of_a_step_beats_a_ramp():
    ramp = torch.linspace(0, 1, 8).repeat(8, 1)[None, None]
    step = (ramp > 0.5).float()
    # closed forms: a ramp of 8 levels rises 1/7 between each of 7 column pairs, a step 1 once; rows are flat
    assert levels.sharpness_sum(ramp) == pytest.approx((1 / 7) ** 2 / 2)
    assert levels.sharpness_sum(step) == pytest.approx((1 / 7) / 2)
    rng = np.random.default_rng(0)
    imgs = rng.random((3, 1, 5, 6))
    want = sum((np.square(np.diff(i, axis=-1)).mean() + np.square(np.diff(i, axis=-2)).mean()) / 2 for i in imgs)
    assert levels.sharpness_sum(torch.tensor(imgs)) == pytest.approx(want)
    blurred = torch.nn.functional.avg_pool2d(torch.tensor(imgs), 3, 1, 1, count_include_pad=False)
    assert levels.sharpness_sum(blurred) < levels.sharpness_sum(torch.tensor(imgs))
