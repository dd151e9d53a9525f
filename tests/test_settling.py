"""Trends over the last epochs (reconloss.evaluation.settling) against hand-computed values."""

import math

import pytest

from reconloss.evaluation import settling


def _rows(losses, sigmas=None):
    return [{"epoch": str(i + 1), "loss": str(v), **({"sigma_mean": str(sigmas[i])} if sigmas else {})}
            for i, v in enumerate(losses)]


def test_trends_are_per_epoch_changes_over_the_window():
    t = settling.trends(_rows([200, 120, 110, 104, 100], [1.0, 0.7, 0.5, 0.4, 0.35]))
    assert t["loss_trend"] == pytest.approx((100 - 110) / 2 / 100)
    assert t["sigma_trend"] == pytest.approx((math.log(0.35) - math.log(0.5)) / 2)


def test_a_flat_run_has_zero_trend_and_a_short_one_none():
    assert settling.trends(_rows([5, 5, 5]))["loss_trend"] == 0
    assert settling.trends(_rows([5, 5])) == {"loss_trend": None, "sigma_trend": None}
    assert settling.trends(_rows([5, float("nan"), 5]))["loss_trend"] is None


def test_negative_losses_use_the_magnitude(tmp_path):
    t = settling.trends(_rows([-100, -110, -120]))
    assert t["loss_trend"] == pytest.approx(-10 / 120)
    path = tmp_path / "log.csv"
    path.write_text("epoch,loss\n1,3\n2,2\n3,1\n")
    assert settling.read_trends(path)["loss_trend"] == pytest.approx(-1.0)
    assert settling.read_trends(tmp_path / "missing.csv")["loss_trend"] is None
