"""The family of reconstruction likelihoods p(x|z), selectable by name.

    lik = make_likelihood(name, data_shape=(C, H, W), **options)

Every class implements reconloss.likelihoods.base.Likelihood; LIKELIHOODS maps each
name of the configuration's `likelihoods` list to its class.
"""

import inspect

from reconloss.likelihoods.base import Likelihood
from reconloss.likelihoods.bernoulli import Bernoulli
from reconloss.likelihoods.beta import Beta
from reconloss.likelihoods.categorical import Categorical
from reconloss.likelihoods.continuous_bernoulli import ContinuousBernoulli
from reconloss.likelihoods.continuous_bernoulli_naive import ContinuousBernoulliNaive
from reconloss.likelihoods.discretized_logistic import DiscretizedLogistic
from reconloss.likelihoods.gaussian import (
    GaussianDataPixel, GaussianFixed, GaussianLearnedGlobal, GaussianLearnedPixel,
    GaussianOptimalGlobal, GaussianOptimalImage, GaussianOptimalPixel, GaussianPredictedImage,
    GaussianPredictedPixel,
)
from reconloss.likelihoods.truncated_gaussian import TruncatedGaussian

LIKELIHOODS = {
    "gaussian_fixed": GaussianFixed,
    "gaussian_data_pixel": GaussianDataPixel,
    "gaussian_learned_global": GaussianLearnedGlobal,
    "gaussian_learned_pixel": GaussianLearnedPixel,
    "gaussian_predicted_image": GaussianPredictedImage,
    "gaussian_predicted_pixel": GaussianPredictedPixel,
    "gaussian_optimal_pixel": GaussianOptimalPixel,
    "gaussian_optimal_image": GaussianOptimalImage,
    "gaussian_optimal_global": GaussianOptimalGlobal,
    "truncated_gaussian": TruncatedGaussian,
    "bernoulli": Bernoulli,
    "continuous_bernoulli": ContinuousBernoulli,
    "continuous_bernoulli_naive": ContinuousBernoulliNaive,
    "beta": Beta,
    "discretized_logistic": DiscretizedLogistic,
    "categorical": Categorical,
}


def likelihood_options(name) -> dict:
    """The options of likelihood `name` with their defaults."""
    params = inspect.signature(LIKELIHOODS[name].__init__).parameters
    return {k: p.default for k, p in params.items() if k not in ("self", "data_shape")}


def make_likelihood(name, data_shape, **options) -> Likelihood:
    """The likelihood `name` for data of shape (C, H, W); unknown names or options raise
    ValueError / TypeError naming them and listing what is allowed."""
    if name not in LIKELIHOODS:
        raise ValueError(f"unknown likelihood {name!r}; choose one of: {', '.join(LIKELIHOODS)}")
    allowed = likelihood_options(name)
    unknown = sorted(set(options) - set(allowed))
    if unknown:
        raise TypeError(f"likelihood {name!r} has no option(s) {', '.join(map(repr, unknown))}; "
                        f"its options: {', '.join(allowed) or 'none'}")
    lik = LIKELIHOODS[name](data_shape=data_shape, **options)
    lik.name, lik.options = name, dict(options)
    return lik


__all__ = ["LIKELIHOODS", "Likelihood", "likelihood_options", "make_likelihood"]
