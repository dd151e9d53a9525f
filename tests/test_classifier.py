"""reconloss.evaluation.classifier: the FID feature network (digits trained for real, fast)."""

import json

import numpy as np
import pytest
import torch

from reconloss.evaluation import classifier, fid
from torch_helpers import one_thread

def test_digits_accuracy_and_outputs(digits_classifier):
    out = digits_classifier["dir"]
    m = json.loads((out / "metrics.json").read_text())
    for key in ("dataset", "test_accuracy", "feature_dim", "train_seconds", "epochs"):
        assert key in m
    assert m["dataset"] == "digits" and m["feature_dim"] == 32
    assert m["test_accuracy"] >= 0.95
    # the stored accuracy is the reloaded model's
    data = digits_classifier["data"]
    model = classifier.load_classifier(out)
    logits = model(data["test_x"].float() / data["scale"])
    acc = float((logits.argmax(1) == data["test_y"]).float().mean())
    assert acc == pytest.approx(m["test_accuracy"], abs=1e-6)


def test_model_file_is_weights_only_and_self_describing(digits_classifier):
    ckpt = torch.load(digits_classifier["dir"] / "model.pt", weights_only=True)
    assert ckpt["data_shape"] == [1, 8, 8] and ckpt["num_classes"] == 10
    assert ckpt["arch"]["feature_dim"] == 32


def test_cached_test_stats_match_features(digits_classifier):
    data, extract = digits_classifier["data"], digits_classifier["extract"]
    st = np.load(digits_classifier["dir"] / "test_stats.npz")
    assert st["mu"].dtype == np.float64 and st["sigma"].shape == (32, 32) and int(st["n"]) == len(data["test_x"])
    f = extract(data["test_x"].float() / data["scale"])
    assert f.shape == (len(data["test_x"]), extract.feature_dim)
    mu, sigma = fid.feature_stats(f)
    np.testing.assert_allclose(st["mu"], mu, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(st["sigma"], sigma, rtol=1e-4, atol=1e-5)
    # full rank: the pre-activation features have no dead dimensions
    assert np.linalg.eigvalsh(st["sigma"]).min() > 0


def test_feature_extractor_independent_of_batch_size(digits_classifier):
    x = digits_classifier["data"]["test_x"].float() / 16
    small = classifier.load_feature_extractor(digits_classifier["dir"], batch_size=7)
    torch.testing.assert_close(small(x), digits_classifier["extract"](x), rtol=1e-5, atol=1e-5)


def test_logits_of_features_are_the_models(digits_classifier):
    """extract.logits(features) is the classifier's own output; the test set's classifier score in
    metrics.json is the one of those logits."""
    from reconloss.evaluation.scores import classifier_score

    data, extract = digits_classifier["data"], digits_classifier["extract"]
    x = data["test_x"].float() / data["scale"]
    logits = extract.logits(extract(x))
    with torch.no_grad():
        torch.testing.assert_close(logits, classifier.load_classifier(digits_classifier["dir"])(x))
    m = json.loads((digits_classifier["dir"] / "metrics.json").read_text())
    assert m["test_classifier_score"] == pytest.approx(classifier_score(torch.log_softmax(logits.double(), 1)),
                                                       rel=1e-5)
    assert 8 < m["test_classifier_score"] <= 10


def test_training_is_deterministic(digits_classifier):
    data = digits_classifier["data"]
    with one_thread():
        a, _ = classifier.train_classifier(data, {"epochs": 2, "seed": 3})
        b, _ = classifier.train_classifier(data, {"epochs": 2, "seed": 3})
    for (k, va), vb in zip(a.state_dict().items(), b.state_dict().values()):
        assert torch.equal(va, vb), k


def test_augment_translates_and_flips():
    g = torch.Generator().manual_seed(0)
    x = torch.rand(16, 2, 6, 5, generator=g)
    assert torch.equal(classifier.augment(x, 0, False, g), x)
    out = classifier.augment(x, 2, False, g)
    padded = torch.nn.functional.pad(x, (2, 2, 2, 2))
    for i in range(len(x)):  # every output is one crop of the zero-padded input
        crops = [padded[i, :, a:a + 6, b:b + 5] for a in range(5) for b in range(5)]
        assert any(torch.equal(out[i], c) for c in crops)
    flipped = classifier.augment(x, 0, True, g)
    assert all(torch.equal(f, v) or torch.equal(f, v.flip(2)) for f, v in zip(flipped, x))


@pytest.mark.parametrize("shape", [(1, 28, 28), (3, 32, 32)])
def test_cnn_defaults_train_on_tiny_data(shape):
    """The MNIST and CIFAR architectures run end to end (accuracy is measured on real data; README)."""
    g = torch.Generator().manual_seed(0)
    n = 64
    data = {"train_x": torch.randint(0, 256, (n, *shape), dtype=torch.uint8, generator=g),
            "train_y": torch.arange(n) % 10, "scale": 255.0, "classes": [str(i) for i in range(10)]}
    s = classifier.default_settings(shape)
    assert s["arch"]["kind"] == "cnn" and s["arch"]["feature_dim"] == 128
    with one_thread():
        model, info = classifier.train_classifier(data, {"epochs": 1, "batch_size": 32})
    f, logits = classifier.predict_features(model, data["train_x"], 255.0)
    assert f.shape == (n, 128) and logits.shape == (n, 10) and torch.isfinite(f).all()
    assert info["settings"]["augment"]["flip"] == (shape[0] == 3)


def test_fast_pooling_equals_max_pool2d():
    """Inference pooling takes the same values as max_pool2d (odd sizes floored, NaN propagated, ties);
    with autograd it is max_pool2d itself, gradient included."""
    g = torch.Generator().manual_seed(0)
    pool = classifier.MaxPool2()
    for shape in ((3, 4, 8, 8), (2, 5, 7, 9), (1, 1, 3, 2)):
        x = torch.randn(shape, generator=g).clamp_min(0)  # many exact ties at 0
        x.view(-1)[5] = float("nan")
        with torch.no_grad():
            assert torch.equal(pool(x).isnan(), torch.nn.functional.max_pool2d(x, 2).isnan())
            assert torch.equal(pool(x).nan_to_num(-1), torch.nn.functional.max_pool2d(x, 2).nan_to_num(-1))
    x = torch.randn(2, 3, 6, 6, generator=g).clamp_min(0).requires_grad_()
    pool(x).sum().backward()
    ref = x.detach().clone().requires_grad_()
    torch.nn.functional.max_pool2d(ref, 2).sum().backward()
    assert torch.equal(x.grad, ref.grad)
