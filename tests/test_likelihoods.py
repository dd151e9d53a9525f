"""The likelihood family against independent references (torch.distributions, scipy.stats,
mpmath, closed forms): values in float64, CB numerics in float32, gradients at the edges."""

import math

import mpmath as mp
import numpy as np
import pytest
import scipy.integrate
import scipy.special
import scipy.stats
import torch
import torch.nn.functional as F

from reconloss.likelihoods import LIKELIHOODS, likelihood_options, make_likelihood
from reconloss.likelihoods.continuous_bernoulli import (
    cb_log_normalizer, cb_log_normalizer_logits, cb_mean, cb_mean_logits,
)

SHAPE = (3, 4, 5)  # several channels, so channel slicing errors show
B = 6
D = math.prod(SHAPE)
ALL = sorted(LIKELIHOODS)
LOG2PI = math.log(2 * math.pi)


def gen(seed=0):
    return torch.Generator().manual_seed(seed)


def rand_x(seed=0, b=B, dtype=torch.float64):
    return torch.rand((b, *SHAPE), generator=gen(seed), dtype=dtype)


def rand_out(lik, seed=1, b=B, scale=2.0, dtype=torch.float64):
    return scale * torch.randn((b, lik.decoder_channels, *SHAPE[1:]), generator=gen(seed), dtype=dtype)


def make(name, **options):
    lik = make_likelihood(name, data_shape=SHAPE, **options).double()
    lik.fit_data(rand_x(seed=7, b=50))
    return lik


def normal_nll(x, mu, sigma):
    """Reference: -sum log N(x; mu, sigma) from torch.distributions, per example."""
    sigma = torch.as_tensor(sigma, dtype=x.dtype).expand_as(x)
    return -torch.distributions.Normal(mu, sigma).log_prob(x).flatten(1).sum(1)


# --- registry ------------------------------------------------------------------------------

def test_registry_has_the_whole_family():
    assert set(LIKELIHOODS) == {
        "gaussian_fixed", "gaussian_data_pixel", "gaussian_learned_global", "gaussian_learned_pixel",
        "gaussian_predicted_image", "gaussian_predicted_pixel", "gaussian_optimal_pixel",
        "gaussian_optimal_image", "gaussian_optimal_global", "truncated_gaussian", "bernoulli",
        "continuous_bernoulli", "continuous_bernoulli_naive", "beta", "discretized_logistic", "categorical"}
    for name in ALL:
        assert isinstance(make_likelihood(name, data_shape=SHAPE), torch.nn.Module)


def test_unknown_name_is_named_with_the_allowed_ones():
    with pytest.raises(ValueError, match="gausian_fixed") as err:
        make_likelihood("gausian_fixed", data_shape=SHAPE)
    assert "gaussian_fixed" in str(err.value) and "continuous_bernoulli" in str(err.value)


def test_unknown_option_is_named():
    with pytest.raises(TypeError, match="sigmaa") as err:
        make_likelihood("gaussian_fixed", data_shape=SHAPE, sigmaa=0.1)
    assert "sigma" in str(err.value).replace("sigmaa", "")
    with pytest.raises(TypeError, match="sigma"):
        make_likelihood("bernoulli", data_shape=SHAPE, sigma=0.1)


@pytest.mark.parametrize("name, options", [
    ("gaussian_fixed", {"sigma": 0.0}), ("gaussian_fixed", {"sigma": -1}),
    ("gaussian_data_pixel", {"floor": 0.0}), ("gaussian_learned_global", {"floor": -1e-3}),
    ("gaussian_learned_pixel", {"sigma_init": 1e-3, "floor": 1e-2}),
    ("gaussian_fixed", {"mean_activation": "tanh"}),
    ("continuous_bernoulli", {"clamp": [0.6, 0.4]}), ("continuous_bernoulli", {"clamp": [0.0, 1.0]}),
    ("continuous_bernoulli", {"clamp": 0.1}), ("beta", {"eps": 0.0}), ("beta", {"floor": 0.0}),
])
def test_bad_option_values_are_rejected_by_name(name, options):
    with pytest.raises(ValueError, match=repr(next(iter(options)))):
        make_likelihood(name, data_shape=SHAPE, **options)


def test_options_listed_with_defaults():
    assert likelihood_options("gaussian_fixed")["sigma"] == pytest.approx(math.sqrt(0.5))
    assert tuple(likelihood_options("continuous_bernoulli")["clamp"]) == (1e-4, 1 - 1e-4)
    assert likelihood_options("gaussian_optimal_pixel")["floor"] > 0
    lik = make_likelihood("continuous_bernoulli", data_shape=SHAPE, clamp=[0.01, 0.99])
    assert lik.options == {"clamp": [0.01, 0.99]} and lik.name == "continuous_bernoulli"


# --- interface -------------------------------------------------------------------------------

@pytest.mark.parametrize("name", ALL)
def test_shapes_ranges_and_support(name):
    lik = make(name)
    x, out = rand_x(), rand_out(lik, scale=4.0)
    expected_channels = {"gaussian_predicted_pixel": 6, "beta": 6, "gaussian_predicted_image": 4,
                         "truncated_gaussian": 6, "discretized_logistic": 6, "categorical": 768}
    assert lik.decoder_channels == expected_channels.get(name, 3)
    nll = lik.nll(x, out)
    assert nll.shape == (B,) and torch.isfinite(nll).all()
    for image in (lik.mean(out), lik.param_image(out)):
        assert image.shape == x.shape
        assert image.min() >= 0 and image.max() <= 1
    s = lik.sample(out, generator=gen(3))
    assert s.shape == x.shape and torch.isfinite(s).all()
    if name == "bernoulli":
        assert set(s.unique().tolist()) <= {0.0, 1.0}
    elif not name.startswith("gaussian"):
        assert s.min() >= 0 and s.max() <= 1
    assert torch.equal(s, lik.sample(out, generator=gen(3)))  # a function of the generator
    # Bernoulli on non-binary data, and σ chosen after seeing x, are not densities of x.
    assert lik.valid_density == (name not in ("bernoulli", "gaussian_optimal_pixel", "gaussian_optimal_image",
                                              "gaussian_optimal_global"))
    assert lik.discrete == (name in ("discretized_logistic", "categorical"))
    stats = lik.stats(out, x=x)
    assert all(type(v) is float for v in stats.values())
    if any(k in name for k in ("learned", "predicted", "optimal")):
        assert set(stats) == {"sigma_mean", "sigma_min", "sigma_max", "floor_fraction", "nll_pixel_min"}
        tol = 1 + 1e-6  # the mean of a constant sigma (a shared one) is that sigma only to float32 rounding
        assert 0 < stats["sigma_min"] <= stats["sigma_mean"] * tol and stats["sigma_mean"] <= stats["sigma_max"] * tol
        assert 0 <= stats["floor_fraction"] <= 1
    else:
        assert stats == {}


@pytest.mark.parametrize("name", ALL)
def test_wrong_shapes_are_rejected(name):
    lik = make(name)
    x, out = rand_x(), rand_out(lik)
    with pytest.raises(ValueError):
        lik.nll(x[:, :1], out)
    with pytest.raises(ValueError):
        lik.nll(x, out[:, :1])


def test_float32_default_module_works_on_float32_data():
    for name in ALL:
        lik = make_likelihood(name, data_shape=SHAPE)
        lik.fit_data(rand_x(seed=7, b=50, dtype=torch.float32))
        out = rand_out(lik, dtype=torch.float32)
        assert lik.nll(rand_x(dtype=torch.float32), out).dtype == torch.float32


# --- NLL against references, float64 ---------------------------------------------------------

def test_gaussian_fixed_against_normal_and_mse():
    x = rand_x()
    for sigma in (math.sqrt(0.5), 0.05, 3.0):
        lik = make("gaussian_fixed", sigma=sigma)
        out = rand_out(lik)
        mu = torch.sigmoid(out)
        torch.testing.assert_close(lik.nll(x, out), normal_nll(x, mu, sigma))
    lik = make("gaussian_fixed")  # sqrt(0.5): summed squared error + d/2 log(pi)
    out = rand_out(lik)
    sse = (x - torch.sigmoid(out)).square().flatten(1).sum(1)
    torch.testing.assert_close(lik.nll(x, out), sse + D / 2 * math.log(math.pi))


def test_gaussian_identity_mean_activation():
    lik = make("gaussian_fixed", sigma=0.3, mean_activation="identity")
    x, out = rand_x(), rand_out(lik)
    torch.testing.assert_close(lik.mean(out), out)
    torch.testing.assert_close(lik.nll(x, out), normal_nll(x, out, 0.3))


def test_gaussian_data_pixel_sigma_from_data_and_state_dict():
    train = rand_x(seed=11, b=40)
    train[:, 0, 0, 0] = 0.25  # a constant pixel: its sigma is the floor
    lik = make_likelihood("gaussian_data_pixel", data_shape=SHAPE, floor=0.02).double()
    lik.fit_data(train)
    ref = np.maximum(train.numpy().std(axis=0), 0.02)
    np.testing.assert_allclose(lik.sigma.numpy(), ref, rtol=1e-12)
    assert lik.sigma[0, 0, 0] == 0.02
    chunked = make_likelihood("gaussian_data_pixel", data_shape=SHAPE, floor=0.02).double()
    chunked.fit_data(train.reshape(40, -1), chunk=7)  # flattened input, uneven chunks
    torch.testing.assert_close(chunked.sigma, lik.sigma, rtol=1e-13, atol=0)
    x, out = rand_x(), rand_out(lik)
    torch.testing.assert_close(lik.nll(x, out), normal_nll(x, torch.sigmoid(out), torch.from_numpy(ref)))
    fresh = make_likelihood("gaussian_data_pixel", data_shape=SHAPE, floor=0.02).double()
    fresh.load_state_dict(lik.state_dict())  # no fit_data: the buffer exists from construction
    torch.testing.assert_close(fresh.nll(x, out), lik.nll(x, out))


@pytest.mark.parametrize("name", ["gaussian_learned_global", "gaussian_learned_pixel"])
def test_gaussian_learned_against_normal(name):
    lik = make(name, sigma_init=0.4, floor=0.01)
    assert lik.stats(rand_out(lik))["sigma_mean"] == pytest.approx(0.4)
    with torch.no_grad():
        lik.theta.copy_(torch.randn(lik.theta.shape, generator=gen(5), dtype=torch.float64))
    assert lik.theta.shape == (() if name.endswith("global") else SHAPE)
    sigma = 0.01 + lik.theta.detach().exp()
    x, out = rand_x(), rand_out(lik)
    torch.testing.assert_close(lik.nll(x, out), normal_nll(x, torch.sigmoid(out), sigma))
    assert name in LIKELIHOODS and any(p is lik.theta for p in lik.parameters())
    fresh = make_likelihood(name, data_shape=SHAPE, floor=0.01).double()  # options come from settings
    fresh.load_state_dict(lik.state_dict())
    torch.testing.assert_close(fresh.nll(x, out), lik.nll(x, out))


def test_gaussian_predicted_against_scipy():
    x = rand_x()
    xs = x.numpy()
    lik = make("gaussian_predicted_pixel", floor=0.01)
    out = rand_out(lik).numpy()
    mu, sigma = scipy.special.expit(out[:, :3]), 0.01 + np.logaddexp(0, out[:, 3:])
    ref = -scipy.stats.norm.logpdf(xs, mu, sigma).reshape(B, -1).sum(1)
    np.testing.assert_allclose(lik.nll(x, torch.from_numpy(out)).numpy(), ref, rtol=1e-10)

    lik = make("gaussian_predicted_image", floor=0.01)
    out = rand_out(lik).numpy()
    mu = scipy.special.expit(out[:, :3])
    sigma = 0.01 + np.logaddexp(0, out[:, 3].mean(axis=(1, 2)))[:, None, None, None]
    ref = -scipy.stats.norm.logpdf(xs, mu, sigma).reshape(B, -1).sum(1)
    np.testing.assert_allclose(lik.nll(x, torch.from_numpy(out)).numpy(), ref, rtol=1e-10)
    st = lik.stats(torch.from_numpy(out))
    assert st["sigma_mean"] == pytest.approx(sigma.mean()) and st["sigma_max"] == pytest.approx(sigma.max())


def test_gaussian_optimal_pixel_closed_form():
    lik = make("gaussian_optimal_pixel", floor=1e-3)
    x, out = rand_x(), rand_out(lik)
    r = x - torch.sigmoid(out)
    assert r.abs().min() > 1e-3  # every element above the floor
    closed = r.abs().log().flatten(1).sum(1) + D / 2 * (1 + LOG2PI)
    torch.testing.assert_close(lik.nll(x, out), closed)
    torch.testing.assert_close(lik.nll(x, out), normal_nll(x, torch.sigmoid(out), r.abs()))
    # below the floor sigma is the floor
    x2 = x.clone()
    x2[:, 0, 0, 0] = torch.sigmoid(out[:, 0, 0, 0]) + 1e-5
    sigma = (x2 - torch.sigmoid(out)).abs().clamp_min(1e-3)
    torch.testing.assert_close(lik.nll(x2, out), normal_nll(x2, torch.sigmoid(out), sigma))
    assert lik.stats(out, x=x)["sigma_mean"] == pytest.approx(r.abs().mean().item())
    assert lik.stats(out) == {}


def test_gaussian_optimal_image_closed_form_is_sigma_vae_loss():
    lik = make("gaussian_optimal_image", floor=1e-3)
    x, out = rand_x(), rand_out(lik)
    mu = torch.sigmoid(out)
    sq = (x - mu).square().flatten(1).sum(1)
    closed = D / 2 * torch.log(sq / D) + D / 2 * (1 + LOG2PI)
    torch.testing.assert_close(lik.nll(x, out), closed)
    sigma_star = (sq / D).sqrt()[:, None, None, None]
    torch.testing.assert_close(lik.nll(x, out), normal_nll(x, mu, sigma_star))
    # sigma* is the minimiser: any other sigma gives a larger Gaussian NLL
    for factor in (0.9, 1.1):
        assert (normal_nll(x, mu, factor * sigma_star) > lik.nll(x, out)).all()
    # at the floor: an almost exact reconstruction
    assert lik.nll(mu + 1e-6, out).allclose(normal_nll(mu + 1e-6, mu, torch.tensor(1e-3)))


@pytest.mark.parametrize("name, target", [("gaussian_learned_global", "global"),
                                          ("gaussian_learned_pixel", "pixel")])
def test_learned_sigma_converges_to_the_analytic_optimum(name, target):
    """Adam on the learned sigma alone, residuals fixed: sigma -> sqrt(mean r^2)."""
    lik = make_likelihood(name, data_shape=SHAPE, mean_activation="identity", sigma_init=1.0).double()
    r = 0.3 * torch.randn((200, *SHAPE), generator=gen(2), dtype=torch.float64)
    r = r * torch.linspace(0.2, 1.5, D, dtype=torch.float64).reshape(SHAPE)  # pixels differ
    out = torch.zeros_like(r)
    opt = torch.optim.Adam(lik.parameters(), lr=0.05)
    for _ in range(600):
        opt.zero_grad()
        lik.nll(r, out).mean().backward()
        opt.step()
    optimum = r.square().mean().sqrt() if target == "global" else r.square().mean(0).sqrt()
    torch.testing.assert_close(lik.sigma().detach(), optimum, rtol=1e-4, atol=0)


def test_bernoulli_is_binary_cross_entropy():
    lik = make("bernoulli")
    x, out = rand_x(), rand_out(lik, scale=5.0)
    p = torch.sigmoid(out)
    manual = -(x * p.log() + (1 - x) * (1 - p).log()).flatten(1).sum(1)
    torch.testing.assert_close(lik.nll(x, out), manual)
    torch.testing.assert_close(lik.nll(x, out), F.binary_cross_entropy(p, x, reduction="none").flatten(1).sum(1))
    xb = (x > 0.5).double()  # on binary data it is the Bernoulli log-likelihood
    ref = -torch.distributions.Bernoulli(logits=out).log_prob(xb).flatten(1).sum(1)
    torch.testing.assert_close(lik.nll(xb, out), ref)
    # saturated logits: p rounds to 1, yet the NLL is exact, (1 - x) * logit per pixel
    for logit in (60.0, 200.0):
        torch.testing.assert_close(lik.nll(x, torch.full_like(out, logit)), ((1 - x) * logit).flatten(1).sum(1))


def test_continuous_bernoulli_against_torch_distributions():
    lik = make("continuous_bernoulli")
    x, out = rand_x(), rand_out(lik, scale=5.0)
    bound = math.log((1 - 1e-4) / 1e-4)
    assert (out.abs() > bound).any()  # some outputs beyond the clamp
    cb = torch.distributions.ContinuousBernoulli(logits=out.clamp(-bound, bound))
    torch.testing.assert_close(lik.nll(x, out), -cb.log_prob(x).flatten(1).sum(1))
    torch.testing.assert_close(lik.mean(out), cb.mean)
    torch.testing.assert_close(lik.param_image(out), cb.probs)


def test_continuous_bernoulli_clamp():
    lik = make("continuous_bernoulli", clamp=[0.01, 0.95])
    x = rand_x()
    out = torch.full((B, *SHAPE), 30.0, dtype=torch.float64)
    out[:, 0] = -30.0
    lam = torch.full_like(out, 0.95)
    lam[:, 0] = 0.01
    torch.testing.assert_close(lik.param_image(out), lam)
    ref = -torch.distributions.ContinuousBernoulli(probs=lam).log_prob(x).flatten(1).sum(1)
    torch.testing.assert_close(lik.nll(x, out), ref)
    default = make("continuous_bernoulli")
    assert default.param_image(torch.tensor([[[[-50.0]]]])).item() == pytest.approx(1e-4, rel=1e-6)


def test_continuous_bernoulli_density_integrates_to_one_with_its_mean():
    """Normaliser and mean against numerical integration of the unnormalised density."""
    for lam in (1e-4, 0.03, 0.4, 0.5, 0.5 + 1e-6, 0.77, 1 - 1e-4):
        f = lambda v: lam**v * (1 - lam) ** (1 - v)  # noqa: E731
        z = scipy.integrate.quad(f, 0, 1, epsabs=0, epsrel=1e-13)[0]
        m = scipy.integrate.quad(lambda v: v * f(v), 0, 1, epsabs=0, epsrel=1e-13)[0] / z
        t = torch.tensor(lam, dtype=torch.float64)
        assert cb_log_normalizer(t).item() == pytest.approx(-math.log(z), rel=1e-10)
        assert cb_mean(t).item() == pytest.approx(m, rel=1e-8)


def test_beta_against_scipy_and_torch():
    lik = make("beta", eps=1e-3, floor=0.01)
    x, out = rand_x(), rand_out(lik, scale=3.0)
    x[0, 0, 0, 0], x[0, 0, 0, 1] = 0.0, 1.0  # exact ends: moved to eps, 1 - eps
    x[0, 0, 0, 2], x[0, 0, 0, 3] = 1e-5, 1 - 1e-5  # inside (0, eps): read where they are
    a = 0.01 + F.softplus(out[:, :3])
    b = 0.01 + F.softplus(out[:, 3:])
    xc = x.clone()
    xc[0, 0, 0, 0], xc[0, 0, 0, 1] = 1e-3, 1 - 1e-3
    ref = -scipy.stats.beta.logpdf(xc.numpy(), a.numpy(), b.numpy()).reshape(B, -1).sum(1)
    np.testing.assert_allclose(lik.nll(x, out).numpy(), ref, rtol=1e-10)
    ref_t = -torch.distributions.Beta(a, b).log_prob(xc).flatten(1).sum(1)
    torch.testing.assert_close(lik.nll(x, out), ref_t)
    torch.testing.assert_close(lik.mean(out), a / (a + b))


def test_beta_param_image_is_the_mode():
    lik = make_likelihood("beta", data_shape=(1, 1, 6)).double()
    # (alpha, beta): interior modes, J-shapes, U-shapes
    ab = torch.tensor([[3.0, 5.0], [20.0, 2.0], [0.5, 4.0], [4.0, 0.7], [0.3, 0.6], [0.8, 0.2]],
                      dtype=torch.float64)
    raw = torch.log(torch.expm1(ab - lik.floor))  # inverse of floor + softplus
    out = raw.T.reshape(1, 2, 1, 6)
    mode = lik.param_image(out).flatten()
    grid = np.linspace(1e-6, 1 - 1e-6, 200001)
    for i, (a, b) in enumerate(ab.tolist()):
        assert mode[i].item() == pytest.approx(grid[np.argmax(scipy.stats.beta.pdf(grid, a, b))], abs=1e-5)


# --- CB numerics: float32 against mpmath ---------------------------------------------------

def _lambda_grid():
    near_half = 0.5 + np.array([0, 1e-7, -1e-7, 1e-6, -1e-6, 1e-5, -1e-5, 1e-4, -1e-4, 1e-3, -1e-3,
                                2e-3, -2e-3, 1e-2, -1e-2, 0.05, -0.05, 0.1, -0.1, 0.2, -0.2])
    ends = np.concatenate([np.logspace(-4, np.log10(0.3), 80), 1 - np.logspace(-4, np.log10(0.3), 80)])
    return np.concatenate([np.linspace(1e-4, 1 - 1e-4, 501), ends, near_half,
                           [1e-4, 1 - 1e-4, 0.25, 0.75, 0.2499, 0.7501]])


def _cb_reference(lam):
    """log C and the mean at lam (a float64 value), 50 digits."""
    with mp.workdps(50):
        lam = mp.mpf(lam)
        t = 1 - 2 * lam
        if t == 0:
            return math.log(2), 0.5
        a = mp.atanh(t)
        return float(mp.log(2 * a / t)), float(lam / (2 * lam - 1) + 1 / (2 * a))


LAM32 = torch.tensor(_lambda_grid(), dtype=torch.float32)
CB_REF = np.array([_cb_reference(v) for v in LAM32.double().tolist()])  # at the float32-rounded lambda


@pytest.mark.parametrize("dtype, rtol", [(torch.float32, 1e-5), (torch.float64, 1e-10)])
def test_cb_normalizer_and_mean_against_mpmath(dtype, rtol):
    lam = LAM32.to(dtype)
    assert (LAM32 == 0.5).any() and (LAM32 > 0.5).any() and float(LAM32[LAM32 > 0.5].min()) < 0.5 + 2e-7
    for k, f in enumerate((cb_log_normalizer, cb_mean)):
        got = f(lam)
        assert got.dtype == dtype
        rel = np.abs(got.double().numpy() - CB_REF[:, k]) / np.abs(CB_REF[:, k])
        assert rel.max() < rtol, (f.__name__, LAM32[int(rel.argmax())].item(), rel.max())


def test_cb_logit_functions_against_mpmath_in_float32():
    eta = torch.tensor(np.concatenate([np.linspace(-9.3, 9.3, 745), [0, 1e-8, -1e-8, 1e-4, -0.5, 0.5, 1, -1]]),
                       dtype=torch.float32)
    with mp.workdps(50):
        ref = np.array([[float(mp.log(mp.mpf(e) / mp.tanh(mp.mpf(e) / 2))) if e else math.log(2),
                         float(1 / (1 - mp.exp(-mp.mpf(e))) - 1 / mp.mpf(e)) if e else 0.5]
                        for e in eta.double().tolist()])
    for k, f in enumerate((cb_log_normalizer_logits, cb_mean_logits)):
        rel = np.abs(f(eta).double().numpy() - ref[:, k]) / np.abs(ref[:, k])
        assert rel.max() < 1e-6


def test_cb_gradients_against_mpmath():
    """d/d eta of log C and of the mean, float64, on both sides of each series switch."""
    eta = [1e-9, -1e-4, 0.3, 0.49999, 0.50001, 0.99999, 1.00001, -2.0, 7.0, -9.2]
    x = torch.tensor([0.0] + eta, dtype=torch.float64, requires_grad=True)
    g_logc = torch.autograd.grad(cb_log_normalizer_logits(x).sum(), x)[0]
    g_mean = torch.autograd.grad(cb_mean_logits(x).sum(), x)[0]
    assert g_logc[0].item() == 0.0 and g_mean[0].item() == pytest.approx(1 / 12, rel=1e-15)
    with mp.workdps(100):
        logc = lambda e: mp.log(e / mp.tanh(e / 2))  # noqa: E731
        mean = lambda e: 1 / (1 - mp.exp(-e)) - 1 / e  # noqa: E731
        for i, e in enumerate(eta, start=1):
            e = mp.mpf(e)
            assert g_logc[i].item() == pytest.approx(float(mp.diff(logc, e)), rel=1e-7, abs=1e-12)
            assert g_mean[i].item() == pytest.approx(float(mp.diff(mean, e)), rel=1e-7, abs=1e-12)


def test_cb_beats_torch_distributions_near_one_half_in_float32():
    """torch's ContinuousBernoulli switches to its series only inside (0.499, 0.501);
    in float32 its mean loses about three digits just outside, ours keeps full precision."""
    lam = torch.tensor([0.4985, 0.499, 0.501, 0.5015], dtype=torch.float32)
    ref = np.array([_cb_reference(v)[1] for v in lam.double().tolist()])
    ours = np.abs(cb_mean(lam).double().numpy() - ref) / ref
    theirs = np.abs(torch.distributions.ContinuousBernoulli(probs=lam).mean.double().numpy() - ref) / ref
    assert ours.max() < 1e-6
    assert theirs.max() > 1e-4 and theirs.max() > 100 * ours.max()


def test_cb_samples_follow_the_distribution():
    lik = make_likelihood("continuous_bernoulli", data_shape=(1, 1, 4)).double()
    eta = torch.tensor([-6.0, -0.3, 0.0, 4.0], dtype=torch.float64).reshape(1, 1, 1, 4)
    s = lik.sample(eta.expand(20000, 1, 1, 4).contiguous(), generator=gen(4)).reshape(-1, 4)
    for j, e in enumerate(eta.flatten().tolist()):
        lam = torch.sigmoid(torch.tensor(e, dtype=torch.float64))
        cdf = lambda v: torch.distributions.ContinuousBernoulli(probs=lam).cdf(torch.from_numpy(v)).numpy()  # noqa: E731
        assert scipy.stats.kstest(s[:, j].numpy(), cdf).pvalue > 1e-3
    torch.testing.assert_close(s.mean(0), lik.mean(eta).flatten(), atol=0.01, rtol=0)


def test_beta_samples_have_its_mean():
    lik = make_likelihood("beta", data_shape=(1, 1, 3)).double()
    out = torch.tensor([[[[-2.0, 1.0, 3.0]], [[1.0, 1.0, -1.0]]]], dtype=torch.float64)
    s = lik.sample(out.expand(20000, 2, 1, 3).contiguous(), generator=gen(5))
    torch.testing.assert_close(s.mean(0), lik.mean(out)[0], atol=0.01, rtol=0)


# --- gradients at the edges -------------------------------------------------------------------

def _edge_case(lik):
    """Decoder outputs at and beyond every clamp and the series switches, x at 0, 1 and between."""
    values = torch.tensor([-1e4, -30.0, -9.21034, -9.2103, -1.0, -1e-7, 0.0, 1e-7, 0.5, 1.0,
                           9.2103, 9.21034, 30.0, 1e4], dtype=torch.float32)
    xs = torch.tensor([0.0, 1.0, 0.5, 1e-4, 1 - 1e-4], dtype=torch.float32)
    n = len(values) * len(xs)
    out = values.repeat(len(xs)).reshape(n, 1, 1, 1).expand(n, lik.decoder_channels, 1, 1).contiguous()
    x = xs.repeat_interleave(len(values)).reshape(n, 1, 1, 1)
    return x, out


@pytest.mark.parametrize("name", ALL)
def test_gradients_finite_at_the_edges(name):
    lik = make_likelihood(name, data_shape=(1, 1, 1))
    lik.fit_data(torch.tensor([0.0, 0.0, 1.0]).reshape(3, 1, 1, 1))
    x, out = _edge_case(lik)
    out.requires_grad_(True)
    nll = lik.nll(x, out)
    assert torch.isfinite(nll).all()
    nll.sum().backward()
    assert torch.isfinite(out.grad).all()
    for p in lik.parameters():
        assert torch.isfinite(p.grad).all()
    for f in (lik.mean, lik.param_image):
        o = out.detach().requires_grad_(True)
        image = f(o)
        if f == lik.param_image and name == "categorical":  # an argmax: no gradient at all
            assert not image.requires_grad
            continue
        image.sum().backward()
        assert torch.isfinite(o.grad).all()


@pytest.mark.parametrize("name", ["gaussian_optimal_pixel", "gaussian_optimal_image"])
def test_optimal_sigma_exact_reconstruction(name):
    """An exact hit: finite with the default floor; floor=0 is accepted and gives a
    non-finite loss, the divergence the study expects of the log|x - mu| loss."""
    out = torch.tensor([-2.0, 0.0, 0.7, 3.0]).reshape(1, 1, 1, 4).requires_grad_(True)
    x = torch.sigmoid(out.detach())
    lik = make_likelihood(name, data_shape=(1, 1, 4))
    nll = lik.nll(x, out)
    nll.sum().backward()
    assert torch.isfinite(nll).all() and torch.isfinite(out.grad).all()
    assert nll.item() == pytest.approx(4 * (math.log(lik.floor) + 0.5 * LOG2PI), rel=1e-5)
    assert not torch.isfinite(make_likelihood(name, data_shape=(1, 1, 4), floor=0).nll(x, out)).all()


def test_cb_lambda_functions_have_finite_gradients():
    lam = torch.tensor([1e-4, 0.25, 0.5 - 1e-7, 0.5, 0.5 + 1e-7, 0.75, 1 - 1e-4], requires_grad=True)
    for f in (cb_log_normalizer, cb_mean):
        g = torch.autograd.grad(f(lam).sum(), lam)[0]
        assert torch.isfinite(g).all()


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a GPU")
@pytest.mark.parametrize("name", ALL)
def test_runs_on_cuda(name):
    lik = make_likelihood(name, data_shape=SHAPE).cuda()
    lik.fit_data(rand_x(seed=7, b=50, dtype=torch.float32).cuda())
    x = rand_x(dtype=torch.float32).cuda()
    out = rand_out(lik, dtype=torch.float32).cuda().requires_grad_(True)
    lik.nll(x, out).sum().backward()
    assert torch.isfinite(out.grad).all()
    g = torch.Generator(device="cuda")
    s1 = lik.sample(out.detach(), generator=g.manual_seed(1))
    s2 = lik.sample(out.detach(), generator=g.manual_seed(1))
    assert s1.is_cuda and torch.equal(s1, s2)
    assert lik.mean(out).is_cuda and lik.param_image(out).is_cuda


# --- the sigma-VAE's shared sigma, and the floor statistics -----------------------------------

def test_gaussian_optimal_global_is_the_sigma_vae_batch_sigma():
    lik = make("gaussian_optimal_global", floor=1e-3)
    x, out = rand_x(), rand_out(lik)
    mu = torch.sigmoid(out)
    mse = (x - mu).square().mean()  # over the whole batch and every pixel
    torch.testing.assert_close(lik.nll(x, out), normal_nll(x, mu, mse.sqrt()))
    total = B * D / 2 * (torch.log(mse) + 1 + LOG2PI)
    torch.testing.assert_close(lik.nll(x, out).sum(), total)
    per_image = make("gaussian_optimal_image", floor=1e-3)
    assert not torch.allclose(lik.nll(x, out), per_image.nll(x, out))  # it is not the per-image form
    # the shared sigma: changing one image changes every image's NLL
    x2 = x.clone()
    x2[0] = mu[0]
    assert (lik.nll(x2, out)[1:] != lik.nll(x, out)[1:]).all()
    assert lik.stats(out, x=x)["sigma_mean"] == pytest.approx(mse.sqrt().item())
    assert lik.nll(mu, out).allclose(normal_nll(mu, mu, torch.tensor(1e-3)))  # exact: at the floor


def test_floor_fraction_and_min_pixel_nll():
    x = rand_x()
    lik = make("gaussian_predicted_pixel", floor=0.01)
    out = rand_out(lik)
    out[:, 3:, :2] = -60.0  # softplus(-60) ~ 1e-26: sigma = floor to the last bit
    st = lik.stats(out, x=x)
    assert st["floor_fraction"] == pytest.approx(2 / 4)
    ref = -torch.distributions.Normal(torch.sigmoid(out[:, :3]), 0.01 + F.softplus(out[:, 3:])).log_prob(x)
    assert st["nll_pixel_min"] == pytest.approx(ref.min().item(), rel=1e-12)
    assert "nll_pixel_min" not in lik.stats(out)
    out[:, 3:, :2] = -5.0  # sigma = floor + 0.0067: not at the floor
    assert lik.stats(out, x=x)["floor_fraction"] == 0.0

    opt = make("gaussian_optimal_pixel", floor=1e-3)
    out = rand_out(opt)
    x = torch.sigmoid(out).clone()
    x[:, :, 1:] += 0.2  # rows 1.. have residual 0.2, row 0 is an exact hit
    st = opt.stats(out, x=x)
    assert st["floor_fraction"] == pytest.approx(1 / 4)
    assert st["nll_pixel_min"] == pytest.approx(math.log(1e-3) + 0.5 * LOG2PI, rel=1e-12)

    learned = make("gaussian_learned_global", floor=0.01)
    with torch.no_grad():
        learned.theta.fill_(-80.0)
    assert learned.stats(out, x=x)["floor_fraction"] == 1.0
    assert learned.stats(out)["floor_fraction"] == 1.0 and "nll_pixel_min" not in learned.stats(out)


# --- truncated Gaussian --------------------------------------------------------------------------

def _mp_truncnorm(x, mu, sigma):
    """log density and mean of N(mu, sigma^2) on [0, 1] in 80-digit arithmetic (closed form)."""
    with mp.workdps(80):
        x, mu, sigma = mp.mpf(x), mp.mpf(mu), mp.mpf(sigma)
        a, b = -mu / sigma, (1 - mu) / sigma
        q = lambda t: mp.erfc(t / mp.sqrt(2)) / 2  # noqa: E731
        z = q(a) - q(b) if a > 0 else q(-b) - q(-a)
        logp = -((x - mu) / sigma) ** 2 / 2 - mp.log(sigma) - mp.log(2 * mp.pi) / 2 - mp.log(z)
        return float(logp), float(mu + sigma * (mp.npdf(a) - mp.npdf(b)) / z)


TG_CASES = [(mu, s) for mu in (-20.0, -3.0, -0.2, 0.0, 0.35, 0.5, 0.8, 1.0, 1.7, 20.0)
            for s in (0.0025, 0.01, 0.3, 2.0, 30.0)]


def _tg_out(mu, sigma, n, floor):
    raw = sigma - floor + math.log(-math.expm1(-(sigma - floor)))  # inverse softplus
    return torch.tensor([mu, raw], dtype=torch.float64).reshape(1, 2, 1, 1).expand(n, 2, 1, 1)


@pytest.mark.parametrize("dtype, rtol", [(torch.float64, 1e-9), (torch.float32, 1e-5)])
def test_truncated_gaussian_against_scipy_and_mpmath(dtype, rtol):
    lik = make_likelihood("truncated_gaussian", data_shape=(1, 1, 1)).to(dtype)
    xs = np.array([0.0, 1e-6, 0.1, 0.5, 0.93, 1.0])
    for mu, s in TG_CASES:
        out = _tg_out(mu, s, len(xs), lik.floor).to(dtype)
        s_eff = lik.params(out)[1][0].item()  # sigma as this dtype holds it
        a, b = -mu / s_eff, (1 - mu) / s_eff
        nll = lik.nll(torch.tensor(xs, dtype=dtype).reshape(-1, 1, 1, 1), out).double().numpy()
        ref = -scipy.stats.truncnorm.logpdf(xs, a, b, loc=mu, scale=s_eff)
        np.testing.assert_allclose(nll, ref, rtol=rtol, atol=rtol, err_msg=f"mu={mu} sigma={s}")
        mean = lik.mean(out[:1]).item()
        ref_mean = _mp_truncnorm(0.5, mu, s_eff)[1]
        # float32: absolute 5e-5 where mu is far out and sigma large (mu + sigma h cancels, see module)
        assert mean == pytest.approx(ref_mean, rel=rtol if abs(mu) < 5 or s > 1 else 10 * rtol,
                                     abs=5 * rtol if dtype == torch.float32 else 0), (mu, s)
        assert 0.0 <= mean <= 1.0
        if a <= 5 and b >= -5:  # not deep in a tail, where scipy's own mean is accurate: it agrees too
            assert mean == pytest.approx(scipy.stats.truncnorm.mean(a, b, loc=mu, scale=s_eff), rel=10 * rtol)
    # scipy's mean, far in the tail, is what the study must not trust: 26 % off at mu = -20
    a, b = 20 / 0.0025, 21 / 0.0025
    exact = _mp_truncnorm(0.5, -20.0, 0.0025)[1]
    assert exact == pytest.approx(0.0025**2 / 20, rel=1e-5)  # ~ 1 / (exponential rate |mu|/sigma^2)
    assert abs(scipy.stats.truncnorm.mean(a, b, loc=-20, scale=0.0025) / exact - 1) > 0.1


def test_truncated_gaussian_samples_follow_the_distribution():
    lik = make_likelihood("truncated_gaussian", data_shape=(1, 1, 1)).double()
    for mu, s in ((0.3, 0.1), (-1.0, 0.5), (1.5, 0.2), (-20.0, 0.0025)):
        out = _tg_out(mu, s, 20000, lik.floor).contiguous()
        x = lik.sample(out, generator=gen(6)).flatten().numpy()
        a, b = -mu / s, (1 - mu) / s
        if abs(mu) < 5:
            cdf = lambda v: scipy.stats.truncnorm.cdf(v, a, b, loc=mu, scale=s)  # noqa: E731
            assert scipy.stats.kstest(x, cdf).pvalue > 1e-3
        else:  # an exponential of rate |mu|/sigma^2 to 1e-5
            assert scipy.stats.kstest(x, scipy.stats.expon(scale=s**2 / -mu).cdf).pvalue > 1e-3
        assert x.mean() == pytest.approx(lik.mean(out[:1]).item(), rel=0.02)


# --- continuous Bernoulli, naive -----------------------------------------------------------------

def test_naive_cb_matches_the_stable_one_in_float64():
    naive, stable = make("continuous_bernoulli_naive"), make("continuous_bernoulli")
    x, out = rand_x(), rand_out(naive, scale=5.0)
    out[0, 0, 0, :4] = torch.tensor([0.0, 1e-4, -3e-3, 5e-3])  # in and just outside the Taylor band
    torch.testing.assert_close(naive.nll(x, out), stable.nll(x, out), rtol=1e-9, atol=1e-9)
    torch.testing.assert_close(naive.mean(out), stable.mean(out), rtol=1e-9, atol=1e-9)
    torch.testing.assert_close(naive.param_image(out), stable.param_image(out))
    wide = make("continuous_bernoulli_naive", clamp=None)  # float64 holds lambda to 1 - 1e-16
    out = torch.full((1, *SHAPE), 17.0, dtype=torch.float64)
    torch.testing.assert_close(wide.nll(x[:1], out), make("continuous_bernoulli", clamp=[1e-12, 1 - 1e-12]).nll(x[:1], out))


def test_naive_cb_diverges_in_float32_without_a_clamp():
    x = rand_x(dtype=torch.float32)[:1]
    out = torch.full((1, *SHAPE), 17.0)  # sigmoid(17) = 1 - 4e-8 rounds to 1.0 in float32
    assert torch.sigmoid(torch.tensor(17.0)).item() == 1.0
    naive = make_likelihood("continuous_bernoulli_naive", data_shape=SHAPE, clamp=None)
    stable = make_likelihood("continuous_bernoulli", data_shape=SHAPE, clamp=[1e-12, 1 - 1e-12])
    assert not torch.isfinite(naive.nll(x, out)).any()
    assert torch.isfinite(stable.nll(x, out)).all()
    # with its default clamp the naive one is finite (lambda <= 1 - 1e-4)
    assert torch.isfinite(make_likelihood("continuous_bernoulli_naive", data_shape=SHAPE).nll(x, out)).all()
    # at lambda = 1e-8 float32's 1 - 2 lambda is 1: the naive mean is negative
    lam = torch.tensor([1e-8])
    naive.clamp = None
    assert naive.mean(torch.log(lam) - torch.log1p(-lam)).item() < 0


def test_naive_cb_option():
    assert likelihood_options("continuous_bernoulli_naive")["clamp"] == (1e-4, 1 - 1e-4)
    assert make_likelihood("continuous_bernoulli_naive", data_shape=SHAPE, clamp=None).clamp is None
    with pytest.raises(ValueError, match="'clamp'"):
        make_likelihood("continuous_bernoulli_naive", data_shape=SHAPE, clamp=[0.9, 0.1])


# --- discrete likelihoods ------------------------------------------------------------------------

def _logistic_reference(k, mu, s):
    """log P(k) of the binned logistic in 60-digit arithmetic."""
    with mp.workdps(60):
        mu, s = mp.mpf(mu), mp.mpf(s)
        cdf = lambda y: 1 / (1 + mp.exp(-(y - mu) / s))  # noqa: E731
        sf = lambda y: 1 / (1 + mp.exp((y - mu) / s))  # noqa: E731  1 - cdf, exact above mu
        lo, hi = mp.mpf(k - 0.5) / 255, mp.mpf(k + 0.5) / 255
        if k / 255 > mu:
            return float(mp.log((sf(lo) if k > 0 else 1) - (sf(hi) if k < 255 else 0)))
        return float(mp.log((cdf(hi) if k < 255 else 1) - (cdf(lo) if k > 0 else 0)))


@pytest.mark.parametrize("dtype, rtol", [(torch.float64, 1e-8), (torch.float32, 2e-5)])
def test_discretized_logistic_against_mpmath(dtype, rtol):
    lik = make_likelihood("discretized_logistic", data_shape=(1, 1, 1)).to(dtype)
    ks = [0, 1, 37, 128, 200, 254, 255]
    for mu, log_s in ((0.3, -3.0), (0.5, -7.0), (-2.0, -4.0), (1.5, -5.0), (0.71, 2.0), (0.2, 10.0), (30.0, -7.0)):
        out = torch.tensor([mu, log_s], dtype=dtype).reshape(1, 2, 1, 1).expand(len(ks), 2, 1, 1)
        x = torch.tensor(ks, dtype=dtype).reshape(-1, 1, 1, 1) / 255
        got = -lik.nll(x, out).double().numpy()
        ref = np.array([_logistic_reference(k, float(torch.tensor(mu, dtype=dtype)), math.exp(log_s)) for k in ks])
        np.testing.assert_allclose(got, ref, rtol=rtol, atol=rtol, err_msg=f"mu={mu} log_s={log_s}")
    # scipy.stats.logistic on moderate parameters, every level
    out = torch.tensor([0.4, -2.5], dtype=dtype).reshape(1, 2, 1, 1)
    edges = (np.arange(257) - 0.5) / 255
    cdf = scipy.stats.logistic.cdf(edges, loc=0.4, scale=math.exp(-2.5))
    cdf[0], cdf[-1] = 0.0, 1.0
    np.testing.assert_allclose(lik.log_probs(out).flatten().double().numpy(), np.log(np.diff(cdf)), rtol=10 * rtol)
    p = lik.log_probs(out).double().exp().flatten()
    assert lik.mean(out).item() == pytest.approx((p * torch.arange(256) / 255).sum().item(), rel=10 * rtol)
    assert lik.discrete and lik.param_image(torch.tensor([[[[1.7]], [[0.0]]]], dtype=dtype)).item() == 1.0


def test_discretized_logistic_samples_are_levels_with_its_probabilities():
    lik = make_likelihood("discretized_logistic", data_shape=(1, 1, 1)).double()
    out = torch.tensor([0.02, -4.0], dtype=torch.float64).reshape(1, 2, 1, 1)
    s = lik.sample(out.expand(40000, 2, 1, 1), generator=gen(7)).flatten()
    k = torch.round(s * 255).long()
    assert torch.equal(k.double() / 255, s)
    p = lik.log_probs(out).exp().flatten().numpy()
    counts = np.bincount(k.numpy(), minlength=256)
    keep = p * len(s) > 5  # chi-square on the well-populated levels, the rest pooled
    obs = np.append(counts[keep], counts[~keep].sum())
    exp_ = np.append(p[keep], p[~keep].sum()) * len(s)
    assert scipy.stats.chisquare(obs, exp_).pvalue > 1e-3


def test_categorical_against_torch_distributions():
    lik = make("categorical")
    x = torch.round(rand_x() * 255) / 255
    out = rand_out(lik, scale=3.0)
    logits = out.reshape(B, 3, 256, 4, 5).permute(0, 1, 3, 4, 2)  # channel 256 c + k: level k of c
    ref = torch.distributions.Categorical(logits=logits)
    k = torch.round(x * 255).long()
    torch.testing.assert_close(lik.nll(x, out), -ref.log_prob(k).flatten(1).sum(1))
    torch.testing.assert_close(lik.mean(out), (ref.probs * torch.arange(256, dtype=torch.float64) / 255).sum(-1))
    torch.testing.assert_close(lik.param_image(out), ref.probs.argmax(-1).double() / 255)
    one = make_likelihood("categorical", data_shape=(1, 1, 1)).double()
    o = torch.randn((1, 256, 1, 1), generator=gen(8), dtype=torch.float64)
    s = one.sample(o.expand(40000, 256, 1, 1), generator=gen(9)).flatten()
    counts = np.bincount(torch.round(s * 255).long().numpy(), minlength=256)
    assert scipy.stats.chisquare(counts, torch.softmax(o.flatten(), 0).numpy() * len(s)).pvalue > 1e-3


def test_beta_with_a_negligible_eps_stays_finite_at_exact_ones_in_float32():
    """1 - 1e-9 rounds to 1 in float32: the upper end moves to the largest float32 below 1 instead, so the NLL
    is finite (and far below eps 1e-3's, where the density is free to grow) rather than log1p(-1) = -inf."""
    import scipy.stats

    from reconloss.likelihoods import make_likelihood

    x = torch.tensor([[[[0.0, 1.0]]]])
    out = torch.tensor([[[[2.0, 2.0]]], [[[0.5, 0.5]]]]).reshape(1, 2, 1, 2)  # alpha > 1 > beta-ish concentrations
    tiny = make_likelihood("beta", (1, 1, 2), eps=1e-9)
    usual = make_likelihood("beta", (1, 1, 2), eps=1e-3)
    nll = tiny.nll(x, out)
    assert torch.isfinite(nll).all()
    a, b = (c.double().flatten() for c in tiny.concentrations(out))
    hi = float(torch.nextafter(torch.tensor(1.0), torch.tensor(0.0)))
    ref = -(scipy.stats.beta.logpdf(1e-9, a[0], b[0]) + scipy.stats.beta.logpdf(hi, a[1], b[1]))
    assert float(nll) == pytest.approx(ref, rel=1e-4)
    assert float(usual.nll(x, out)) != pytest.approx(float(nll), rel=1e-3)
