"""Bits per dimension that mean the same for every likelihood: the data convention, once.

The data convention. A dataset stores integer levels k in {0, ..., scale}
(uint8; scale = 255 for MNIST, FashionMNIST and CIFAR-10, 16 for digits).
Training and every evaluation see x = k / scale * data_range (train.data_range,
default 1: x in [0, 1]; 255 for the study's [0, 255] experiment). What a model
is scored on is the probability it gives the levels k, so bits per dimension
are comparable across likelihoods only as -log2 P(k) / D:

- discrete likelihoods (discretized_logistic, categorical: `discrete`) give
  P(k) itself: their nll at x = k/scale, exactly as trained, is -log P of the
  level round(255 x); no dequantisation, no Jacobian offset. On 17-level digits
  the levels k map one-to-one onto 256 8-bit levels: still a probability of
  the data (mass on unused levels is simply wasted);
- densities (`valid_density`, not discrete) give p(y) on [0, data_range]^D; the
  level k owns the bin [k, k+1) * data_range / (scale+1), so with
  y = (k + u) / (scale + 1) * data_range, u ~ U[0, 1)^D (Theis et al. 2016)
      log P(k) >= E_u[log p(y)] + D log(data_range / (scale + 1));
- non-densities (Bernoulli on grey data, the optimal-sigma Gaussians) give no
  probability of anything: null.

Both are then estimated with the same importance-weighted bound (Burda et al.
2016), so iw_bpd = -(bound on log P(k)) / (D ln 2) is an upper bound on the
bits per subpixel of the (scale+1)-level data for every valid likelihood (bits
per 8-bit subpixel on the study's datasets).
"""

import math

import torch


def dequantize(x_int, scale, generator, data_range=1.0):
    """y = (x_int + u) / (scale + 1) * data_range, u ~ U[0, 1): the levels spread over their bins."""
    x = x_int.float()
    return (x + torch.rand(x.shape, device=x.device, generator=generator)) / (scale + 1) * data_range


def importance_weighted(vae, y, k, generator=None):
    """(mean log weight, log mean weight) per image, float64 (B,), from k samples z ~ q(z|y).

    log w = log p(y|z) + log p(z) - log q(z|y); the mean is a k-sample ELBO estimate,
    logsumexp - log k the IWAE bound (Burda et al. 2016), >= the former by Jensen.
    """
    mu, logvar = vae.encode(y)
    eps = torch.randn((mu.shape[0], k, mu.shape[1]), device=mu.device, generator=generator, dtype=mu.dtype)
    return iw_from_noise(vae, y, eps, (mu, logvar))


def iw_from_noise(vae, y, eps, posterior=None):
    """importance_weighted given its standard normal noise eps (B, k, L): no random numbers and
    no host sync inside, so a GPU runs it as queued kernels (reconloss.training.capture_hazards checks it).
    `posterior`: (mu, logvar) of q(z|y) when already computed."""
    log2pi = math.log(2 * math.pi)
    mu, logvar = vae.encode(y) if posterior is None else posterior
    b, k, L = eps.shape
    z = mu[:, None] + eps * (0.5 * logvar[:, None]).exp()
    out = vae.decode(z.reshape(b * k, L))
    log_px = -vae.likelihood.nll(y.repeat_interleave(k, dim=0), out).reshape(b, k).double()
    log_pz = (-0.5 * (z.square() + log2pi)).sum(-1).double()
    log_qz = (-0.5 * (eps.square() + logvar[:, None] + log2pi)).sum(-1).double()
    logw = log_px + log_pz - log_qz
    return logw.mean(1), torch.logsumexp(logw, 1) - math.log(k)


def log_level_offset(lik, d, scale, data_range=1.0):
    """log P(k) - log p(y) per image: D log(data_range / (scale+1)) for a density, 0 for a discrete
    likelihood (its nll already is -log P(k)), None for a non-density."""
    if not lik.valid_density:
        return None
    return 0.0 if lik.discrete else d * math.log(data_range / (scale + 1))


#: Decoder output numbers per importance-weighted batch on a GPU (256 MB of float32 per tensor).
GPU_BATCH_NUMBERS = 2**26


def images_per_batch(vae, image_numbers, k, batch_size, device) -> int:
    """Images per importance-weighted batch: each is decoded k times.

    On a CPU, batch_size decoder evaluations, as the configuration says (and as every CPU
    result so far was computed: the batching decides which noise each image draws). On a GPU
    that is far too little work per kernel (iw_samples 100, batch 500: 5 images, 2,000 batches
    per MNIST test set), so the batch is sized by images x samples x decoder output against
    GPU_BATCH_NUMBERS instead."""
    if torch.device(device).type == "cpu":
        return max(1, batch_size // k)
    out_numbers = vae.likelihood.decoder_channels * image_numbers // vae.likelihood.data_shape[0]
    return max(1, GPU_BATCH_NUMBERS // (k * out_numbers))


@torch.no_grad()
def bits_per_dim(vae, x_int, scale, k, batch_size, g_deq, g_iw, data_range=1.0):
    """{"iw_ll", "bpd", "iw_bpd"} of the levels x_int (see the module docstring), None for a non-density.

    iw_ll: the importance-weighted bound in nats of what the likelihood scores (the density of
    y, or P(k) for a discrete one); bpd from the k-sample ELBO of the same samples, iw_bpd from
    the bound, both bits per subpixel of the levels (iw_bpd <= bpd by Jensen). The sums stay on
    the device in float64 (the same additions a host float does), read once at the end.
    """
    lik = vae.likelihood
    d = math.prod(x_int.shape[1:])
    offset = log_level_offset(lik, d, scale, data_range)
    if offset is None or k < 1:
        return dict.fromkeys(("iw_ll", "bpd", "iw_bpd"))
    n, per = len(x_int), images_per_batch(vae, d, k, batch_size, x_int.device)
    sums = torch.zeros(2, dtype=torch.float64, device=x_int.device)
    for i in range(0, n, per):
        xi = x_int[i:i + per]
        y = xi.float() / scale * data_range if lik.discrete else dequantize(xi, scale, g_deq, data_range)
        elbo_k, iw = importance_weighted(vae, y, k, g_iw)
        sums[0] += elbo_k.sum()
        sums[1] += iw.sum()
    elbo_sum, iw_sum = sums.tolist()
    iw_ll = iw_sum / n
    return {"iw_ll": iw_ll, "bpd": -(elbo_sum / n + offset) / (d * math.log(2)),
            "iw_bpd": -(iw_ll + offset) / (d * math.log(2))}
