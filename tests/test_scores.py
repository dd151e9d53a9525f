"""reconloss.evaluation.scores: the classifier score against its closed forms and a direct numpy
computation, and the per-classifier keys."""

import math

import numpy as np
import pytest
import torch
from scipy import special

from reconloss.evaluation.scores import FID_METRICS, Bank, FidNet, classifier_keys, classifier_score, per_classifier


def test_uniform_classifier_scores_one():
    """p(y|x) = p(y) for every x: the KL is 0 whatever the number of classes or images."""
    for n_classes in (2, 10):
        log_probs = torch.full((37, n_classes), -math.log(n_classes))
        assert classifier_score(log_probs) == pytest.approx(1.0, abs=1e-12)
    # any x-independent distribution, not only the uniform one
    lp = torch.log_softmax(torch.tensor([[0.3, -1.0, 2.0]]), 1).expand(20, 3)
    assert classifier_score(lp) == pytest.approx(1.0, abs=1e-12)


@pytest.mark.parametrize("n_used", [1, 4, 10])
def test_confident_classifier_scores_the_number_of_classes_used(n_used):
    """One-hot p(y|x) over n equally used classes (of 10): KL = log n for every image, score n."""
    y = torch.arange(200) % n_used
    logits = 60.0 * torch.nn.functional.one_hot(y, 10).double()
    assert classifier_score(torch.log_softmax(logits, 1)) == pytest.approx(n_used, rel=1e-9)


def test_confident_classifier_with_unequal_use_scores_exp_entropy():
    """One-hot p(y|x) with classes used at frequencies q: score exp(H(q)), below the class count."""
    y = torch.tensor([0] * 50 + [1] * 30 + [2] * 20)
    logits = 60.0 * torch.nn.functional.one_hot(y, 3).double()
    q = np.array([0.5, 0.3, 0.2])
    assert classifier_score(torch.log_softmax(logits, 1)) == pytest.approx(math.exp(-(q * np.log(q)).sum()),
                                                                          rel=1e-9)


def test_against_direct_numpy():
    rng = np.random.default_rng(0)
    logits = rng.normal(scale=2.0, size=(300, 10))
    p = special.softmax(logits, axis=1)
    py = p.mean(0)
    expected = math.exp(float((p * (np.log(p) - np.log(py))).sum(1).mean()))
    got = classifier_score(torch.log_softmax(torch.tensor(logits), 1))
    assert got == pytest.approx(expected, rel=1e-10)
    assert 1.0 < got < 10.0


def test_non_finite_or_empty_is_none():
    lp = torch.log_softmax(torch.randn(5, 3), 1)
    lp[2, 1] = float("nan")
    assert classifier_score(lp) is None
    assert classifier_score(torch.zeros(0, 3)) is None


def test_keys_and_bank():
    assert classifier_keys(2)[:2] == ["fid_c0", "fid_c1"]
    assert {f"{m}_c1" for m in FID_METRICS} <= set(classifier_keys(2))
    assert "data_classifier_score_c1" in classifier_keys(2) and len(classifier_keys(1)) == 9
    assert per_classifier("fid", [3.0, 4.0]) == {"fid": 3.0, "fid_c0": 3.0, "fid_c1": 4.0}
    # a set that never got an image (a constant sample that cannot be stretched) is null under each
    nets = [FidNet(lambda x: x.flatten(1), (np.zeros(4), np.eye(4)), lambda f: f)] * 2
    bank = Bank(nets)
    assert bank.fids("fid_stretched", "stretched", "x") == {"fid_stretched": None, "fid_stretched_c0": None,
                                                           "fid_stretched_c1": None}
    assert bank.scores("classifier_score", "stretched")["classifier_score_c1"] is None
