"""FID and the classifier score of image sets under every FID classifier of a dataset.

One classifier per dataset makes every FID verdict depend on that network: a
second MNIST classifier trained with another seed moved Bernoulli's FIDs by
x1.2 and the continuous Bernoulli's by x1.02 (issue 27). So a dataset has K
classifiers (setting classifier.count) and every FID is computed under each:
`{metric}_c{k}` for k = 0..K-1, with `{metric}` itself classifier 0's value
(`fid_c0 == fid`). The images are decoded once; only their features are
extracted K times.

The classifier score is the Inception Score (Salimans et al. 2016) computed
with the dataset's own classifier instead of Inception:
exp(E_x KL(p(y|x) || p(y))), p(y) = E_x p(y|x) over the same images. It is 1
when every image gets the same class distribution and reaches the number of
classes when each image is classified with certainty and the classes are
used equally often; desaturated but recognisable images keep it high where
FID may rise.
"""

import logging
import math
from collections.abc import Callable
from dataclasses import dataclass

import torch

log = logging.getLogger(__name__)

#: FIDs computed under each classifier (suffix _c{k}), in the order of the summary.
FID_METRICS = ("fid", "fid_recon", "fid_param", "fid_stretched", "fid_squeezed")
#: Classifier scores of the sample sets, with the same suffixes; data_classifier_score is the test set's.
SCORE_METRICS = ("classifier_score", "classifier_score_stretched", "classifier_score_squeezed",
                 "data_classifier_score")


def classifier_keys(count: int) -> list:
    """The `{metric}_c{k}` keys of `count` classifiers, metric by metric."""
    return [f"{m}_c{k}" for m in FID_METRICS + SCORE_METRICS for k in range(count)]


def classifier_score(log_probs) -> float | None:
    """exp(mean_x KL(p(y|x) || p(y))) of log p(y|x) (N, classes), p(y) their mean; None when not finite."""
    lp = torch.as_tensor(log_probs).double()
    if lp.ndim != 2 or len(lp) == 0 or not torch.isfinite(lp).all():
        return None
    log_py = torch.logsumexp(lp, 0) - math.log(len(lp))
    kl = (lp.exp() * (lp - log_py)).sum(1).mean()
    value = float(kl.exp())
    return value if math.isfinite(value) else None


@dataclass
class FidNet:
    """One FID classifier: features of images in [0, 1], logits of those features (None: no
    classifier score) and the test set's feature statistics (mu, sigma) and classifier score."""

    features: Callable
    test_stats: tuple
    logits: Callable | None = None
    data_score: float | None = None


def fid_net(features, logits, test_x01, test_stats=None, data_score=None) -> FidNet:
    """A FidNet; its test statistics and data_score, where not given, come from the test images."""
    from reconloss.evaluation.fid import feature_stats

    if test_stats is None or (data_score is None and logits is not None):
        f = features(test_x01)
        test_stats = test_stats if test_stats is not None else feature_stats(f)
        if logits is not None:
            data_score = classifier_score(torch.log_softmax(logits(f).double(), 1))
    return FidNet(features, test_stats, logits, data_score)


def fid_or_none(feats, mu_ref, sigma_ref, what):
    """The FID of features against reference statistics; None (with a warning) for too few or non-finite ones."""
    from reconloss.evaluation.fid import (
        check_sample_size,
        feature_stats,
        frechet_distance,
    )

    if feats is None or len(feats) < 2 or not torch.isfinite(feats).all():
        log.warning("%s: non-finite or too few features, FID is null", what)
        return None
    check_sample_size(len(feats), feats.shape[1], what)
    value = float(frechet_distance(*feature_stats(feats), mu_ref, sigma_ref))
    return value if math.isfinite(value) else None


def per_classifier(key, values) -> dict:
    """{key: values[0], key_c0: values[0], key_c1: values[1], ...}."""
    return {key: values[0] if values else None, **{f"{key}_c{k}": v for k, v in enumerate(values)}}


class Bank:
    """Features (and class log-probabilities, where asked) of named image sets under every
    classifier, gathered batch by batch on the CPU."""

    def __init__(self, nets):
        self.nets = list(nets)
        self.feats, self.log_probs = {}, {}

    def add(self, name, images, score=False):
        feats = self.feats.setdefault(name, [[] for _ in self.nets])
        lps = self.log_probs.setdefault(name, [[] for _ in self.nets])
        for k, net in enumerate(self.nets):
            f = net.features(images)
            feats[k].append(f.float().cpu())
            if score and net.logits is not None:
                lps[k].append(torch.log_softmax(net.logits(f).double(), 1).cpu())

    def fids(self, key, name, what) -> dict:
        """key (and key_c{k}): the FID of the set `name` under each classifier; None where it never got images."""
        feats = self.feats.get(name) or [[] for _ in self.nets]
        return per_classifier(key, [fid_or_none(torch.cat(f) if f else None, *net.test_stats, f"{what} (c{k})")
                                    for k, (net, f) in enumerate(zip(self.nets, feats))])

    def scores(self, key, name) -> dict:
        """key (and key_c{k}): the classifier score of the set `name` under each classifier."""
        lps = self.log_probs.get(name) or [[] for _ in self.nets]
        return per_classifier(key, [classifier_score(torch.cat(lp)) if lp else None for lp in lps])

    def data_scores(self) -> dict:
        return per_classifier("data_classifier_score", [net.data_score for net in self.nets])
