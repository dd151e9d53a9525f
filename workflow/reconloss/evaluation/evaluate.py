"""The evaluate job: every run of a pack evaluated against data and FID networks loaded once.

What each metric means, and how it is computed, is in reconloss.evaluation.metrics. A run
that diverged in training gets its row (status diverged, metrics null) and placeholder
images; evaluation never fails the workflow for it.

--classifier-dir takes the dataset's FID classifiers, classifier 0 first (the one whose
values the unsuffixed FID columns keep; its metrics.json gives feature_dim and its folder
the optional Inception statistics); every FID is also written per classifier
(reconloss.evaluation.scores).
"""
import argparse
import json
import logging
import time
from pathlib import Path

import numpy as np
import torch

from reconloss import io

from reconloss.training import packs
from reconloss.settings import EVAL_DEFAULTS
from reconloss.training.device import denormals_flushed, resolve_device
from reconloss.evaluation.metrics import compute_metrics, metric_keys
from reconloss.evaluation.settling import read_trends
from reconloss.evaluation import kept

log = logging.getLogger(__name__)



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


def classifier_dirs(classifier_dir) -> list:
    """The classifier folders as a list of Paths, classifier 0 first; one folder may be given alone."""
    dirs = [classifier_dir] if isinstance(classifier_dir, (str, Path)) else list(classifier_dir)
    if not dirs:
        raise ValueError("no classifier folder given")
    return [Path(d) for d in dirs]


def base_row(settings, status, classifier_dir):
    from reconloss.likelihoods import LIKELIHOODS

    dirs = classifier_dirs(classifier_dir)
    name = settings.get("likelihood_name")
    cls = LIKELIHOODS.get(name)
    feature_dim = None
    cm = dirs[0] / "metrics.json"
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
        "classifiers": len(dirs), **{k: None for k in metric_keys(len(dirs))},
    }


def with_trends(row, run_dir):
    """The row with loss_trend and sigma_trend of the run's log.csv (reconloss.evaluation.settling)."""
    return {**row, **read_trends(Path(run_dir) / "log.csv")}


def _data_shape(run_dir, data_path):
    try:
        return tuple(torch.load(Path(run_dir) / "model.pt", map_location="cpu", weights_only=True)["data_shape"])
    except (FileNotFoundError, KeyError, RuntimeError):
        from reconloss.data.datasets import data_shape, load_dataset

        return data_shape(load_dataset(data_path))


def _inception_setup(ev, data, classifier_dir, device):
    """(network, (mu, sigma) of the test set) when evaluate.inception_weights names a file, else (None, None).

    The test statistics come from classifier_dir/inception_stats.npz when the
    classifier rule wrote them, otherwise they are computed here.
    """
    path = ev.get("inception_weights")
    if not path:
        return None, None
    from reconloss.evaluation.fid import feature_stats, inception_features, load_inception

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


def load_nets(classifier_dir, data, device) -> list:
    """The FID classifiers (reconloss.evaluation.scores.FidNet), classifier 0 first, with their cached test
    statistics and the test set's classifier score from metrics.json (computed here, one pass over the
    test set, for a classifier trained before metrics.json had it)."""
    from reconloss.evaluation.classifier import load_feature_extractor
    from reconloss.evaluation.scores import fid_net

    x01 = data["test_x"].float() / float(data["scale"])
    nets = []
    for d in classifier_dirs(classifier_dir):
        extract = load_feature_extractor(d, device)
        st = np.load(d / "test_stats.npz")
        cached = io.read_json(d / "metrics.json").get("test_classifier_score") if (d / "metrics.json").exists() \
            else None
        nets.append(fid_net(extract, extract.logits, x01, (st["mu"], st["sigma"]), cached))
    return nets


def _load_shared(data_path, classifier_dir, ev):
    """What every run of a pack is evaluated against, loaded once: test data, the mask of always-black
    pixels, the classifiers and their statistics."""
    from reconloss.data.datasets import load_dataset
    from reconloss.evaluation.sigma import always_black

    device = resolve_device(ev["device"])
    full = load_dataset(data_path)
    data = {k: full[k] for k in ("name", "test_x", "test_y", "scale", "classes")}
    data["always_black"] = always_black(full["train_x"])
    del full
    nets = load_nets(classifier_dir, data, device)
    inception, inception_stats = _inception_setup(ev, data, classifier_dirs(classifier_dir)[0], device)
    return {"device": device, "data": data, "nets": nets, "inception": inception,
            "inception_stats": inception_stats}


def evaluate_run(data_path, run_dir, classifier_dir, settings, shared=None) -> dict:
    """Evaluate one run; write metrics.json, images.pt, reconstructions.png, samples.png; return the row.
    `shared` is what _load_shared returns, when a pack's runs are evaluated together."""
    t0 = time.perf_counter()
    run_dir = Path(run_dir)
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

    from reconloss.training.train import load_trained

    row = with_trends(row, run_dir)
    torch.distributions.Distribution.set_default_validate_args(False)
    shared = shared or _load_shared(data_path, classifier_dir, ev)
    torch.manual_seed(int(settings.get("seed", 0)))
    vae, _, _ = load_trained(run_dir, shared["device"])
    m, images, extra = compute_metrics(vae, shared["data"], settings, shared["nets"], shared["inception"],
                                       shared["inception_stats"])
    row.update(m)
    row["eval_seconds"] = time.perf_counter() - t0
    _write_outputs(run_dir, row, images, extra["samples_grid"], 8)
    log.info("%s: %s", run_dir, json.dumps({k: row[k] for k in ("elbo", "iw_bpd", "fid", "fid_recon")}))
    return row


def evaluate_pack(data_path, runs, classifier_dir) -> list:
    """Evaluate the runs [(run_dir, settings), ...] of one pack, loading data and classifier once.

    A member whose evaluation was computed from exactly what it would be computed from now
    keeps it (reconloss.evaluation.kept): a follow-up round that adds runs to a pack
    evaluates only the new ones."""
    if not runs:
        return []
    # a pack's runs share their evaluate settings (the data set's), so the first run's stand for all
    ev = {**EVAL_DEFAULTS, **(runs[0][1].get("evaluate") or {})}
    base = kept.shared_record(data_path, classifier_dirs(classifier_dir), ev.get("inception_weights"))
    shared, rows, n_kept = None, [], 0
    with denormals_flushed():  # trained weights hold denormals, slow on a CPU
        for i, (run_dir, settings) in enumerate(runs):
            record = kept.run_record(base, run_dir, settings)
            row = kept.kept_row(run_dir, record)
            if row is not None:
                rows.append(row)
                n_kept += 1
                log.info("evaluated %d/%d runs (%s kept: its inputs are unchanged)", i + 1, len(runs), run_dir)
                continue
            if shared is None and io.read_json(Path(run_dir) / "status.json").get("status") == "ok":
                shared = _load_shared(data_path, classifier_dir, ev)
            kept.forget(run_dir)
            rows.append(evaluate_run(data_path, run_dir, classifier_dir, settings, shared))
            kept.remember(run_dir, record)
            log.info("evaluated %d/%d runs", i + 1, len(runs))
    if n_kept:
        log.info("%d of %d runs kept their evaluation", n_kept, len(runs))
    return rows


def main(argv):
    p = argparse.ArgumentParser(prog="reconloss evaluate", description=__doc__.splitlines()[0])
    p.add_argument("--data", required=True, help="results/data/{dataset}.pt")
    p.add_argument("--classifier-dir", required=True, nargs="+",
                   help="results/classifier/{dataset} and the folders of its further classifiers, classifier 0 first")
    packs.add_arguments(p)
    args = p.parse_args(argv)
    runs = packs.runs_from(p, args)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    evaluate_pack(args.data, runs, args.classifier_dir)
