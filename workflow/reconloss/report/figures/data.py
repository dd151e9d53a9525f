"""What the figures draw from: the summary table and each run's files (images.pt, log.csv).

Kept apart from the drawing so that locating runs on disk and reading their
files has one home: a run's directory is named by the workflow
(RUNS_ROOT/{dataset}/{likelihood}/beta~{b}/seed~{s}), and a missing or empty
file reads as None, never an error, since a diverged run is a result.
"""

from pathlib import Path


def parse_run_dir(path):
    """(dataset, likelihood, beta, seed) of RUNS_ROOT/{dataset}/{likelihood}/beta~{b}/seed~{s}."""
    path = Path(path)
    seed_part, beta_part = path.name, path.parent.name
    if not (seed_part.startswith("seed~") and beta_part.startswith("beta~")):
        raise ValueError(f"not a run directory: {path}")
    return (path.parent.parent.parent.name, path.parent.parent.name,
            float(beta_part.split("~", 1)[1]), int(seed_part.split("~", 1)[1]))


def _key(dataset, likelihood, beta, seed):
    # β is formatted by the workflow (1, 1.0, 1e-3...): compare numbers, not strings
    return (str(dataset), str(likelihood), f"{float(beta):.10g}", int(seed))


class Runs:
    """Locates each run's directory under runs_root and loads its images and training log."""

    def __init__(self, runs_root, run_dirs=()):
        """run_dirs: [dataset, label, β, seed, dir] of rows whose folder is not their label (reconloss.plan.runs)."""
        self.dirs = {}
        root = Path(runs_root)
        if root.is_dir():
            for d in root.glob("*/*/beta~*/seed~*"):
                try:
                    self.dirs[_key(*parse_run_dir(d))] = d
                except ValueError:
                    continue
        for dataset, label, beta, seed, d in run_dirs:
            self.dirs[_key(dataset, label, beta, seed)] = Path(d)
        self._images = {}

    def dir(self, row):
        return self.dirs.get(_key(row["dataset"], row["likelihood"], row["beta"], row["seed"]))

    def images(self, row):
        """images.pt of a run as a dict of tensors, or None when missing or empty (diverged)."""
        d = self.dir(row)
        if d is None or not (d / "images.pt").exists():
            return None
        if d not in self._images:
            import torch

            imgs = torch.load(d / "images.pt", map_location="cpu", weights_only=True)
            ok = all(k in imgs and imgs[k].ndim == 4 and imgs[k].shape[0] > 0
                     for k in ("original", "param", "mean"))
            self._images[d] = imgs if ok else None
        return self._images[d]

    def log(self, row):
        d = self.dir(row)
        if d is None or not (d / "log.csv").exists():
            return None
        import pandas as pd

        try:
            return pd.read_csv(d / "log.csv")
        except (pd.errors.EmptyDataError, pd.errors.ParserError):
            return None


def load_summary(path):
    import pandas as pd

    df = pd.read_csv(path)
    df["beta"] = df["beta"].astype(float)
    df["seed"] = df["seed"].astype(int)
    for c in ("fid", "fid_recon", "fid_param", "black_level", "white_level", "param_black_level",
              "param_white_level", "data_black_level", "data_white_level", "diverged_epoch", "mse_mean", "rmse",
              "sigma_mean", "mass_outside", "sample_spread", "active_units"):
        if c in df:
            df[c] = pd.to_numeric(df[c], errors="coerce")
    return df
