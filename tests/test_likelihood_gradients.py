"""Beta's and the continuous Bernoulli's NLL and gradient with respect to the decoder output
against independent references: autograd through torch.distributions' log_prob (float64, and
float32 under vmap as a pack calls the likelihood), Beta's gradient against scipy's digamma,
the CB normaliser's against 1/eta - 1/sinh(eta). (Written while profiling the CPU step: any
faster form of these two likelihoods must keep passing them.)"""

import numpy as np
import pytest
import scipy.special
import torch
import torch.nn.functional as F
from reconloss.likelihoods import make_likelihood
from reconloss.likelihoods.continuous_bernoulli import cb_log_normalizer_logits
from torch.func import vmap

SHAPE = (1, 28, 28)


def _data(dtype, channels, seed=0, b=16, scale=3.0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randint(0, 256, (b, *SHAPE), generator=g).to(dtype) / 255
    out = (scale * torch.randn(b, channels * SHAPE[0], *SHAPE[1:], generator=g, dtype=torch.float64)).to(dtype)
    return x, out


def _nll_and_grad(f, x, out):
    out = out.clone().requires_grad_(True)
    nll = f(x, out)
    (grad,) = torch.autograd.grad(nll.sum(), out)
    return nll.detach(), grad


def _beta_reference(x, out):
    """torch.distributions.Beta on the same concentrations and the same moved ends."""
    a, b = 0.01 + F.softplus(out[:, :1]), 0.01 + F.softplus(out[:, 1:])
    xc = torch.where((x > 0) & (x < 1), x, x.clamp(1e-3, 1 - 1e-3))
    return -torch.distributions.Beta(a, b).log_prob(xc).flatten(1).sum(1)


def _cb_reference(x, out):
    """torch.distributions.ContinuousBernoulli from the clamped logits (float64: its own Taylor
    window is exact enough there)."""
    lik = make_likelihood("continuous_bernoulli", data_shape=SHAPE)
    eta = out.clamp(*lik.logit_bounds)
    return -torch.distributions.ContinuousBernoulli(logits=eta).log_prob(x).flatten(1).sum(1)


@pytest.mark.parametrize("name, channels, reference", [("beta", 2, _beta_reference),
                                                        ("continuous_bernoulli", 1, _cb_reference)])
def test_nll_and_gradient_match_torch_distributions_in_float64(name, channels, reference):
    x, out = _data(torch.float64, channels)
    lik = make_likelihood(name, data_shape=SHAPE)
    got, want = _nll_and_grad(lik.nll, x, out), _nll_and_grad(reference, x, out)
    torch.testing.assert_close(got[0], want[0], rtol=1e-10, atol=0)
    # torch's CB differentiates its lambda-domain formula, good to ~3e-7 relative near lambda = 1/2
    # (the closed forms below pin this code's gradient to 1e-9)
    torch.testing.assert_close(got[1], want[1], rtol=1e-8 if name == "beta" else 1e-6, atol=1e-10)
    assert got[1].abs().max() > 0.1  # a gradient that could be wrong


@pytest.mark.parametrize("name, channels", [("beta", 2), ("continuous_bernoulli", 1)])
def test_float32_under_vmap_matches_the_float64_reference_to_float_rounding(name, channels):
    """What a pack computes (float32, vmapped over members) against the float64 one, member by member."""
    k = 3
    xs, outs = zip(*(_data(torch.float32, channels, seed=s) for s in range(k)))
    x, out = torch.stack(xs), torch.stack(outs)
    lik = make_likelihood(name, data_shape=SHAPE)
    got = _nll_and_grad(vmap(lik.nll), x, out)
    ref = _beta_reference if name == "beta" else _cb_reference
    for m in range(k):
        want = _nll_and_grad(ref, x[m].double(), out[m].double())
        torch.testing.assert_close(got[0][m].double(), want[0], rtol=2e-6, atol=0)
        torch.testing.assert_close(got[1][m].double(), want[1], rtol=1e-4, atol=1e-5)


def test_beta_gradient_is_the_digamma_formula():
    """d/da log Beta(x; a, b) = log x - psi(a) + psi(a + b), with scipy's digamma, chained through softplus."""
    x, out = _data(torch.float64, 2, b=4)
    lik = make_likelihood("beta", data_shape=SHAPE)
    _, grad = _nll_and_grad(lik.nll, x, out)
    a, b = (0.01 + F.softplus(out[:, :1])).numpy(), (0.01 + F.softplus(out[:, 1:])).numpy()
    xc = np.clip(x.numpy(), 1e-3, 1 - 1e-3)
    sig = torch.sigmoid(out).numpy()  # softplus' derivative
    da = -(np.log(xc) - scipy.special.digamma(a) + scipy.special.digamma(a + b)) * sig[:, :1]
    db = -(np.log1p(-xc) - scipy.special.digamma(b) + scipy.special.digamma(a + b)) * sig[:, 1:]
    np.testing.assert_allclose(grad.numpy(), np.concatenate([da, db], axis=1), rtol=1e-10, atol=1e-12)


def test_cb_log_normalizer_gradient_is_the_closed_form_across_the_series_switch():
    """d/d eta log(eta / tanh(eta/2)) = 1/eta - 1/sinh(eta), both sides of |eta| = 1/2 and at 0."""
    eta = torch.tensor([0.0, 1e-6, -0.2, 0.4999, 0.5, 0.5001, -0.5001, 1.0, -3.0, 9.2], dtype=torch.float64,
                       requires_grad=True)
    (g,) = torch.autograd.grad(cb_log_normalizer_logits(eta).sum(), eta)
    e = eta.detach().numpy()
    with np.errstate(divide="ignore", invalid="ignore"):
        want = np.where(e == 0, 0.0, 1 / e - 1 / np.sinh(e))
    want[1] = 1e-6 / 6  # 1/e - 1/sinh(e) cancels in float64 there: its series, eta/6
    # (the series is truncated at 1e-10 in value; its derivative, at the switch, to ~1e-8 relative)
    np.testing.assert_allclose(g.numpy(), want, rtol=3e-8, atol=1e-15)
