"""reconloss.evaluation.fid: statistics, the Fréchet distance against an independent computation,
its behaviour on real classifier features, and the offline Inception path."""

import logging

import numpy as np
import pytest
import scipy
import scipy.linalg
import torch

from reconloss.evaluation import fid


def _reference_fid(mu1, s1, mu2, s2):
    """Independent float64 FID: Tr sqrt(S1 S2) = sum sqrt(eig(sqrt(S1) S2 sqrt(S1)))."""
    w, v = scipy.linalg.eigh(s1)
    r = v @ np.diag(np.sqrt(np.clip(w, 0, None))) @ v.T
    ev = scipy.linalg.eigvalsh(r @ s2 @ r)
    return float(np.sum((mu1 - mu2) ** 2) + np.trace(s1) + np.trace(s2) - 2 * np.sqrt(np.clip(ev, 0, None)).sum())


def _random_features(rng, n, f, shift=0.0):
    a = rng.normal(size=(f, f)) / np.sqrt(f)
    return rng.normal(size=(n, f)) @ a + shift


def test_feature_stats_float64_from_float32_tensor():
    rng = np.random.default_rng(0)
    x = _random_features(rng, 300, 7).astype(np.float32)
    mu, sigma = fid.feature_stats(torch.from_numpy(x))
    assert mu.dtype == np.float64 and sigma.dtype == np.float64
    np.testing.assert_allclose(mu, x.astype(np.float64).mean(0), rtol=1e-12)
    np.testing.assert_allclose(sigma, np.cov(x.astype(np.float64), rowvar=False), rtol=1e-12)
    with pytest.raises(ValueError):
        fid.feature_stats(x[:1])


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_frechet_distance_matches_eigenvalue_reference(seed):
    rng = np.random.default_rng(seed)
    f1 = _random_features(rng, 500, 24)
    f2 = _random_features(rng, 400, 24, shift=rng.normal(size=24) * 0.3) * 1.3
    s1, s2 = fid.feature_stats(f1), fid.feature_stats(f2)
    got = fid.frechet_distance(*s1, *s2)
    np.testing.assert_allclose(got, _reference_fid(*s1, *s2), rtol=1e-8, atol=1e-9)
    # 1-D closed form: (m1-m2)^2 + (s1-s2)^2
    assert fid.frechet_distance([1.0], [[4.0]], [3.0], [[9.0]]) == pytest.approx(4.0 + 1.0, rel=1e-12)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_frechet_distance_equals_pytorch_fid_and_warns_nothing(seed, caplog):
    """Same number as the reference implementation, where that still runs on this SciPy, and no
    warning of any kind from ours (SciPy 1.16 deprecates sqrtm's `disp`, which pytorch-fid passes)."""
    import inspect
    import warnings

    from pytorch_fid.fid_score import calculate_frechet_distance

    rng = np.random.default_rng(seed)
    s1 = fid.feature_stats(_random_features(rng, 500, 24))
    s2 = fid.feature_stats(_random_features(rng, 400, 24, shift=0.4) * 1.2)
    with warnings.catch_warnings(), caplog.at_level(logging.DEBUG, logger="reconloss.evaluation.fid"):
        warnings.simplefilter("error")
        got = fid.frechet_distance(*s1, *s2)
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]
    if "disp" not in inspect.signature(scipy.linalg.sqrtm).parameters:
        pytest.skip(f"pytorch-fid cannot run on SciPy {scipy.__version__} (no sqrtm disp); ours did")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        expected = float(calculate_frechet_distance(*s1, *s2))
    assert got == pytest.approx(expected, rel=1e-10, abs=1e-10)


def test_rank_deficient_covariances_give_the_exact_distance_quietly(caplog):
    """Fewer samples than features: finite, equal to the eigenvalue reference, no warning."""
    rng = np.random.default_rng(3)
    s1 = fid.feature_stats(_random_features(rng, 6, 40))
    s2 = fid.feature_stats(_random_features(rng, 6, 40, shift=0.5))
    with caplog.at_level(logging.DEBUG, logger="reconloss.evaluation.fid"):
        got = fid.frechet_distance(*s1, *s2)
    assert np.isfinite(got)
    np.testing.assert_allclose(got, _reference_fid(*s1, *s2), rtol=1e-4, atol=1e-6)
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]


def test_large_imaginary_part_falls_back_to_the_eigenvalue_form(monkeypatch, caplog):
    """Where sqrtm's imaginary part is not noise, the exact PSD form answers (pytorch-fid would raise)."""
    rng = np.random.default_rng(5)
    s1 = fid.feature_stats(_random_features(rng, 300, 10))
    s2 = fid.feature_stats(_random_features(rng, 300, 10, shift=0.5))
    real_sqrtm = scipy.linalg.sqrtm
    monkeypatch.setattr(scipy.linalg, "sqrtm", lambda a: real_sqrtm(a) + 0.5j * np.eye(len(a)))
    with caplog.at_level(logging.DEBUG, logger="reconloss.evaluation.fid"):
        got = fid.frechet_distance(*s1, *s2)
    np.testing.assert_allclose(got, _reference_fid(*s1, *s2), rtol=1e-8)
    assert any("eigenvalue form" in r.getMessage() for r in caplog.records)
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]


def test_self_distance_is_zero():
    rng = np.random.default_rng(4)
    s = fid.feature_stats(_random_features(rng, 1000, 32))
    assert abs(fid.frechet_distance(*s, *s)) < 1e-6


def test_sample_size_warning(caplog):
    with caplog.at_level(logging.WARNING, logger="reconloss.evaluation.fid"):
        assert fid.check_sample_size(100, 32, "sample FID") is False
    assert "sample FID" in caplog.text and "biased" in caplog.text
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="reconloss.evaluation.fid"):
        assert fid.check_sample_size(1000, 32) is True
    assert caplog.text == ""


def test_on_classifier_features(digits_classifier):
    """Real features: halves of the test set are close, other classes farther, noise far."""
    data, extract = digits_classifier["data"], digits_classifier["extract"]
    x = data["test_x"].float() / data["scale"]
    y = data["test_y"]
    feats = extract(x).double().numpy()
    ref = fid.feature_stats(feats)
    perm = torch.randperm(len(x), generator=torch.Generator().manual_seed(0)).numpy()
    a, b = feats[perm[: len(x) // 2]], feats[perm[len(x) // 2:]]
    half = fid.fid_from_features(a, b)
    low, high = feats[(y < 5).numpy()], feats[(y >= 5).numpy()]
    classes = fid.fid_from_features(low, high)
    noise = extract(torch.rand(len(x), *x.shape[1:], generator=torch.Generator().manual_seed(1)))
    to_noise = fid.frechet_distance(*fid.feature_stats(noise), *ref)
    assert fid.frechet_distance(*ref, *ref) == pytest.approx(0.0, abs=1e-6)
    assert 0 < half < 0.25 * classes, (half, classes)
    assert half < 0.1 * to_noise, (half, to_noise)


# --- Inception (random weights only: these are never real Inception numbers) -------------


@pytest.fixture(scope="module")
def random_inception_weights(tmp_path_factory):
    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("inception") / "random_fid_inception.pth"
    torch.save(fid.fid_inception_network().state_dict(), path)
    return path


def test_inception_loads_local_weights_without_download(random_inception_weights, monkeypatch):
    import pytorch_fid.inception as pi

    def no_download(*args, **kwargs):
        raise AssertionError("tried to download")

    monkeypatch.setattr(pi, "load_state_dict_from_url", no_download)
    net = fid.load_inception(random_inception_weights)
    saved = torch.load(random_inception_weights, weights_only=True)
    # the first and the last block carry the file's weights
    torch.testing.assert_close(net.blocks[0][0].conv.weight, saved["Conv2d_1a_3x3.conv.weight"])
    torch.testing.assert_close(net.blocks[3][2].branch_pool.conv.weight, saved["Mixed_7c.branch_pool.conv.weight"])
    assert pi.fid_inception_v3 is not None and pi.fid_inception_v3.__module__ == "pytorch_fid.inception"
    f = fid.inception_features(net, torch.rand(2, 1, 28, 28))
    assert f.shape == (2, 2048) and torch.isfinite(f).all()


def test_inception_rejects_wrong_weights(tmp_path):
    path = tmp_path / "bad.pth"
    torch.save({"conv.weight": torch.zeros(1)}, path)
    with pytest.raises(RuntimeError):
        fid.load_inception(path)


def test_inception_early_block_features(random_inception_weights):
    net = fid.load_inception(random_inception_weights, dims=64)
    f = fid.inception_features(net, torch.rand(3, 3, 32, 32), batch_size=2)
    assert f.shape == (3, 64) and torch.isfinite(f).all()
