"""reconloss.evaluation.bits' batching: the CPU numbers as before, GPU batches sized by images x samples."""

import math

import pytest
import torch
from torch_helpers import one_thread

from reconloss.evaluation import bits
from reconloss.training.vae import build_vae


def vae_of(likelihood, shape=(1, 8, 8)):
    torch.manual_seed(0)
    return build_vae({"likelihood_name": likelihood, "train": {"latent_dim": 4},
                      "model": {"arch": "mlp", "hidden": [16]}}, shape).eval()


def host_sums_reference(vae, x_int, scale, k, batch_size, g_deq, g_iw):
    """bits_per_dim's sums as first written: per batch, read to the host as Python floats."""
    per, elbo_sum, iw_sum = max(1, batch_size // k), 0.0, 0.0
    for i in range(0, len(x_int), per):
        xi = x_int[i:i + per]
        y = xi.float() / scale if vae.likelihood.discrete else bits.dequantize(xi, scale, g_deq)
        elbo_k, iw = bits.importance_weighted(vae, y, k, g_iw)
        elbo_sum += float(elbo_k.sum())
        iw_sum += float(iw.sum())
    return elbo_sum, iw_sum


@pytest.mark.parametrize("likelihood", ["continuous_bernoulli", "categorical", "gaussian_learned_global"])
def test_cpu_numbers_are_those_of_host_sums(likelihood):
    """Sums kept on the device are the same float64 additions: equal, bit for bit."""
    vae = vae_of(likelihood)
    x = torch.randint(0, 256, (37, 1, 8, 8), generator=torch.Generator().manual_seed(1)).to(torch.uint8)
    d = 64
    with one_thread(), torch.no_grad():
        got = bits.bits_per_dim(vae, x, 255.0, 7, 50, torch.Generator().manual_seed(2), torch.Generator().manual_seed(3))
        elbo_sum, iw_sum = host_sums_reference(vae, x, 255.0, 7, 50, torch.Generator().manual_seed(2),
                                               torch.Generator().manual_seed(3))
    offset = bits.log_level_offset(vae.likelihood, d, 255.0)
    assert got["iw_ll"] == iw_sum / 37
    assert got["bpd"] == -(elbo_sum / 37 + offset) / (d * math.log(2))


def test_gpu_batches_are_sized_by_images_samples_and_decoder_output():
    cat, bern = vae_of("categorical", (1, 28, 28)), vae_of("bernoulli", (1, 28, 28))
    d = 784
    assert bits.images_per_batch(bern, d, 100, 500, "cpu") == 5  # the configured batch, as before
    on_gpu = bits.images_per_batch(bern, d, 100, 500, "cuda")
    assert on_gpu == bits.GPU_BATCH_NUMBERS // (100 * 784) == 855
    # categorical decodes 256 numbers per pixel: 256 times fewer images, at least one
    assert bits.images_per_batch(cat, d, 100, 500, "cuda") == max(1, bits.GPU_BATCH_NUMBERS // (100 * 784 * 256))
    assert bits.images_per_batch(cat, d, 10**6, 500, "cuda") == 1
