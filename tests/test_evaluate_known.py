"""reconloss.evaluation.evaluate on fabricated models whose answers are known in closed form: bits per
dimension of discrete and continuous likelihoods, the Gaussians' mass outside [0, 1], the
parameter image's levels, collapse, the [0, 255] data range, FIDs and classifier scores under
several classifiers, and where a Gaussian's σ differs."""

import math

import numpy as np
import pytest
import torch
from scipy import special, stats
from torch import nn

from reconloss.evaluation import bits
from reconloss.evaluation import metrics as metrics_module
from reconloss.evaluation.scores import fid_net
from reconloss.likelihoods import make_likelihood
from reconloss.evaluation.outcome import COLLAPSE_SPREAD, outcome
from reconloss.training.vae import VAE

SHAPE = (1, 4, 4)
D = math.prod(SHAPE)


class Fabricated(nn.Module):
    """A VAE-shaped model: q(z|x) = N(enc(x), I) (N(0, I) without enc), decoder output dec(z)."""

    def __init__(self, lik, dec, enc=None, latent_dim=2):
        super().__init__()
        self.likelihood, self.latent_dim, self.enc, self.dec = lik, latent_dim, enc, dec
        self.unused = nn.Parameter(torch.zeros(()))  # compute_metrics reads the device from it

    def encode(self, x):
        mu = self.enc(x) if self.enc else x.new_zeros(len(x), self.latent_dim)
        return mu, torch.zeros_like(mu)

    def decode(self, z):
        return self.dec(z)

    kl, reparameterize = staticmethod(VAE.kl), staticmethod(VAE.reparameterize)


def constant(t):
    """A decoder that ignores z: every image decodes to the raw output t (C', H, W)."""
    return lambda z: t.expand(len(z), *t.shape).clone()


def dataset(scale=255, n=40, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randint(0, int(scale) + 1, (n, *SHAPE), generator=g, dtype=torch.uint8)
    x[0], x[1] = 0, int(scale)  # black and white pixels for the level metrics
    return {"test_x": x, "test_y": torch.arange(n) % 2, "scale": float(scale)}


def extractor(images):
    return images.flatten(1)[:, :3].double()


def metrics(model, data, data_range=1.0, nets=None, **ev):
    settings = {"seed": 0, "train": {"data_range": data_range},
                "evaluate": {"fid_samples": 60, "iw_samples": 5, "batch_size": 64, "n_images": 4,
                             "n_sample_grid": 4, "device": "cpu", **ev}}
    nets = nets or [fid_net(extractor, None, data["test_x"].float() / data["scale"])]
    return metrics_module.compute_metrics(model, data, settings, nets)[0]


# ----------------------------------------------------------------------------- bits per dimension


@pytest.mark.parametrize("scale", [255, 16])
def test_categorical_bits_are_its_exact_probability(scale):
    """q(z|x) = p(z) and a decoder that ignores z: every importance weight is P(x) itself, so the
    bound is exact; the reference is scipy's log-softmax at the 8-bit level round(255 k / scale)."""
    torch.manual_seed(1)
    logits = torch.randn(256, *SHAPE[1:]) * 2
    lik = make_likelihood("categorical", data_shape=SHAPE)
    data = dataset(scale)
    m = metrics(Fabricated(lik, constant(logits)), data)
    level = np.round(data["test_x"].numpy().astype(float) * 255 / scale).astype(int)  # (n, 1, 4, 4)
    logp = special.log_softmax(logits.numpy().astype(float), axis=0)  # (256, 4, 4)
    h, w = np.meshgrid(range(4), range(4), indexing="ij")
    log_px = logp[level[:, 0], h, w].sum(axis=(1, 2))  # (n,)
    expected = -log_px.mean() / (D * math.log(2))
    assert m["iw_ll"] == pytest.approx(log_px.mean(), rel=1e-5)
    assert m["iw_bpd"] == pytest.approx(expected, rel=1e-5)
    assert m["bpd"] == pytest.approx(expected, rel=1e-5)  # equal weights: ELBO = IW bound
    assert m["nll"] == pytest.approx(-log_px.mean(), rel=1e-5) and m["kl"] == 0


@pytest.mark.parametrize("scale", [255, 16])
def test_uniform_models_cost_the_same_bits_discrete_or_continuous(scale):
    """Uniform over the levels is log2(scale + 1) bits per subpixel whichever way it is written:
    a categorical with equal logits (256 8-bit levels, on 17-level data still log2 256 since mass
    falls on unused levels), a Beta(1, 1) density (dequantised: log2(scale + 1) exactly)."""
    data = dataset(scale)
    cat = make_likelihood("categorical", data_shape=SHAPE)
    m_cat = metrics(Fabricated(cat, constant(torch.zeros(256, *SHAPE[1:]))), data)
    assert m_cat["iw_bpd"] == pytest.approx(8.0, abs=1e-6)
    beta = make_likelihood("beta", data_shape=SHAPE)
    raw = math.log(math.expm1(1.0 - beta.floor))  # floor + softplus(raw) = 1: Beta(1, 1)
    m_beta = metrics(Fabricated(beta, constant(torch.full((2, *SHAPE[1:]), raw))), data)
    assert m_beta["iw_bpd"] == pytest.approx(math.log2(scale + 1), abs=1e-5)
    if scale == 255:
        assert m_beta["iw_bpd"] == pytest.approx(m_cat["iw_bpd"], abs=1e-5)


def test_discrete_likelihoods_are_not_dequantised():
    """A discretized logistic whose mass sits on the data's levels: dequantising would move the
    data off them (and add D log 256); evaluated as trained, it is -log P(k) of the levels."""
    from reconloss.likelihoods.discretized_logistic import discretized_logistic_log_prob

    data = dataset(255)
    lik = make_likelihood("discretized_logistic", data_shape=SHAPE)
    torch.manual_seed(2)
    out = torch.cat([torch.rand(1, 4, 4), torch.full((1, 4, 4), -4.0)])
    m = metrics(Fabricated(lik, constant(out)), data)
    k = data["test_x"].double()
    ref = discretized_logistic_log_prob(k, out[:1].double(), out[1:].double()).flatten(1).sum(1)
    assert m["iw_bpd"] == pytest.approx(float(-ref.mean()) / (D * math.log(2)), rel=1e-5)
    assert bits.log_level_offset(lik, D, 255.0) == 0.0


def test_non_densities_have_no_bits():
    data = dataset(255)
    for name in ("bernoulli", "gaussian_optimal_pixel"):
        lik = make_likelihood(name, data_shape=SHAPE)
        m = metrics(Fabricated(lik, constant(torch.zeros(1, *SHAPE[1:]))), data)
        assert m["iw_bpd"] is m["iw_ll"] is m["bpd"] is None, name


# ----------------------------------------------------------------------------- Gaussians' mass, levels


def test_mass_outside_against_scipy():
    """Normal(mu, sigma) with mu partly outside [0, 1]: P(x<0) + P(x>1) per pixel, averaged."""
    data = dataset(255)
    mu = torch.linspace(-0.3, 1.4, D).reshape(SHAPE)
    fixed = make_likelihood("gaussian_fixed", data_shape=SHAPE, sigma=0.3, mean_activation="identity")
    m = metrics(Fabricated(fixed, constant(mu)), data)
    ref = stats.norm.cdf(0, mu.numpy(), 0.3) + stats.norm.sf(1, mu.numpy(), 0.3)
    assert m["mass_outside"] == pytest.approx(float(ref.mean()), rel=1e-5)

    # optimal sigma per pixel: sigma = max(|x - mu|, floor) at the data, as in its NLL
    opt = make_likelihood("gaussian_optimal_pixel", data_shape=SHAPE, floor=0.05, mean_activation="identity")
    m = metrics(Fabricated(opt, constant(mu)), data)
    x = data["test_x"].numpy() / 255.0
    sigma = np.maximum(np.abs(x - mu.numpy()), 0.05)
    ref = stats.norm.cdf(0, mu.numpy(), sigma) + stats.norm.sf(1, mu.numpy(), sigma)
    assert m["mass_outside"] == pytest.approx(float(ref.mean()), rel=1e-5)

    cat = make_likelihood("categorical", data_shape=SHAPE)
    assert metrics(Fabricated(cat, constant(torch.zeros(256, 4, 4))), data)["mass_outside"] is None


def test_parameter_levels_rmse_and_param_fid():
    """Categorical whose mode is 1 where its mean is ~0.5: the parameter image's levels differ from
    the expected value's, each the plain mean over the data's black or white pixels."""
    data = dataset(255)
    logits = torch.zeros(256, 4, 4)
    logits[255] = 3.0  # mode 1 everywhere, mean (e^3 + sum_k k/255) / Z
    lik = make_likelihood("categorical", data_shape=SHAPE)
    m = metrics(Fabricated(lik, constant(logits)), data)
    p = torch.softmax(logits[:, 0, 0].double(), 0)
    mean = float((p * torch.arange(256) / 255).sum())
    assert m["param_black_level"] == pytest.approx(1.0) and m["param_white_level"] == pytest.approx(1.0)
    assert m["black_level"] == pytest.approx(mean, rel=1e-5) and m["white_level"] == pytest.approx(mean, rel=1e-5)
    x = data["test_x"].double() / 255
    assert m["rmse"] == pytest.approx(float(((x - mean) ** 2).mean().sqrt()), rel=1e-5)
    assert m["rmse"] == pytest.approx(math.sqrt(m["mse_mean"]))
    assert m["fid_param"] is not None and m["fid_param"] != pytest.approx(m["fid"])


# ----------------------------------------------------------------------------- collapse


def _bernoulli_model(dec_scale=3.0, enc_scale=3.0):
    lik = make_likelihood("bernoulli", data_shape=SHAPE)
    w = torch.randn(2, D, generator=torch.Generator().manual_seed(3))
    enc = (lambda x: enc_scale * (x.flatten(1)[:, :2] - 0.5)) if enc_scale else None
    return Fabricated(lik, lambda z: (dec_scale * z @ w).reshape(len(z), *SHAPE), enc)


def test_collapse_from_fabricated_models():
    data = dataset(255)
    ok = metrics(_bernoulli_model(), data)
    assert ok["outcome"] == "ok" and ok["active_units"] == 2 and ok["sample_spread"] > 0.1
    # posterior collapse: q(z|x) = N(0, I) for every x, although the decoder uses z
    post = metrics(_bernoulli_model(enc_scale=0), data)
    assert post["active_units"] == 0 and post["kl"] == 0 and post["outcome"] == "collapsed"
    # decoder collapse: prior samples all the same image, although the encoder varies
    dec = metrics(_bernoulli_model(dec_scale=0), data)
    assert dec["active_units"] == 2 and dec["sample_spread"] == pytest.approx(0, abs=1e-12)
    assert dec["outcome"] == "collapsed"


def test_sample_spread_is_the_per_pixel_std():
    data = dataset(255)
    m = metrics(_bernoulli_model(), data, fid_samples=60, batch_size=7)  # batches that do not divide n
    g = metrics_module._gen(torch.device("cpu"), 0, "prior")
    z = torch.cat([torch.randn((min(7, 60 - i), 2), generator=g) for i in range(0, 60, 7)])
    model = _bernoulli_model()
    s = model.likelihood.mean(model.decode(z)).double()
    assert m["sample_spread"] == pytest.approx(float(s.std(0, unbiased=True).mean()), rel=1e-6)


@pytest.mark.parametrize("row, want", [
    ({"status": "ok", "active_units": 3, "sample_spread": 0.1}, "ok"),
    ({"status": "ok", "active_units": 0, "sample_spread": 0.1}, "collapsed"),
    ({"status": "ok", "active_units": 3, "sample_spread": COLLAPSE_SPREAD / 2}, "collapsed"),
    ({"status": "ok", "active_units": float("nan"), "sample_spread": None}, "ok"),
    ({"status": "diverged", "active_units": None, "sample_spread": None}, "diverged"),
])
def test_outcome_rule(row, want):
    assert outcome(row) == want


# ----------------------------------------------------------------------------- data range


def test_data_range_leaves_every_unit_free_metric_unchanged():
    """A Gaussian on x * 255 with mu * 255 and sigma * 255 is the same model of the levels: its bits,
    its [0, 1]-unit metrics and sigma are unchanged; only the density (nats) moves, by D log 255."""
    data = dataset(255)
    mu = torch.linspace(-0.1, 1.1, D).reshape(SHAPE)
    runs = {}
    for r in (1.0, 255.0):
        lik = make_likelihood("gaussian_fixed", data_shape=SHAPE, sigma=0.2 * r, mean_activation="identity")
        runs[r] = metrics(Fabricated(lik, constant(mu * r)), data, data_range=r)
    a, b = runs[1.0], runs[255.0]
    for key in ("iw_bpd", "bpd", "mse_mean", "rmse", "black_level", "white_level", "mass_outside", "fid",
                "sample_spread", "recon_p99"):
        assert b[key] == pytest.approx(a[key], rel=1e-4, abs=1e-9), key
    assert b["iw_ll"] == pytest.approx(a["iw_ll"] - D * math.log(255), rel=1e-5)


# ----------------------------------------------------------------------------- several FID classifiers


def _second_features(images):
    return (2.0 * images.flatten(1)[:, -3:] - images.flatten(1)[:, :1]).double()


def _logits(features):
    w = torch.tensor([[3.0, -1.0, 0.5, 0.0], [-2.0, 1.0, 0.0, 1.5], [0.5, 0.5, -3.0, 1.0]], dtype=torch.float64)
    return features.double() @ w


def _direct_score(logits):
    p = special.softmax(logits.numpy(), axis=1)
    return math.exp(float((p * (np.log(p) - np.log(p.mean(0)))).sum(1).mean()))


def test_fids_and_scores_under_every_classifier_from_one_decoding():
    """Classifier 1's FIDs and scores are those of its own features of the same decoded images
    (recomputed here from the prior's generator and the posterior means); classifier 0's keep the
    unsuffixed keys; the decoder runs as often with three classifiers as with one."""
    from reconloss.evaluation.fid import fid_from_features
    from reconloss.evaluation.levels import cb_mean_range

    data = dataset(255)
    x01 = data["test_x"].float() / 255
    model = _bernoulli_model()
    calls = {"n": 0}
    dec = model.dec

    def counting(z):
        calls["n"] += 1
        return dec(z)

    model.dec = counting
    one = metrics(model, data)
    decodes_one = calls["n"]
    nets = [fid_net(extractor, None, x01), fid_net(_second_features, _logits, x01),
            fid_net(extractor, lambda f: -_logits(f), x01)]
    calls["n"] = 0
    m = metrics(model, data, nets=nets)
    assert calls["n"] == decodes_one
    for key in ("fid", "fid_recon", "fid_param", "fid_stretched", "fid_squeezed"):
        assert m[key] == m[f"{key}_c0"] == one[key] == m[f"{key}_c2"], key
    assert m["classifier_score"] is None and m["data_classifier_score_c0"] is None  # no logits: no score

    g = metrics_module._gen(torch.device("cpu"), 0, "prior")
    s = model.likelihood.mean(dec(torch.randn((60, 2), generator=g)))
    with torch.no_grad():
        rec = model.likelihood.mean(dec(model.enc(x01)))
    assert m["fid_c1"] == pytest.approx(fid_from_features(_second_features(s), _second_features(x01)), rel=1e-6)
    assert m["fid_recon_c1"] == pytest.approx(fid_from_features(_second_features(rec), _second_features(x01)),
                                              rel=1e-6)
    assert m["fid_c1"] != pytest.approx(m["fid_c0"], rel=1e-3)
    lo, hi = cb_mean_range()
    squeezed = lo + s * (hi - lo)
    assert m["classifier_score_c1"] == pytest.approx(_direct_score(_logits(_second_features(s))), rel=1e-9)
    assert m["classifier_score_squeezed_c1"] == pytest.approx(
        _direct_score(_logits(_second_features(squeezed))), rel=1e-6)
    assert m["classifier_score_c2"] == pytest.approx(_direct_score(-_logits(extractor(s))), rel=1e-9)
    assert m["data_classifier_score_c1"] == pytest.approx(_direct_score(_logits(_second_features(x01))), rel=1e-9)
    assert m["classifier_score_stretched_c1"] > 1


# ----------------------------------------------------------------------------- where σ differs


def _black_first_row(data):
    mask = torch.zeros(SHAPE, dtype=torch.bool)
    mask[:, 0] = True
    return {**data, "always_black": mask}


def test_sigma_on_always_black_pixels_and_other_pixels():
    """A learned σ per pixel: the means over the masked and the other pixels, every image alike."""
    data = _black_first_row(dataset(255))
    lik = make_likelihood("gaussian_learned_pixel", data_shape=SHAPE, floor=0.01)
    with torch.no_grad():
        lik.theta.copy_(torch.linspace(-4, 0, D).reshape(SHAPE))
    sigma = (0.01 + torch.linspace(-4, 0, D).exp()).double().reshape(SHAPE)
    m = metrics(Fabricated(lik, constant(torch.zeros(SHAPE))), data)
    assert m["sigma_always_black"] == pytest.approx(float(sigma[:, 0].mean()), rel=1e-6)
    assert m["sigma_other"] == pytest.approx(float(sigma[:, 1:].mean()), rel=1e-6)
    assert m["sigma_image_p10"] == pytest.approx(float(sigma.mean()), rel=1e-6) == m["sigma_image_p90"]


def test_sigma_per_image_percentiles_and_data_range():
    """The optimal σ per image is the image's RMS residual: its percentiles over images are numpy's, in
    [0, 1] units whatever the data range."""
    data = _black_first_row(dataset(255, n=50))
    mu = torch.linspace(0.1, 0.9, D).reshape(SHAPE)
    x = data["test_x"].double() / 255
    per_image = ((x - mu.double()) ** 2).flatten(1).mean(1).sqrt().clamp_min(0.02).numpy()
    p10, p90 = np.percentile(per_image, [10, 90])
    for r in (1.0, 255.0):
        lik = make_likelihood("gaussian_optimal_image", data_shape=SHAPE, floor=0.02 * r, mean_activation="identity")
        m = metrics(Fabricated(lik, constant(mu * r)), data, data_range=r)
        assert m["sigma_image_p10"] == pytest.approx(p10, rel=1e-5), r
        assert m["sigma_image_p90"] == pytest.approx(p90, rel=1e-5), r
        assert m["sigma_always_black"] == pytest.approx(per_image.mean(), rel=1e-5) == m["sigma_other"]
    assert p90 > 1.2 * p10  # the images differ


def test_sigma_metrics_null_without_a_sigma_or_a_mask():
    from reconloss.evaluation.sigma import always_black

    train = torch.tensor([[[[0, 1], [0, 0]]], [[[0, 0], [2, 0]]]], dtype=torch.uint8)
    assert always_black(train).tolist() == [[[True, False], [False, True]]]
    data = _black_first_row(dataset(255))
    m = metrics(_bernoulli_model(), data)
    assert all(m[k] is None for k in ("sigma_always_black", "sigma_other", "sigma_image_p10", "sigma_image_p90"))
    fixed = make_likelihood("gaussian_fixed", data_shape=SHAPE, sigma=0.3)
    m = metrics(Fabricated(fixed, constant(torch.zeros(SHAPE))), dataset(255))  # no always-black mask
    assert m["sigma_always_black"] is None and m["sigma_other"] is None
    assert m["sigma_image_p10"] == pytest.approx(0.3) == m["sigma_image_p90"]
