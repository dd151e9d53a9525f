"""Architectures and the beta-VAE objective, checked against torch.distributions."""

import math

import pytest
import torch
from torch.distributions import Bernoulli, Normal, kl_divergence

from reconloss.likelihoods import make_likelihood
from reconloss.training.models import ConvDecoder, ConvEncoder, MLPDecoder, MLPEncoder, build_networks, choose_arch
from reconloss.training.vae import VAE, build_vae

SHAPES = [(1, 8, 8), (1, 28, 28), (3, 32, 32)]


def settings(likelihood="gaussian_fixed", arch="auto", beta=1.0, latent=5, options=None):
    return {"likelihood_name": likelihood, "likelihood_options": options or {}, "beta": beta, "seed": 0,
            "train": {"latent_dim": latent}, "model": {"arch": arch, "hidden": [32, 16], "channels": [8, 16]}}


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("arch", ["mlp", "conv"])
@pytest.mark.parametrize("out_channels", [1, 2])
def test_encoder_decoder_shapes(shape, arch, out_channels):
    c, h, w = shape
    enc, dec = build_networks({"arch": arch, "hidden": [32, 16], "channels": [8, 16]}, shape, 5,
                              out_channels * c)
    assert isinstance(enc, MLPEncoder if arch == "mlp" else ConvEncoder)
    assert isinstance(dec, MLPDecoder if arch == "mlp" else ConvDecoder)
    mu, logvar = enc(torch.rand(3, *shape))
    assert mu.shape == logvar.shape == (3, 5)
    assert dec(torch.randn(3, 5)).shape == (3, out_channels * c, h, w)


def test_auto_rule():
    assert choose_arch((1, 8, 8)) == "mlp"
    assert choose_arch((1, 28, 28)) == "mlp"
    assert choose_arch((3, 32, 32)) == "conv"
    assert choose_arch((1, 32, 32)) == "conv"
    enc, _ = build_networks({"arch": "auto", "channels": [8, 16]}, (3, 32, 32), 4, 3)
    assert isinstance(enc, ConvEncoder)


def test_conv_rejects_indivisible_sizes_and_unknown_arch():
    with pytest.raises(ValueError, match="divisible"):
        build_networks({"arch": "conv", "channels": [8, 16, 32]}, (1, 28, 28), 4, 1)  # 28 % 8 != 0
    with pytest.raises(ValueError, match="unknown arch"):
        build_networks({"arch": "resnet"}, (1, 28, 28), 4, 1)


@pytest.mark.parametrize("name,channels", [("gaussian_fixed", 3), ("gaussian_predicted_pixel", 6),
                                           ("gaussian_predicted_image", 4), ("beta", 6)])
def test_decoder_channels_come_from_the_likelihood(name, channels):
    vae = build_vae(settings(name, arch="conv"), (3, 32, 32))
    assert vae.likelihood.decoder_channels == channels
    assert vae.decode(torch.randn(2, 5)).shape == (2, channels, 32, 32)
    assert vae.latent_dim == 5


def test_kl_matches_torch_distributions():
    mu, logvar = torch.randn(7, 4, dtype=torch.float64), torch.randn(7, 4, dtype=torch.float64)
    ref = kl_divergence(Normal(mu, (0.5 * logvar).exp()), Normal(0.0, 1.0)).sum(1)
    torch.testing.assert_close(VAE.kl(mu, logvar), ref)


def test_reparameterize_is_mu_plus_sigma_eps_from_the_generator():
    mu, logvar = torch.randn(6, 3), torch.randn(6, 3)
    z = VAE.reparameterize(mu, logvar, torch.Generator().manual_seed(5))
    eps = torch.randn(6, 3, generator=torch.Generator().manual_seed(5))
    torch.testing.assert_close(z, mu + eps * torch.exp(0.5 * logvar))
    # and the noise has the right law: mean mu, std sigma
    mu1, logvar1 = torch.tensor([[1.5, -2.0]]), torch.tensor([[math.log(4.0), math.log(0.25)]])
    zs = VAE.reparameterize(mu1.expand(200000, 2), logvar1.expand(200000, 2), torch.Generator().manual_seed(0))
    torch.testing.assert_close(zs.mean(0), mu1[0], atol=0.02, rtol=0)
    torch.testing.assert_close(zs.std(0), torch.tensor([2.0, 0.5]), atol=0.01, rtol=0)


@pytest.mark.parametrize("name,beta", [("gaussian_fixed", 1.0), ("bernoulli", 4.0)])
def test_elbo_is_batch_mean_of_summed_nll_plus_beta_kl(name, beta):
    torch.manual_seed(0)
    vae = build_vae(settings(name, beta=beta), (1, 8, 8))
    x = torch.randint(0, 17, (10, 1, 8, 8)).float() / 16
    res = vae(x, generator=torch.Generator().manual_seed(1))
    out = res["out"]
    if name == "gaussian_fixed":  # N(sigmoid(out), 0.5): every constant kept
        ref_nll = -Normal(torch.sigmoid(out), math.sqrt(0.5)).log_prob(x).sum((1, 2, 3))
    else:
        ref_nll = -Bernoulli(logits=out, validate_args=False).log_prob(x).sum((1, 2, 3))
    ref_kl = kl_divergence(Normal(res["mu"], (0.5 * res["logvar"]).exp()), Normal(0.0, 1.0)).sum(1)
    torch.testing.assert_close(res["nll"], ref_nll)
    torch.testing.assert_close(res["kl"], ref_kl)
    torch.testing.assert_close(res["loss"], (ref_nll + beta * ref_kl).mean())
    res["loss"].backward()  # a scalar with gradients everywhere
    assert all(p.grad is not None for p in vae.encoder.parameters())


def test_learned_likelihood_parameters_belong_to_the_vae():
    vae = build_vae(settings("gaussian_learned_pixel"), (1, 8, 8))
    names = dict(vae.named_parameters())
    assert any(n.startswith("likelihood.") for n in names)
    assert any(k.startswith("likelihood.") for k in vae.state_dict())


def test_given_likelihood_overrides_settings():
    lik = make_likelihood("bernoulli", data_shape=(1, 28, 28))
    vae = build_vae(settings("gaussian_fixed"), (1, 28, 28), likelihood=lik)
    assert vae.likelihood is lik
