"""Every metric of one trained run, computed in three passes over the test set and the prior.

The data convention (levels k, x = k / scale * data_range) and what bits per
dimension mean are written once, in reconloss.evaluation.bits. What each number means (all
on the test set):

- nll, kl, elbo: per image, in nats, on the test data exactly as training saw it
  (x = k / scale * data_range), one posterior sample per image; elbo = -(nll + kl),
  with beta = 1 whatever the run's beta (it is the bound, not the training loss).
- iw_ll, iw_bpd, bpd: see reconloss.evaluation.bits; null for non-densities (valid_density
  false). iw_bpd is the one bits/dim column of the summary: an upper bound on bits
  per subpixel of the quantised data, the same quantity for every valid likelihood;
  bpd (the k-sample ELBO's, >= iw_bpd) stays in metrics.json only.
- fid: decoded expected values of z ~ N(0, I) (fid_samples of them) against the
  test set's cached feature statistics; fid_param: the parameter images of the same
  decoded z; fid_recon: expected-value reconstructions (z = posterior mean) of the
  whole test set against the same statistics.
- Every intensity below is in [0, 1] units (divided by data_range):
  mse_mean, mse_param: per-pixel mean squared error of the expected-value and of the
  parameter-image reconstruction (z = posterior mean); rmse = sqrt(mse_mean), the sigma
  an optimal global Gaussian would pick, beside sigma_mean.
- black_level / white_level: mean reconstruction on the pixels that are 0 in the
  data / at least 0.99 (data_* the data's own, 0 and ~1), param_black_level /
  param_white_level the same of the parameter image; recon_p01/p99 and data_p01/p99
  the 1st and 99th percentiles of all intensities. Desaturation shows as
  black_level > 0 and white_level < data_white_level.
- mass_outside: Gaussians only (null otherwise): per pixel, P(x < 0) + P(x > 1) under
  the reconstruction's Normal(mu, sigma) (z = posterior mean; the optimal-sigma
  variants take sigma at the data x, as their NLL does), averaged over pixels and images.
- active_units: latent dims with Var_x(E[z|x]) > 0.01 (Burda et al. 2016).
- sample_spread: per-pixel std over the fid_samples decoded prior samples (expected
  values), averaged over pixels.
- sigma_mean: lik.stats' sigma_mean averaged over the test set, null without one.
- sharpness_data, sharpness_mean, sharpness_param: mean squared difference between
  neighbouring pixels (reconloss.evaluation.levels.sharpness_sum) of the test images, of their
  expected-value and of their parameter-image reconstructions: a parameter image
  sharper than the data it reconstructs is over-sharpened.
- fid_stretched, fid_squeezed: the sample FID of the same decoded expected values
  with only their levels changed (reconloss.evaluation.levels): stretched from the run's own
  reconstruction range (recon_p01..recon_p99) onto the data's (data_p01..data_p99),
  and squeezed from [0, 1] into the range a default continuous Bernoulli's expected
  value can reach (0.1085..0.8915). They tell whether FID sees desaturation.
- loss_trend, sigma_trend: how much the training loss and log σ still moved per epoch
  over the last epochs of log.csv (reconloss.evaluation.settling); null with too few epochs.
- outcome: ok, collapsed or diverged (reconloss.evaluation.outcome); status stays training's.
- Under several FID classifiers (reconloss.evaluation.scores): every FID above also as
  `{metric}_c{k}`, one per classifier k (`fid_c0 == fid`); classifier_score,
  classifier_score_stretched, classifier_score_squeezed: the classifier score of the
  sample sets of fid, fid_stretched and fid_squeezed, with the same suffixes;
  data_classifier_score: the test set's.
- sigma_always_black, sigma_other, sigma_image_p10, sigma_image_p90: where a Gaussian's
  σ differs (reconloss.evaluation.sigma).
- colour_*: RGB data only, see reconloss.evaluation.colour (levels at the extremes, Wasserstein-1 distance
  of λ's and E[x]'s levels from the data's, levels on images with black-and-white elements).

Randomness (posterior samples, dequantization noise, prior samples) comes from
generators seeded from the run's seed, so the numbers repeat on a CPU. A run
that diverged in training gets its row (status diverged, metrics null) and
placeholder images; evaluation never fails the workflow for it.
"""


import logging
import math
from dataclasses import dataclass

import numpy as np
import torch

from reconloss.evaluation.bits import bits_per_dim
from reconloss.evaluation.levels import cb_mean_range, remap, sharpness_sum
from reconloss.evaluation.scores import Bank, classifier_keys, fid_or_none
from reconloss.evaluation.sigma import SigmaSpread
from reconloss.settings import EVAL_DEFAULTS

log = logging.getLogger(__name__)

METRIC_KEYS = ["nll", "kl", "elbo", "bpd", "iw_ll", "iw_bpd", "fid", "fid_param", "fid_recon", "mse_mean",
               "mse_param", "rmse", "black_level", "white_level", "param_black_level", "param_white_level",
               "data_black_level", "data_white_level", "recon_p01", "recon_p99", "data_p01", "data_p99",
               "mass_outside", "active_units", "sample_spread", "sigma_mean", "fid_inception",
               "fid_inception_recon", "sharpness_data", "sharpness_mean", "sharpness_param", "fid_stretched",
               "fid_squeezed", "loss_trend", "sigma_trend", "classifier_score", "classifier_score_stretched",
               "classifier_score_squeezed", "data_classifier_score", "sigma_always_black", "sigma_other",
               "sigma_image_p10", "sigma_image_p90"]
ACTIVE_THRESHOLD = 0.01
WHITE = 0.99


def metric_keys(count=1) -> list:
    """METRIC_KEYS and the per-classifier keys of `count` FID classifiers."""
    return METRIC_KEYS + classifier_keys(count)


def _gen(device, seed, stream):
    from reconloss.training.step import derived_seed

    return torch.Generator(device=device).manual_seed(derived_seed(seed, 0, f"evaluate/{stream}"))


def showcase_indices(x_uint8, y, scale, n):
    """n test indices, deterministic, with pure white and pure black areas.

    Round robin over classes; in even rounds the class's image with the most
    pixels >= 0.99 not yet taken, in odd rounds the one with the most pixels
    exactly 0 -- where desaturation of a reconstruction is visible.
    """
    x = x_uint8.reshape(len(x_uint8), -1).cpu()
    white = (x.float() >= WHITE * scale).sum(1)
    black = (x == 0).sum(1)
    y = y.cpu().tolist()  # a list: indexing a tensor element by element cost seconds on 10,000 images
    classes = sorted(set(y))
    taken, out = set(), []
    rank = {}
    for key, score in (("white", white), ("black", black)):
        # stable sort: ties broken by index
        order = torch.sort(-score, stable=True).indices.tolist()
        rank[key] = {c: [i for i in order if y[i] == c] for c in classes}
    r = 0
    while len(out) < min(n, len(x)):
        key = "white" if r % 2 == 0 else "black"
        for c in classes:
            if len(out) >= n:
                break
            i = next((i for i in rank[key][c] if i not in taken), None)
            if i is not None:
                taken.add(i)
                out.append(i)
        r += 1
    return torch.tensor(out, dtype=torch.int64)


def _finite_or_none(v):
    if v is None:
        return None
    v = float(v)
    return v if math.isfinite(v) else None


def data_range_of(settings):
    """train.data_range of a run (1 where it is not set): x = k / scale * data_range."""
    return float(((settings.get("train") or {}).get("data_range")) or 1.0)


def mass_outside(lik, out, x, data_range=1.0):
    """Per pixel P(x < 0) + P(x > data_range) under a Gaussian's Normal(mu, sigma), summed over
    the batch's pixels (float64), or None for a likelihood that is not a Gaussian."""
    if not hasattr(lik, "normal"):
        return None
    mu, sigma = (t.double() for t in lik.normal(out, x))
    sigma = sigma.clamp_min(torch.finfo(torch.float64).tiny)  # sigma 0 (floor 0): a point mass
    ndtr = torch.special.ndtr
    return float((ndtr(-mu / sigma) + ndtr((mu - data_range) / sigma)).sum())


@dataclass
class Run:
    """What every pass reads: the trained VAE, the test data as trained, the settings and the FID networks
    (nets: reconloss.evaluation.scores.FidNet, classifier 0 first). data["always_black"], where given, is
    the mask of pixels 0 in every training image (reconloss.evaluation.sigma)."""

    vae: object
    data: dict
    settings: dict
    nets: list
    inception: object = None
    inception_stats: tuple = None

    def __post_init__(self):
        self.ev = {**EVAL_DEFAULTS, **(self.settings.get("evaluate") or {})}
        self.seed = int(self.settings.get("seed", 0))
        self.lik = self.vae.likelihood
        self.device = next(self.vae.parameters()).device
        self.x_int, self.y = self.data["test_x"].to(self.device), self.data["test_y"]
        self.scale = float(self.data["scale"])
        self.rng = data_range_of(self.settings)
        self.n, self.shape = len(self.x_int), tuple(self.x_int.shape[1:])
        self.d = math.prod(self.shape)
        self.bs = int(self.ev["batch_size"])


@torch.no_grad()
def test_pass(r):
    """The test set as trained: NLL and KL, reconstructions (their error, levels, sharpness, FID), latents.
    Returns (metrics, Inception features of the reconstructions or None)."""
    vae, lik, device, x_int, scale, rng, n, d, bs, seed = (r.vae, r.lik, r.device, r.x_int, r.scale, r.rng, r.n,
                                                           r.d, r.bs, r.seed)
    inception, bank = r.inception, Bank(r.nets)
    spread = SigmaSpread(r.data.get("always_black"), rng)
    m = {}
    g_post = _gen(device, seed, "posterior")
    keys = ("nll", "kl", "se_mean", "se_param", "black", "white", "param_black", "param_white", "outside",
            "sharp_data", "sharp_mean", "sharp_param")
    sums = dict.fromkeys(keys, 0.0)
    counts = {"black": 0, "white": 0}
    sigma_sum, sigma_n, gaussian = 0.0, 0, hasattr(lik, "normal")
    mus, recon_vals, inc_recon = [], [], []
    for i in range(0, n, bs):
        xi = x_int[i:i + bs]
        x01 = xi.float() / scale
        x = x01 * rng
        mu, logvar = vae.encode(x)
        out = vae.decode(vae.reparameterize(mu, logvar, g_post))
        sums["nll"] += float(lik.nll(x, out).double().sum())
        sums["kl"] += float(vae.kl(mu, logvar).double().sum())
        st = lik.stats(out, x=x)
        if "sigma_mean" in st:
            sigma_sum += float(st["sigma_mean"]) / rng * len(x)
            sigma_n += len(x)
        out_mu = vae.decode(mu)
        rec, par = lik.mean(out_mu) / rng, lik.param_image(out_mu) / rng
        sums["se_mean"] += float((rec - x01).double().square().sum())
        sums["se_param"] += float((par - x01).double().square().sum())
        for key, img in (("data", x01), ("mean", rec), ("param", par)):
            sums["sharp_" + key] += sharpness_sum(img)
        if gaussian:
            sums["outside"] += mass_outside(lik, out_mu, x, rng)
        spread.add(lik, out_mu, x)
        black, white = xi == 0, x01 >= WHITE
        for key, img in (("", rec), ("param_", par)):
            sums[key + "black"] += float(img[black].double().sum())
            sums[key + "white"] += float(img[white].double().sum())
        counts["black"] += int(black.sum())
        counts["white"] += int(white.sum())
        mus.append(mu.double().cpu())
        bank.add("recon", rec)
        recon_vals.append(rec.flatten().float().cpu())
        if inception is not None:
            from reconloss.evaluation.fid import inception_features

            inc_recon.append(inception_features(inception, rec).cpu())
    m["nll"], m["kl"] = sums["nll"] / n, sums["kl"] / n
    m["elbo"] = -(m["nll"] + m["kl"])
    m["mse_mean"], m["mse_param"] = sums["se_mean"] / (n * d), sums["se_param"] / (n * d)
    m["rmse"] = math.sqrt(m["mse_mean"])
    for key in ("data", "mean", "param"):
        m["sharpness_" + key] = sums["sharp_" + key] / n
    m["mass_outside"] = sums["outside"] / (n * d) if gaussian else None
    for key in ("", "param_"):
        m[key + "black_level"] = sums[key + "black"] / counts["black"] if counts["black"] else None
        m[key + "white_level"] = sums[key + "white"] / counts["white"] if counts["white"] else None
    xf = x_int.float().cpu() / scale
    m["data_black_level"] = 0.0 if counts["black"] else None
    m["data_white_level"] = float(xf[xf >= WHITE].double().mean()) if counts["white"] else None
    rv = torch.cat(recon_vals).numpy()
    m["recon_p01"], m["recon_p99"] = (float(v) for v in np.percentile(rv, [1, 99]))
    m["data_p01"], m["data_p99"] = (float(v) for v in np.percentile(xf.numpy(), [1, 99]))
    mus = torch.cat(mus)
    m["active_units"] = int((mus.var(dim=0, unbiased=False) > ACTIVE_THRESHOLD).sum()) if n > 1 else None
    m["sigma_mean"] = sigma_sum / sigma_n if sigma_n else None
    m.update(spread.metrics())
    m.update(bank.fids("fid_recon", "recon", "reconstruction FID"))
    del recon_vals
    return m, (torch.cat(inc_recon) if inception is not None else None)


@torch.no_grad()
def prior_pass(r, m):
    """Decoded prior samples: the sample FID of expected values, of parameter images and of the same
    samples with only their levels changed (`m` holds the test pass's percentiles), and their spread.
    Returns (metrics, kept samples, Inception features of the samples or None)."""
    vae, lik, device, rng, bs, ev = r.vae, r.lik, r.device, r.rng, r.bs, r.ev
    inception, bank = r.inception, Bank(r.nets)
    shape, seed = r.shape, r.seed
    m = dict(m)
    g_prior = _gen(device, seed, "prior")
    n_s = int(ev["fid_samples"])
    keep = max(int(ev["n_images"]), int(ev["n_sample_grid"]))
    kept, inc_samples = [], []
    # Level interventions (reconloss.evaluation.levels): the same samples, only their levels changed.
    interventions = {"stretched": ((m["recon_p01"], m["recon_p99"]), (m["data_p01"], m["data_p99"])),
                     "squeezed": ((0.0, 1.0), cb_mean_range())}
    s_sum = s_sq = 0.0
    for i in range(0, n_s, bs):
        z = torch.randn((min(bs, n_s - i), vae.latent_dim), device=device, generator=g_prior)
        out = vae.decode(z)
        s = lik.mean(out) / rng
        s_sum = s_sum + s.double().sum(0)
        s_sq = s_sq + s.double().square().sum(0)
        bank.add("sample", s, score=True)
        bank.add("param", lik.param_image(out) / rng)
        for key, (src, dst) in interventions.items():
            changed = remap(s, src, dst)
            if changed is not None:
                bank.add(key, changed, score=True)
        if sum(len(t) for t in kept) < keep:
            kept.append(s.float().cpu())
        if inception is not None:
            from reconloss.evaluation.fid import inception_features

            inc_samples.append(inception_features(inception, s).cpu())
    m.update(bank.fids("fid", "sample", "sample FID"))
    m.update(bank.fids("fid_param", "param", "parameter-image sample FID"))
    m.update(bank.scores("classifier_score", "sample"))
    for key in interventions:
        m.update(bank.fids("fid_" + key, key, f"{key} sample FID"))
        m.update(bank.scores("classifier_score_" + key, key))
    if n_s > 1:
        var = (s_sq - s_sum.square() / n_s) / (n_s - 1)
        m["sample_spread"] = float(var.clamp_min(0).sqrt().mean())
    samples = torch.cat(kept)[:keep] if kept else torch.zeros(0, *shape)
    return m, samples, (torch.cat(inc_samples) if inception is not None else None)


@torch.no_grad()
def showcase(r, samples):
    """The showcase test images (showcase_indices) with their expected-value and parameter reconstructions."""
    idx = showcase_indices(r.data["test_x"], r.y, r.scale, int(r.ev["n_images"]))
    x01 = r.x_int[idx.to(r.device)].float() / r.scale
    mu, _ = r.vae.encode(x01 * r.rng)
    out_mu = r.vae.decode(mu)
    return {"indices": idx, "original": x01.cpu(), "param": (r.lik.param_image(out_mu) / r.rng).float().cpu(),
            "mean": (r.lik.mean(out_mu) / r.rng).float().cpu(), "sample_mean": samples[:len(idx)].clone()}


def compute_metrics(vae, data, settings, nets, inception=None, inception_stats=None):
    """(metrics, images, extras) of a trained VAE; see the module docstring for definitions.

    nets: the dataset's FID classifiers (reconloss.evaluation.scores.FidNet: features of
    images in [0,1], logits, the test set's statistics), classifier 0 first;
    inception / inception_stats: the optional Inception network and the test set's
    statistics under it.
    """
    from reconloss.evaluation.outcome import outcome

    r = Run(vae, data, settings, list(nets), inception, inception_stats)
    m, inc_recon = test_pass(r)
    # bits per dimension of the levels (valid likelihoods only; reconloss.evaluation.bits)
    with torch.no_grad():
        m.update(bits_per_dim(vae, r.x_int, r.scale, int(r.ev["iw_samples"]), r.bs, _gen(r.device, r.seed, "dequantize"),
                              _gen(r.device, r.seed, "iw"), r.rng))
    m, samples, inc_samples = prior_pass(r, m)
    m.update(Bank(r.nets).data_scores())
    if inception is not None:
        m["fid_inception"] = fid_or_none(inc_samples, *inception_stats, "Inception sample FID")
        m["fid_inception_recon"] = fid_or_none(inc_recon, *inception_stats, "Inception recon FID")
    images = showcase(r, samples)
    if r.shape[0] == 3:  # RGB: the colour metrics (reconloss.evaluation.colour); grey data sets are unchanged
        from reconloss.evaluation.colour import colour_pass

        colour, colour_images = colour_pass(r)
        m.update(colour)
        images.update(colour_images)
    m = {k: (_finite_or_none(v) if isinstance(v, float) else v) for k, v in m.items()}
    m["outcome"] = outcome({"status": "ok", **m})
    return m, images, {"samples_grid": samples[:int(r.ev["n_sample_grid"])]}
