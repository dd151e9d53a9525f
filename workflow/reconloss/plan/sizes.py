"""How big a run's model is, known at plan time without torch: what a job's memory request scales with.

The architectures of reconloss.training.models, counted: a 256-way categorical decoder on MNIST has
about 103M parameters per run (its last layer alone is 512 x 256 x 784), 2.2G for a pack
of 21, while a Bernoulli MLP has 1M. A fixed memory request per run either kills the first
or wastes the cluster on the second. Torch-free, because the Snakefile plans with it; a test
holds these counts to the real modules of every likelihood and architecture.
"""

import math

#: data shape (C, H, W) per dataset, as reconloss.data.datasets's registry has it (tested).
DATA_SHAPES = {"digits": (1, 8, 8), "mnist": (1, 28, 28), "fashion_mnist": (1, 28, 28), "cifar10": (3, 32, 32),
               "photo_patches": (3, 32, 32)}
#: decoder channels per data channel where not 1 (channels_per_data_channel of the likelihood classes).
_CHANNELS_PER_DATA_CHANNEL = {"gaussian_predicted_pixel": 2, "truncated_gaussian": 2, "beta": 2,
                              "discretized_logistic": 2, "categorical": 256}
#: bytes of one float32 number
FLOAT = 4


def decoder_channels(likelihood_name, c):
    if likelihood_name == "gaussian_predicted_image":  # one sigma channel per image
        return c + 1
    return c * _CHANNELS_PER_DATA_CHANNEL.get(likelihood_name, 1)


def _linear(sizes):
    return sum(a * b + b for a, b in zip(sizes[:-1], sizes[1:]))


def parameter_count(data_shape, likelihood_name, model, latent_dim) -> int:
    """Parameters of one run's VAE (encoder, decoder, the likelihood's own): what it trains.
    `model`: the model settings (arch, hidden, channels), complete."""
    c, h, w = (int(s) for s in data_shape)
    hidden = [int(v) for v in model["hidden"]]
    out_c, latent_dim = decoder_channels(likelihood_name, c), int(latent_dim)
    arch = model["arch"]
    if arch == "auto":
        arch = "mlp" if c == 1 and h * w <= 28 * 28 else "conv"
    if arch == "mlp":
        n = _linear([c * h * w, *hidden, 2 * latent_dim]) + _linear([latent_dim, *reversed(hidden), out_c * h * w])
    else:
        channels = [int(v) for v in model["channels"]]
        flat = channels[-1] * (h >> len(channels)) * (w >> len(channels))
        convs = zip([c, *channels[:-1]], channels)
        n = sum(a * b * 16 + b for a, b in convs)  # 4x4 kernels, down and (below) up
        rev = list(reversed(channels))
        n += sum(a * b * 16 + b for a, b in zip(rev, [*rev[1:], out_c]))
        n += _linear([flat, *hidden, 2 * latent_dim]) + _linear([latent_dim, *reversed(hidden), flat])
    if likelihood_name == "gaussian_learned_pixel":
        n += c * h * w
    elif likelihood_name == "gaussian_learned_global":
        n += 1
    return n


def train_host_mb(parameters, runs, on_cpu) -> int:
    """Host memory (MB) a pack's training needs for its model state, beyond data and torch itself.

    On a CPU every run's state lives in host memory: parameters, gradients, Adam's two moments
    and the copy of the parameters at the start of the epoch (5 numbers each), plus one run's
    checkpoint (parameters and moments) while it is written. On a GPU only that checkpoint is
    on the host (reconloss.training.train writes them one run at a time)."""
    numbers = (5 * runs if on_cpu else 0) * parameters + 3 * parameters
    return math.ceil(numbers * FLOAT / 1e6)
