"""A fabricated results tree in the layout the workflow writes, for the figure/table/report tests.

The numbers follow the study's story so the figures can be read, not just
produced: CB reconstructions are desaturated (expected value pulled towards
0.5) while its parameter image is sharp, FID is U-shaped in β, one likelihood
only ever diverges, one Gaussian learns σ. Nothing here trains anything.
"""

import csv
import json
import math
from pathlib import Path

import numpy as np
import torch

LIKELIHOODS = ["gaussian_fixed", "gaussian_learned_global", "bernoulli", "continuous_bernoulli", "beta"]
BETAS = [0.25, 1.0, 4.0]
SEEDS = [0, 1]
N_IMAGES = 16


def run_dir(root, dataset, likelihood, beta, seed):
    return Path(root) / "runs" / dataset / likelihood / f"beta~{beta:g}" / f"seed~{seed}"


def _originals(dataset, rng):
    if dataset == "digits":
        from sklearn.datasets import load_digits

        x = load_digits().images[:N_IMAGES] / 16.0
        return torch.tensor(x, dtype=torch.float32).unsqueeze(1)  # (n,1,8,8)
    if dataset in ("mnist", "fashion_mnist"):
        from sklearn.datasets import load_digits

        x = torch.tensor(load_digits().images[:N_IMAGES] / 16.0, dtype=torch.float32).unsqueeze(1)
        return torch.nn.functional.interpolate(x, size=(28, 28), mode="bilinear").clamp(0, 1)
    # a small colour dataset: smooth blobs on black with saturated highlights
    yy, xx = np.mgrid[0:32, 0:32] / 31.0
    imgs = []
    for _ in range(N_IMAGES):
        cx, cy, r = rng.uniform(0.3, 0.7, 2).tolist() + [rng.uniform(0.15, 0.3)]
        blob = np.clip(1.5 - np.hypot(xx - cx, yy - cy) / r, 0, 1)
        colour = rng.uniform(0, 1, 3)
        imgs.append(blob[None] * colour[:, None, None])
    return torch.tensor(np.stack(imgs), dtype=torch.float32)


def _blur(x):
    k = torch.tensor([[1.0, 2.0, 1.0], [2.0, 4.0, 2.0], [1.0, 2.0, 1.0]]) / 16.0
    c = x.shape[1]
    w = k.expand(c, 1, 3, 3).contiguous()
    return torch.nn.functional.conv2d(torch.nn.functional.pad(x, (1, 1, 1, 1), mode="replicate"), w, groups=c)


def _reconstruct(likelihood, x, beta):
    """(param image, expected value) with each likelihood's visible signature."""
    blur = x
    for _ in range(int(round(math.log2(beta) + 1))):  # more blur at larger β
        blur = _blur(blur)
    if likelihood == "continuous_bernoulli":
        lam = blur.clamp(0.02, 0.98)
        # E[x] of CB is pulled towards 0.5 away from λ: the desaturation the study shows
        return lam, 0.5 + 0.55 * (lam - 0.5)
    if likelihood == "bernoulli":
        return blur, blur
    return blur.clamp(0, 1), blur.clamp(0, 1)


def make_results_tree(root, datasets=("digits", "cifar10"), likelihoods=LIKELIHOODS, betas=BETAS,
                      seeds=SEEDS):
    """Write results/runs/... and results/classifier/...; return the list of metrics.json paths.

    Gaussians other than gaussian_fixed log a σ; `beta` always diverges; the learned-σ
    Gaussian diverges at the smallest β for seed 1; bernoulli collapses at the largest β for seed 0.
    """
    root = Path(root)
    sigma_likelihoods = {lik for lik in likelihoods if lik.startswith("gaussian_") and lik != "gaussian_fixed"}
    metrics_paths = []
    for d_i, dataset in enumerate(datasets):
        rng = np.random.default_rng(d_i)
        x = _originals(dataset, rng)
        data_black, data_white = 0.0, 1.0
        cdir = root / "classifier" / dataset
        cdir.mkdir(parents=True, exist_ok=True)
        (cdir / "metrics.json").write_text(json.dumps({"dataset": dataset, "test_accuracy": 0.95,
                                                       "feature_dim": 64}))
        for l_i, likelihood in enumerate(likelihoods):
            for beta in betas:
                for seed in seeds:
                    rdir = run_dir(root, dataset, likelihood, beta, seed)
                    rdir.mkdir(parents=True, exist_ok=True)
                    diverged = likelihood == "beta" or (
                        likelihood == "gaussian_learned_global" and beta == min(betas) and seed == 1)
                    div_epoch = (2 + l_i) if diverged else None
                    collapsed = likelihood == "bernoulli" and beta == max(betas) and seed == 0
                    epochs = 6
                    noise = float(rng.normal(0, 2))
                    fid = 20 + 5 * l_i + 8 * (math.log(beta) - 0.8 * (l_i - 2)) ** 2 + noise
                    if dataset != "digits":
                        fid *= 3
                    param, mean = _reconstruct(likelihood, x, beta)
                    samples = _reconstruct(likelihood, x.flip(0).roll(1, dims=-1), 2 * beta)[1]
                    black = float(mean[x < 0.05].mean()) if (x < 0.05).any() else math.nan
                    white = float(mean[x > 0.95].mean()) if (x > 0.95).any() else math.nan
                    sigma = 0.3 * beta ** 0.5 if likelihood in sigma_likelihoods else None
                    metrics = {
                        "dataset": dataset, "likelihood": likelihood, "likelihood_name": likelihood,
                        "beta": beta, "seed": seed, "status": "diverged" if diverged else "ok",
                        "diverged_epoch": div_epoch, "diverged_step": div_epoch * 20 if diverged else None,
                        "valid_density": likelihood != "bernoulli",
                        "epochs": div_epoch - 1 if diverged else epochs, "train_seconds": 3.5,
                        "nll": -100.0 + l_i, "kl": 10.0 / beta, "elbo": 90.0, "bpd": 1.2, "iw_ll": 95.0,
                        "iw_bpd": 1.1, "iw_k": 20, "fid": fid, "fid_recon": fid / 2, "fid_samples": 2000,
                        "mse_mean": float(((mean - x) ** 2).mean()),
                        "mse_param": float(((param - x) ** 2).mean()),
                        "black_level": black, "white_level": white,
                        "data_black_level": data_black, "data_white_level": data_white,
                        "recon_p01": float(mean.quantile(0.01)), "recon_p99": float(mean.quantile(0.99)),
                        "data_p01": 0.0, "data_p99": 1.0, "active_units": 5, "sigma_mean": sigma,
                        "feature_dim": 64, "rmse": float(((mean - x) ** 2).mean().sqrt()),
                        "param_black_level": float(param[x < 0.05].mean()) if (x < 0.05).any() else math.nan,
                        "param_white_level": float(param[x > 0.95].mean()) if (x > 0.95).any() else math.nan,
                        "sample_spread": 0.2,
                    }
                    if collapsed:  # finished, but the decoder ignores z: outcome collapsed (tables derive it)
                        metrics.update(active_units=0, sample_spread=1e-5)
                    if diverged:
                        for k in ("nll", "kl", "elbo", "bpd", "iw_ll", "iw_bpd", "fid", "fid_recon", "mse_mean",
                                  "mse_param", "black_level", "white_level", "recon_p01", "recon_p99",
                                  "active_units", "sigma_mean", "rmse", "param_black_level",
                                  "param_white_level", "sample_spread"):
                            metrics[k] = None
                        empty = torch.empty((0,) + tuple(x.shape[1:]))
                        images = {"indices": torch.empty(0, dtype=torch.int64), "original": empty,
                                  "param": empty, "mean": empty, "sample_mean": empty}
                    else:
                        images = {"indices": torch.arange(N_IMAGES), "original": x, "param": param,
                                  "mean": mean, "sample_mean": samples}
                    (rdir / "metrics.json").write_text(json.dumps(metrics, indent=1))
                    torch.save(images, rdir / "images.pt")
                    (rdir / "status.json").write_text(json.dumps({
                        "status": metrics["status"], "epochs_completed": metrics["epochs"],
                        "diverged_epoch": div_epoch}))
                    with open(rdir / "log.csv", "w", newline="") as f:
                        cols = ["epoch", "loss", "nll", "kl", "seconds", "images_per_second"]
                        if likelihood in sigma_likelihoods:
                            cols += ["sigma_mean", "sigma_min", "sigma_max"]
                        w = csv.writer(f)
                        w.writerow(cols)
                        last = (div_epoch - 1) if diverged else epochs
                        for epoch in range(1, last + 1):
                            row = [epoch, 100 / epoch, 90 / epoch, 10.0, 0.5, 3000.0]
                            if likelihood in sigma_likelihoods:
                                s = 1.0 * (sigma / 1.0) ** (epoch / epochs) if sigma else 1.0 / epoch
                                row += [s, 0.8 * s, 1.2 * s]
                            w.writerow(row)
                    metrics_paths.append(rdir / "metrics.json")
    return metrics_paths


def summary_row(likelihood, beta, seed, fid=20.0, outcome="ok", dataset="mnist", likelihood_name=None, **metrics):
    """One summary.csv row with the columns the claims read; a diverged run has no metrics."""
    row = {"dataset": dataset, "likelihood": likelihood, "likelihood_name": likelihood_name or likelihood,
           "beta": float(beta), "seed": int(seed), "status": "diverged" if outcome == "diverged" else "ok",
           "outcome": outcome, "fid": fid, "black_level": 0.02, "white_level": 0.95, "param_black_level": 0.02,
           "param_white_level": 0.95, "data_black_level": 0.0, "data_white_level": 1.0, "sigma_mean": math.nan,
           "rmse": 0.1, "active_units": 5, "kl": 20.0, "mse_mean": 0.02, "recon_p01": 0.0, "recon_p99": 0.97,
           "sharpness_data": 0.05, "sharpness_mean": 0.03, "sharpness_param": 0.04, "loss_trend": 0.001,
           "sigma_trend": 0.001, "epochs": 20, "diverged_epoch": math.nan}
    row.update(metrics)
    for key in ("fid_param", "fid_recon", "fid_stretched", "fid_squeezed"):
        row.setdefault(key, row["fid"])
    if outcome == "diverged":
        row.update({k: math.nan for k in row if k not in ("dataset", "likelihood", "likelihood_name", "beta",
                                                            "seed", "status", "outcome", "data_black_level",
                                                            "data_white_level")})
    return row


def fake_summary(rows):
    """A summary table (pandas) from summary_row dicts, as tables.summary_frame would give."""
    import pandas as pd

    return pd.DataFrame(rows)
