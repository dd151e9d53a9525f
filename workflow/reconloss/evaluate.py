"""Every metric of one trained run: one flat row of the summary, and its images.

The data convention (levels k, x = k / scale * data_range) and what bits per
dimension mean are written once, in reconloss.bits. What each number means (all
on the test set):

- nll, kl, elbo: per image, in nats, on the test data exactly as training saw it
  (x = k / scale * data_range), one posterior sample per image; elbo = -(nll + kl),
  with beta = 1 whatever the run's beta (it is the bound, not the training loss).
- iw_ll, iw_bpd, bpd: see reconloss.bits; null for non-densities (valid_density
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
  neighbouring pixels (reconloss.levels.sharpness_sum) of the test images, of their
  expected-value and of their parameter-image reconstructions: a parameter image
  sharper than the data it reconstructs is over-sharpened.
- fid_stretched, fid_squeezed: the sample FID of the same decoded expected values
  with only their levels changed (reconloss.levels): stretched from the run's own
  reconstruction range (recon_p01..recon_p99) onto the data's (data_p01..data_p99),
  and squeezed from [0, 1] into the range a default continuous Bernoulli's expected
  value can reach (0.1085..0.8915). They tell whether FID sees desaturation.
- loss_trend, sigma_trend: how much the training loss and log σ still moved per epoch
  over the last epochs of log.csv (reconloss.settling); null with too few epochs.
- outcome: ok, collapsed or diverged (reconloss.outcome); status stays training's.

Randomness (posterior samples, dequantization noise, prior samples) comes from
generators seeded from the run's seed, so the numbers repeat on a CPU. A run
that diverged in training gets its row (status diverged, metrics null) and
placeholder images; evaluation never fails the workflow for it.
"""

import argparse
import json
import logging
import math
import time
from pathlib import Path

import numpy as np
import torch

from reconloss import io, packs
from reconloss.bits import bits_per_dim, dequantize, importance_weighted  # noqa: F401 (tests use both)
from reconloss.device import resolve_device
from reconloss.levels import cb_mean_range, remap, sharpness_sum
from reconloss.settling import read_trends

log = logging.getLogger(__name__)

# The defaults of the `evaluate` settings, defined once in reconloss.settings.Evaluate.
from reconloss.settings import EVAL_DEFAULTS  # noqa: E402
METRIC_KEYS = ["nll", "kl", "elbo", "bpd", "iw_ll", "iw_bpd", "fid", "fid_param", "fid_recon", "mse_mean",
               "mse_param", "rmse", "black_level", "white_level", "param_black_level", "param_white_level",
               "data_black_level", "data_white_level", "recon_p01", "recon_p99", "data_p01", "data_p99",
               "mass_outside", "active_units", "sample_spread", "sigma_mean", "fid_inception",
               "fid_inception_recon", "sharpness_data", "sharpness_mean", "sharpness_param", "fid_stretched",
               "fid_squeezed", "loss_trend", "sigma_trend"]
ACTIVE_THRESHOLD = 0.01
WHITE = 0.99


def _gen(device, seed, stream):
    from reconloss.step import derived_seed

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
    y = y.cpu()
    classes = sorted(set(y.tolist()))
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


def _fid_or_none(feats, mu_ref, sigma_ref, what):
    from reconloss.fid import check_sample_size, feature_stats, frechet_distance

    if feats is None or len(feats) < 2 or not torch.isfinite(feats).all():
        log.warning("%s: non-finite or too few features, FID is null", what)
        return None
    check_sample_size(len(feats), feats.shape[1], what)
    return _finite_or_none(frechet_distance(*feature_stats(feats), mu_ref, sigma_ref))


def _placeholder(path, text="diverged", size=(256, 64)):
    from PIL import Image, ImageDraw

    img = Image.new("RGB", size, (255, 255, 255))
    ImageDraw.Draw(img).text((10, size[1] // 2 - 6), text, fill=(200, 0, 0))
    with io.atomic_path(path) as tmp:
        img.save(tmp, format="PNG")


def _save_grid(path, images, nrow, min_size=32):
    """A grid PNG; small images (digits' 8x8) are enlarged by whole pixels to stay legible."""
    from torchvision.utils import save_image

    factor = max(1, min_size // images.shape[-1])
    if factor > 1:
        images = torch.nn.functional.interpolate(images, scale_factor=factor, mode="nearest")
    with io.atomic_path(path) as tmp:
        save_image(images.clamp(0, 1), tmp, nrow=nrow, padding=1, pad_value=0.5, format="png")


def base_row(settings, status, classifier_dir):
    from reconloss.likelihoods import LIKELIHOODS

    name = settings.get("likelihood_name")
    cls = LIKELIHOODS.get(name)
    feature_dim = None
    cm = Path(classifier_dir) / "metrics.json"
    if cm.exists():
        feature_dim = io.read_json(cm).get("feature_dim")
    ev = {**EVAL_DEFAULTS, **(settings.get("evaluate") or {})}
    return {
        "dataset": settings.get("dataset"), "likelihood": settings.get("likelihood"), "likelihood_name": name,
        "beta": settings.get("beta"), "seed": settings.get("seed"), "status": status.get("status"),
        "outcome": status.get("status"),
        "diverged_epoch": status.get("diverged_epoch"), "diverged_step": status.get("diverged_step"),
        "valid_density": bool(getattr(cls, "valid_density", True)), "epochs": status.get("epochs_completed"),
        "train_seconds": status.get("train_seconds"), "iw_k": int(ev["iw_samples"]),
        "fid_samples": int(ev["fid_samples"]), "feature_dim": feature_dim,
        **{k: None for k in METRIC_KEYS},
    }


def with_trends(row, run_dir):
    """The row with loss_trend and sigma_trend of the run's log.csv (reconloss.settling)."""
    return {**row, **read_trends(Path(run_dir) / "log.csv")}


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


@torch.no_grad()
def compute_metrics(vae, data, settings, extractor, test_stats, inception=None, inception_stats=None):
    """(metrics, images, extras) of a trained VAE; see the module docstring for definitions.

    extractor: classifier features of images in [0,1]; test_stats: (mu, sigma) of the
    test set's features; inception / inception_stats: the optional Inception network
    and the test set's statistics under it.
    """
    from reconloss.outcome import outcome

    ev = {**EVAL_DEFAULTS, **(settings.get("evaluate") or {})}
    seed = int(settings.get("seed", 0))
    lik = vae.likelihood
    device = next(vae.parameters()).device
    x_int, y = data["test_x"].to(device), data["test_y"]
    scale = float(data["scale"])
    rng = data_range_of(settings)
    n, shape = len(x_int), tuple(x_int.shape[1:])
    d = math.prod(shape)
    bs = int(ev["batch_size"])
    m = {}

    # --- test pass on the data as trained: NLL/KL, reconstructions, latents ------------
    g_post = _gen(device, seed, "posterior")
    keys = ("nll", "kl", "se_mean", "se_param", "black", "white", "param_black", "param_white", "outside",
            "sharp_data", "sharp_mean", "sharp_param")
    sums = dict.fromkeys(keys, 0.0)
    counts = {"black": 0, "white": 0}
    sigma_sum, sigma_n, gaussian = 0.0, 0, hasattr(lik, "normal")
    mus, recon_feats, recon_vals, inc_recon = [], [], [], []
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
        black, white = xi == 0, x01 >= WHITE
        for key, img in (("", rec), ("param_", par)):
            sums[key + "black"] += float(img[black].double().sum())
            sums[key + "white"] += float(img[white].double().sum())
        counts["black"] += int(black.sum())
        counts["white"] += int(white.sum())
        mus.append(mu.double().cpu())
        recon_feats.append(extractor(rec).float().cpu())
        recon_vals.append(rec.flatten().float().cpu())
        if inception is not None:
            from reconloss.fid import inception_features

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
    m["fid_recon"] = _fid_or_none(torch.cat(recon_feats), *test_stats, "reconstruction FID")
    del recon_vals

    # --- bits per dimension of the levels (valid likelihoods only; reconloss.bits) --------------
    m.update(bits_per_dim(vae, x_int, scale, int(ev["iw_samples"]), bs, _gen(device, seed, "dequantize"),
                          _gen(device, seed, "iw"), rng))

    # --- samples from the prior: sample FID of expected values and of parameter images ---------
    g_prior = _gen(device, seed, "prior")
    n_s = int(ev["fid_samples"])
    keep = max(int(ev["n_images"]), int(ev["n_sample_grid"]))
    sample_feats, param_feats, kept, inc_samples = [], [], [], []
    # Level interventions (reconloss.levels): the same samples, only their levels changed.
    interventions = {"stretched": ((m["recon_p01"], m["recon_p99"]), (m["data_p01"], m["data_p99"])),
                     "squeezed": ((0.0, 1.0), cb_mean_range())}
    level_feats = {key: [] for key in interventions}
    s_sum = s_sq = 0.0
    for i in range(0, n_s, bs):
        z = torch.randn((min(bs, n_s - i), vae.latent_dim), device=device, generator=g_prior)
        out = vae.decode(z)
        s = lik.mean(out) / rng
        s_sum = s_sum + s.double().sum(0)
        s_sq = s_sq + s.double().square().sum(0)
        sample_feats.append(extractor(s).float().cpu())
        param_feats.append(extractor(lik.param_image(out) / rng).float().cpu())
        for key, (src, dst) in interventions.items():
            changed = remap(s, src, dst)
            if changed is not None:
                level_feats[key].append(extractor(changed).float().cpu())
        if sum(len(t) for t in kept) < keep:
            kept.append(s.float().cpu())
        if inception is not None:
            from reconloss.fid import inception_features

            inc_samples.append(inception_features(inception, s).cpu())
    m["fid"] = _fid_or_none(torch.cat(sample_feats) if sample_feats else None, *test_stats, "sample FID")
    m["fid_param"] = _fid_or_none(torch.cat(param_feats) if param_feats else None, *test_stats,
                                  "parameter-image sample FID")
    for key, feats in level_feats.items():
        m["fid_" + key] = _fid_or_none(torch.cat(feats) if feats else None, *test_stats, f"{key} sample FID")
    if n_s > 1:
        var = (s_sq - s_sum.square() / n_s) / (n_s - 1)
        m["sample_spread"] = float(var.clamp_min(0).sqrt().mean())
    samples = torch.cat(kept)[:keep] if kept else torch.zeros(0, *shape)

    if inception is not None:
        m["fid_inception"] = _fid_or_none(torch.cat(inc_samples), *inception_stats, "Inception sample FID")
        m["fid_inception_recon"] = _fid_or_none(torch.cat(inc_recon), *inception_stats, "Inception recon FID")
    m = {k: (_finite_or_none(v) if isinstance(v, float) else v) for k, v in m.items()}
    m["outcome"] = outcome({"status": "ok", **m})

    # --- showcase images -------------------------------------------------------------------------
    idx = showcase_indices(data["test_x"], y, scale, int(ev["n_images"]))
    x01 = x_int[idx.to(device)].float() / scale
    mu, _ = vae.encode(x01 * rng)
    out_mu = vae.decode(mu)
    images = {"indices": idx, "original": x01.cpu(), "param": (lik.param_image(out_mu) / rng).float().cpu(),
              "mean": (lik.mean(out_mu) / rng).float().cpu(), "sample_mean": samples[:len(idx)].clone()}
    return m, images, {"samples_grid": samples[:int(ev["n_sample_grid"])]}


def _data_shape(run_dir, data_path):
    try:
        return tuple(torch.load(Path(run_dir) / "model.pt", map_location="cpu", weights_only=True)["data_shape"])
    except (FileNotFoundError, KeyError, RuntimeError):
        from reconloss.data import data_shape, load_dataset

        return data_shape(load_dataset(data_path))


def _inception_setup(ev, data, classifier_dir, device):
    """(network, (mu, sigma) of the test set) when evaluate.inception_weights names a file, else (None, None).

    The test statistics come from classifier_dir/inception_stats.npz when the
    classifier rule wrote them, otherwise they are computed here.
    """
    path = ev.get("inception_weights")
    if not path:
        return None, None
    from reconloss.fid import feature_stats, inception_features, load_inception

    net = load_inception(path, device, dims=int(ev["inception_dims"]))
    cached = Path(classifier_dir) / "inception_stats.npz"
    if cached.exists():
        st = np.load(cached)
        if st["mu"].shape == (int(ev["inception_dims"]),):
            return net, (st["mu"], st["sigma"])
    x = data["test_x"].float() / float(data["scale"])
    return net, feature_stats(inception_features(net, x))


def _write_outputs(run_dir, row, images, grid, n_cols):
    run_dir = Path(run_dir)
    io.torch_save(images, run_dir / "images.pt")
    if len(images["original"]):
        rows = torch.cat([images["original"], images["mean"], images["param"]])
        _save_grid(run_dir / "reconstructions.png", rows, nrow=len(images["original"]))
    else:
        _placeholder(run_dir / "reconstructions.png", f"{row['status']}: no reconstructions")
    if len(grid):
        _save_grid(run_dir / "samples.png", grid, nrow=max(1, min(n_cols, len(grid))))
    else:
        _placeholder(run_dir / "samples.png", f"{row['status']}: no samples")
    io.write_json(run_dir / "metrics.json", row)


def _load_shared(data_path, classifier_dir, ev):
    """What every run of a pack is evaluated against, loaded once: test data, classifier, statistics."""
    from reconloss.classifier import load_feature_extractor
    from reconloss.data import load_dataset

    device = resolve_device(ev["device"])
    data = load_dataset(data_path)
    data = {k: data[k] for k in ("name", "test_x", "test_y", "scale", "classes")}
    extractor = load_feature_extractor(classifier_dir, device)
    st = np.load(Path(classifier_dir) / "test_stats.npz")
    inception, inception_stats = _inception_setup(ev, data, classifier_dir, device)
    return {"device": device, "data": data, "extractor": extractor, "test_stats": (st["mu"], st["sigma"]),
            "inception": inception, "inception_stats": inception_stats}


def evaluate_run(data_path, run_dir, classifier_dir, settings, shared=None) -> dict:
    """Evaluate one run; write metrics.json, images.pt, reconstructions.png, samples.png; return the row.
    `shared` is what _load_shared returns, when a pack's runs are evaluated together."""
    t0 = time.perf_counter()
    run_dir, classifier_dir = Path(run_dir), Path(classifier_dir)
    status = io.read_json(run_dir / "status.json")
    row = base_row(settings, status, classifier_dir)
    ev = {**EVAL_DEFAULTS, **(settings.get("evaluate") or {})}
    if status.get("status") != "ok":
        shape = _data_shape(run_dir, data_path)
        empty = torch.zeros(0, *shape)
        images = {"indices": torch.zeros(0, dtype=torch.int64), "original": empty, "param": empty.clone(),
                  "mean": empty.clone(), "sample_mean": empty.clone()}
        row["eval_seconds"] = time.perf_counter() - t0
        _write_outputs(run_dir, row, images, empty, 8)
        log.info("%s: %s run, metrics null", run_dir, status.get("status"))
        return row

    from reconloss.train import load_trained

    row = with_trends(row, run_dir)
    torch.distributions.Distribution.set_default_validate_args(False)
    shared = shared or _load_shared(data_path, classifier_dir, ev)
    torch.manual_seed(int(settings.get("seed", 0)))
    vae, _, _ = load_trained(run_dir, shared["device"])
    m, images, extra = compute_metrics(vae, shared["data"], settings, shared["extractor"], shared["test_stats"],
                                       shared["inception"], shared["inception_stats"])
    row.update(m)
    row["eval_seconds"] = time.perf_counter() - t0
    _write_outputs(run_dir, row, images, extra["samples_grid"], 8)
    log.info("%s: %s", run_dir, json.dumps({k: row[k] for k in ("elbo", "iw_bpd", "fid", "fid_recon")}))
    return row


def evaluate_pack(data_path, runs, classifier_dir) -> list:
    """Evaluate the runs [(run_dir, settings), ...] of one pack, loading data and classifier once."""
    shared, rows = None, []
    for i, (run_dir, settings) in enumerate(runs):
        if shared is None and io.read_json(Path(run_dir) / "status.json").get("status") == "ok":
            shared = _load_shared(data_path, classifier_dir, {**EVAL_DEFAULTS, **(settings.get("evaluate") or {})})
        rows.append(evaluate_run(data_path, run_dir, classifier_dir, settings, shared))
        log.info("evaluated %d/%d runs", i + 1, len(runs))
    return rows


def main(argv):
    p = argparse.ArgumentParser(prog="reconloss evaluate", description=__doc__.splitlines()[0])
    p.add_argument("--data", required=True, help="results/data/{dataset}.pt")
    p.add_argument("--classifier-dir", required=True, help="results/classifier/{dataset}")
    packs.add_arguments(p)
    args = p.parse_args(argv)
    runs = packs.runs_from(p, args)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    evaluate_pack(args.data, runs, args.classifier_dir)
