"""reconloss.evaluation.evaluate on tiny real digits runs: every metric present, checked against
independent computations (quadrature of the marginal likelihood, direct MSE, ...)."""

import json
import math
import shutil

import numpy as np
import pytest
import torch

from reconloss.evaluation import bits, evaluate, metrics

from reconloss import io
from torch_helpers import one_thread

CONTRACT_KEYS = (
    "dataset likelihood likelihood_name beta seed status diverged_epoch diverged_step valid_density epochs "
    "train_seconds nll kl elbo bpd iw_ll iw_bpd iw_k fid fid_recon fid_samples mse_mean mse_param black_level "
    "white_level data_black_level data_white_level recon_p01 recon_p99 data_p01 data_p99 active_units "
    "sigma_mean feature_dim outcome rmse fid_param param_black_level param_white_level mass_outside sample_spread"
).split()
NULL_WHEN_DIVERGED = [k for k in metrics.METRIC_KEYS]
LIKELIHOODS = {"cb": ("continuous_bernoulli", 2), "bern": ("bernoulli", 4), "glg": ("gaussian_learned_global", 4)}


def run_settings(label, name, latent_dim, **evaluate_settings):
    return {"dataset": "digits", "likelihood": label, "likelihood_name": name, "likelihood_options": {},
            "beta": 1.0, "seed": 0,
            "train": {"epochs": 3, "batch_size": 64, "lr": 2e-3, "latent_dim": latent_dim, "grad_clip": None,
                      "device": "cpu"},
            "model": {"arch": "mlp", "hidden": [64, 32]},
            "evaluate": {"fid_samples": 400, "iw_samples": 20, "batch_size": 500, "n_images": 12, "device": "cpu",
                         **evaluate_settings}}


def run_evaluate(cls, run_dir, settings):
    with one_thread():
        evaluate.main(["--data", str(cls["data_path"]), "--run-dir", str(run_dir), "--classifier-dir",
                       str(cls["dir"]), "--settings", json.dumps(settings)])
    return io.read_json(run_dir / "metrics.json")


@pytest.fixture(scope="module")
def runs(tmp_path_factory, digits_classifier):
    """Three trained and evaluated digits runs: {label: (run_dir, settings, metrics)}."""
    from reconloss.training.train import train_run

    cls = digits_classifier
    root = tmp_path_factory.mktemp("runs")
    out = {"classifier": cls}
    for label, (name, latent) in LIKELIHOODS.items():
        settings = run_settings(label, name, latent)
        with one_thread():
            status = train_run(cls["data_path"], root / label, settings)
        assert status["status"] == "ok"
        out[label] = (root / label, settings, run_evaluate(cls, root / label, settings))
    return out


def _vae(run_dir):
    from reconloss.training.train import load_trained

    return load_trained(run_dir)[0]


@pytest.mark.parametrize("label", list(LIKELIHOODS))
def test_metrics_present_and_consistent(runs, label):
    run_dir, settings, m = runs[label]
    assert set(CONTRACT_KEYS) <= set(m)
    assert m["status"] == "ok" and m["epochs"] == 3 and m["feature_dim"] == 32
    assert m["iw_k"] == 20 and m["fid_samples"] == 400 and m["likelihood_name"] == LIKELIHOODS[label][0]
    for key in ("nll", "kl", "elbo", "fid", "fid_recon", "mse_mean", "mse_param", "black_level", "white_level",
                "recon_p01", "recon_p99", "data_p01", "data_p99"):
        assert isinstance(m[key], float) and math.isfinite(m[key]), key
    assert m["kl"] >= 0 and m["fid"] > 0 and m["fid_recon"] > 0
    assert m["elbo"] == pytest.approx(-(m["nll"] + m["kl"]))
    assert m["data_black_level"] == 0.0 and m["data_white_level"] == 1.0  # digits: 16/16
    assert m["data_p01"] == 0.0 and m["data_p99"] == 1.0
    assert 0 <= m["black_level"] <= m["white_level"] <= 1  # every mean here lies in [0, 1]
    assert 0 <= m["active_units"] <= LIKELIHOODS[label][1]
    if label == "bern":
        assert m["valid_density"] is False
        assert m["bpd"] is m["iw_ll"] is m["iw_bpd"] is None
    else:
        assert m["valid_density"] is True
        d = 64
        assert m["iw_bpd"] == pytest.approx((d * math.log(17) - m["iw_ll"]) / (d * math.log(2)))
        assert m["iw_bpd"] <= m["bpd"]  # Jensen on the same samples
        # uniform on [0,1]^D costs log2(17) bits per 17-level pixel; 3 epochs get below or near it
        assert 0 < m["iw_bpd"] < math.log2(17) + 2
    assert (m["sigma_mean"] is not None) == (label == "glg")
    # digits has pixels black in every training image; σ is the learned global one everywhere
    assert (m["sigma_other"] is not None) == (label == "glg") == (m["sigma_always_black"] is not None)
    if label == "glg":
        assert m["sigma_always_black"] == pytest.approx(m["sigma_other"]) == pytest.approx(m["sigma_image_p90"])
    assert 1 <= m["classifier_score"] <= 10 and 1 <= m["classifier_score_squeezed"] <= 10
    assert m["fid_c0"] == m["fid"] and m["classifier_score_c0"] == m["classifier_score"]
    assert (m["mass_outside"] is not None) == (label == "glg")  # Gaussians only
    assert m["rmse"] == pytest.approx(math.sqrt(m["mse_mean"]))
    # 3 epochs leave bern and glg posterior-collapsed (KL ~ 0.01 nats), cb not: the rule sees it
    assert m["outcome"] == ("ok" if label == "cb" else "collapsed")
    assert (m["active_units"] == 0) == (m["kl"] < 0.05)
    assert m["sample_spread"] > 1e-3 and math.isfinite(m["fid_param"])


@pytest.mark.parametrize("label", ["cb", "glg"])
def test_reconstruction_metrics_match_direct_computation(runs, label):
    run_dir, _, m = runs[label]
    data = runs["classifier"]["data"]
    vae = _vae(run_dir)
    x = data["test_x"].float() / 16
    with torch.no_grad():
        mu, _ = vae.encode(x)
        out = vae.decode(mu)
        rec, par = vae.likelihood.mean(out), vae.likelihood.param_image(out)
    assert m["mse_mean"] == pytest.approx(float(((rec - x) ** 2).mean()), rel=1e-5)
    assert m["mse_param"] == pytest.approx(float(((par - x) ** 2).mean()), rel=1e-5)
    assert m["black_level"] == pytest.approx(float(rec[data["test_x"] == 0].mean()), rel=1e-5)
    assert m["param_white_level"] == pytest.approx(float(par[data["test_x"] == 16].mean()), rel=1e-5)
    assert m["white_level"] == pytest.approx(float(rec[data["test_x"] == 16].mean()), rel=1e-5)
    assert m["recon_p01"] == pytest.approx(float(np.percentile(rec.numpy(), 1)), rel=1e-5)
    assert m["active_units"] == int((mu.var(0, unbiased=False) > 0.01).sum())


def test_iw_bound_above_independent_elbo(runs):
    """E[IW_k] >= ELBO: the bound against vae.forward's single-sample ELBO on freshly dequantized data."""
    run_dir, _, m = runs["glg"]
    data = runs["classifier"]["data"]
    vae = _vae(run_dir)
    g = torch.Generator().manual_seed(123)
    draws = []
    with torch.no_grad():
        for _ in range(10):
            y = bits.dequantize(data["test_x"], 16.0, g)
            res = vae(y, generator=g)
            draws.append(-(res["nll"] + res["kl"]).double())
    elbo = torch.stack(draws)
    ref, stderr = float(elbo.mean()), float(elbo.mean(0).std() / math.sqrt(elbo.shape[1]))
    assert m["iw_ll"] > ref - 3 * stderr
    assert m["iw_ll"] - ref < 0.1 * abs(ref) + 5.0, (m["iw_ll"], ref)


def test_iw_bound_against_quadrature(runs):
    """With a 2-d latent, log p(y) = log ∫ p(y|z) p(z) dz by quadrature; IW_k tends to it from below."""
    run_dir, _, _ = runs["cb"]
    data = runs["classifier"]["data"]
    vae = _vae(run_dir)
    y = bits.dequantize(data["test_x"][:6], 16.0, torch.Generator().manual_seed(0))
    t = torch.linspace(-5, 5, 201)  # q's std is ~0.6 after 3 epochs: the grid resolves it
    h = float(t[1] - t[0])
    z = torch.cartesian_prod(t, t)
    with torch.no_grad(), one_thread():
        out = vae.decode(z)
        log_pz = -0.5 * (z.square().sum(1) + 2 * math.log(2 * math.pi))
        exact = torch.stack([torch.logsumexp(-vae.likelihood.nll(yi.expand(len(z), -1, -1, -1), out) + log_pz, 0)
                             for yi in y]).double() + 2 * math.log(h)
        elbo_k, iw = bits.importance_weighted(vae, y, 4000, torch.Generator().manual_seed(1))
    assert torch.all(elbo_k < exact - 0.2)  # the ELBO's gap: KL(q || posterior) > 0
    gap = iw - exact  # IW_k is a stochastic lower bound: below in expectation, close for large k
    assert -0.3 < float(gap.mean()) < 0.05, (iw, exact)
    assert torch.all(gap.abs() < 0.5), (iw, exact)


def test_images(runs):
    run_dir, _, _ = runs["cb"]
    data = runs["classifier"]["data"]
    images = torch.load(run_dir / "images.pt", weights_only=True)
    idx = images["indices"]
    assert idx.dtype == torch.int64 and len(idx) == 12 and len(set(idx.tolist())) == 12
    torch.testing.assert_close(images["original"], data["test_x"][idx].float() / 16)
    for key in ("param", "mean", "sample_mean"):
        assert images[key].shape == (12, 1, 8, 8) and images[key].dtype == torch.float32, key
        assert 0 <= images[key].min() and images[key].max() <= 1
    from PIL import Image

    with Image.open(run_dir / "reconstructions.png") as im:
        assert im.height < im.width  # three rows of twelve
    with Image.open(run_dir / "samples.png") as im:
        assert im.width == im.height  # 64 samples, 8 x 8


def test_showcase_indices():
    g = torch.Generator().manual_seed(0)
    x = torch.randint(0, 17, (40, 1, 4, 4), dtype=torch.uint8, generator=g)
    y = torch.arange(40) % 4
    idx = metrics.showcase_indices(x, y, 16.0, 8)
    assert torch.equal(idx, metrics.showcase_indices(x, y, 16.0, 8))
    white = (x == 16).flatten(1).sum(1)
    black = (x == 0).flatten(1).sum(1)
    for c in range(4):  # round 1: each class's whitest image, round 2: its blackest among the rest
        members = (y == c).nonzero().flatten()
        assert white[idx[c]] == white[members].max() and y[idx[c]] == c
        rest = members[members != idx[c]]
        assert black[idx[4 + c]] == black[rest].max() and y[idx[4 + c]] == c


def test_deterministic(runs, tmp_path):
    run_dir, settings, m = runs["cb"]
    copy = tmp_path / "copy"
    shutil.copytree(run_dir, copy)
    (copy / "metrics.json").unlink()
    again = run_evaluate(runs["classifier"], copy, settings)
    m, again = dict(m), dict(again)
    m.pop("eval_seconds"), again.pop("eval_seconds")
    assert again == m


def test_diverged_run(runs, tmp_path):
    run_dir, settings, _ = runs["cb"]
    copy = tmp_path / "diverged"
    shutil.copytree(run_dir, copy)
    for name in ("metrics.json", "images.pt", "reconstructions.png", "samples.png"):
        (copy / name).unlink()
    status = io.read_json(copy / "status.json")
    status.update(status="diverged", diverged_epoch=2, diverged_step=30, reason="non-finite loss")
    io.write_json(copy / "status.json", status)
    m = run_evaluate(runs["classifier"], copy, settings)
    assert set(CONTRACT_KEYS) <= set(m)
    assert m["status"] == m["outcome"] == "diverged" and m["diverged_epoch"] == 2 and m["diverged_step"] == 30
    assert all(m[k] is None for k in NULL_WHEN_DIVERGED)
    images = torch.load(copy / "images.pt", weights_only=True)
    assert images["original"].shape == (0, 1, 8, 8) and images["indices"].shape == (0,)
    assert (copy / "reconstructions.png").stat().st_size > 0 and (copy / "samples.png").stat().st_size > 0


def test_inception_path_with_random_weights(runs, tmp_path):
    """The optional Inception FID runs offline from a weights file (random here: not Inception numbers)."""
    from reconloss.evaluation import fid

    cls = runs["classifier"]
    run_dir, settings, _ = runs["cb"]
    torch.manual_seed(0)
    weights = tmp_path / "random_inception.pth"
    torch.save(fid.fid_inception_network().state_dict(), weights)
    small = dict(cls["data"])
    small["test_x"], small["test_y"] = small["test_x"][:12], small["test_y"][:12]
    data_path = tmp_path / "digits_small.pt"
    torch.save(small, data_path)
    copy = tmp_path / "run"
    shutil.copytree(run_dir, copy)
    s = run_settings("cb", "continuous_bernoulli", 2, inception_weights=str(weights), inception_dims=64,
                     fid_samples=12, iw_samples=2)
    m = run_evaluate({"data_path": data_path, "dir": cls["dir"]}, copy, s)
    assert math.isfinite(m["fid_inception"]) and math.isfinite(m["fid_inception_recon"])
    assert m["fid_inception"] > -1e-6
    assert runs["cb"][2]["fid_inception"] is None  # only when configured


def test_several_classifiers(runs, tmp_path):
    """A second classifier (another seed) adds the _c1 columns; classifier 0's numbers stay those of a
    one-classifier evaluation, and the test set's classifier score is near the 10 classes a >95 %
    accurate classifier that uses them about equally would give."""
    from reconloss.evaluation import classifier

    cls = runs["classifier"]
    second = tmp_path / "c~1"
    with one_thread():
        classifier.main(["--data", str(cls["data_path"]), "--out-dir", str(second),
                         "--settings", json.dumps({"seed": 1, "device": "cpu"})])
    run_dir, settings, one = runs["cb"]
    copy = tmp_path / "run"
    shutil.copytree(run_dir, copy)
    with one_thread():
        evaluate.main(["--data", str(cls["data_path"]), "--run-dir", str(copy), "--classifier-dir", str(cls["dir"]),
                       str(second), "--settings", json.dumps(settings)])
    m = io.read_json(copy / "metrics.json")
    assert m["classifiers"] == 2 and one["classifiers"] == 1
    for key in ("fid", "fid_recon", "fid_param", "fid_stretched", "fid_squeezed", "classifier_score",
                "data_classifier_score"):
        assert m[key] == one[key] == m[f"{key}_c0"], key
        assert math.isfinite(m[f"{key}_c1"]) and m[f"{key}_c1"] != m[key], key
    assert 8 < m["data_classifier_score_c1"] <= 10 and 8 < m["data_classifier_score"] <= 10
    assert 1 <= m["classifier_score_c1"] <= 10
    assert m["sigma_always_black"] is None  # not a Gaussian


def test_data_classifier_score_without_a_cached_one(runs, tmp_path):
    """A classifier folder whose metrics.json predates test_classifier_score: evaluation computes the
    same number from the test set."""
    cls = runs["classifier"]
    old = tmp_path / "old-classifier"
    shutil.copytree(cls["dir"], old)
    m = io.read_json(old / "metrics.json")
    cached = m.pop("test_classifier_score")
    io.write_json(old / "metrics.json", m)
    nets = evaluate.load_nets([old, cls["dir"]], cls["data"], torch.device("cpu"))
    assert nets[0].data_score == pytest.approx(cached, rel=1e-6) and nets[1].data_score == cached
