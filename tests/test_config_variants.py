"""The plan-time check of variants' train settings and of train.data_range, without Snakemake."""

import math

import pytest

from reconloss.plan import config_check

from reconloss import settings


def grid(**extra):
    return {"datasets": ["mnist", "cifar10"], "likelihoods": ["gaussian_fixed"], "betas": [1.0], "seeds": [0],
            **extra}


def test_variant_train_is_checked_like_the_train_section():
    top = config_check.check(grid(train={"epoch": 3, "lr": -1.0}))
    var = config_check.check(grid(variants={"v": {"likelihood": "bernoulli", "train": {"epoch": 3, "lr": -1.0}}}))
    assert [m for _, m in top] == [m for _, m in var] and len(top) == 2
    assert [p for p, _ in var] == ["variants.v.train.epoch", "variants.v.train.lr"]
    assert config_check.check(grid(variants={"v": {"likelihood": "bernoulli", "train": {"grad_clip": None}}})) == []


@pytest.mark.parametrize("config, path", [
    (grid(likelihoods=["bernoulli"], train={"data_range": 255.0}), "train.data_range"),
    (grid(likelihoods=["beta"], dataset_settings={"cifar10": {"train": {"data_range": 2.0}}}),
     "dataset_settings.cifar10.train.data_range"),
    (grid(variants={"c": {"likelihood": "categorical", "train": {"data_range": 255.0}}}),
     "variants.c.train.data_range"),
    (grid(variants={"d": {"likelihood": "gaussian_data_pixel", "options": {"mean_activation": "identity"},
                          "train": {"data_range": 255.0}}}), "variants.d.train.data_range"),
])
def test_data_range_rejected_for_likelihoods_that_need_unit_data(config, path):
    problems = config_check.check(config)
    assert len(problems) == 1 and problems[0][0] == path and "needs data in [0, 1]" in problems[0][1]


def test_data_range_accepted_for_gaussians_with_identity_mean():
    ok = grid(likelihood_options={"gaussian_fixed": {"mean_activation": "identity"}}, train={"data_range": 255.0})
    assert config_check.check(ok) == []
    sigmoid = config_check.check(grid(train={"data_range": 255.0}))
    assert len(sigmoid) == 1 and "mean_activation: identity" in sigmoid[0][1]
    # an override back to 1 for one label lifts the restriction there
    back = grid(likelihoods=["gaussian_fixed"], train={"data_range": 255.0},
                likelihood_options={"gaussian_fixed": {"mean_activation": "identity"}},
                variants={"b": {"likelihood": "bernoulli", "train": {"data_range": 1.0}}})
    assert config_check.check(back) == []


def test_data_range_likelihoods_match_the_classes():
    """Exactly the Gaussians on the real line whose sigma is not fitted to [0, 1] training data."""
    from reconloss.likelihoods import LIKELIHOODS
    from reconloss.likelihoods.base import Likelihood

    free = [name for name, cls in LIKELIHOODS.items()
            if cls.support == (-math.inf, math.inf) and not cls.discrete and hasattr(cls, "normal")
            and cls.fit_data is Likelihood.fit_data]
    assert free == settings.DATA_RANGE_LIKELIHOODS


def test_override_schemas_carry_no_defaults():
    """Snakemake's validate fills in defaults: an override's schema must have none, or a dataset's
    `train: {epochs: 200}` would reset every other train setting to its default."""
    import json

    schema = settings.schema()
    for name in settings.PER_DATASET:
        assert "default" not in json.dumps(schema["$defs"][f"{name}_override"])
    assert schema["properties"]["variants"]["additionalProperties"]["properties"]["train"] == {
        "$ref": "#/$defs/train_override"}
