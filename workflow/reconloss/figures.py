"""The study's figures, one set per dataset, from the summary table and the runs' files.

Each figure tests one claim of the study (see workflow/report/*.rst): which
likelihood gives the best samples and at which β (FID against β), what its
reconstructions look like (the parameter image is not the expected value: CB
desaturates), how much of the [0, 1] range reconstructions reach (dynamic
range), where training breaks (divergence map), what σ a Gaussian learns, and
what samples look like at each likelihood's best β. Missing or diverged runs
are drawn as such, never skipped silently and never a crash: a diverged run is
a result.
"""

import argparse
import json
import math
from pathlib import Path

from reconloss.io import atomic_path
# The figure settings and their defaults, defined once in reconloss.settings.Figures.
from reconloss.settings import FIGURE_SETTINGS as DEFAULT_SETTINGS

#: Figure stems; files are {stem}_{dataset}.{png,pdf}. figures.smk lists the same names.
FIGURES = [
    "fid_vs_beta",
    "fid_bernoulli_vs_cb",
    "reconstructions",
    "dynamic_range",
    "divergence",
    "sigma",
    "samples",
]

INTENSITY = "pixel intensity (0 = black, 1 = white)"
BETA_LABEL = "β (weight of the KL term, log scale)"
FID_LABEL = "FID (classifier features; lower is better)"
DIVERGED_COLOUR = (0.85, 0.85, 0.85)


# --------------------------------------------------------------------------- data access


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

    def __init__(self, runs_root):
        self.dirs = {}
        root = Path(runs_root)
        if root.is_dir():
            for d in root.glob("*/*/beta~*/seed~*"):
                try:
                    self.dirs[_key(*parse_run_dir(d))] = d
                except ValueError:
                    continue
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


def _finite(v):
    try:
        return v is not None and math.isfinite(float(v))
    except (TypeError, ValueError):
        return False


def param_label(row):
    """What a run's parameter image shows, for labels: its likelihood class's param_label
    (Beta's and the categorical's "mode", CB's "lambda"); "parameter" for an unknown name."""
    from reconloss.likelihoods import LIKELIHOODS

    name = row.get("likelihood_name") if hasattr(row, "get") else None
    if not isinstance(name, str):
        name = row.get("likelihood") if hasattr(row, "get") else None
    return getattr(LIKELIHOODS.get(name), "param_label", "parameter")


def likelihood_order(df):
    """Likelihoods in the order they first appear (the configuration's order)."""
    return list(dict.fromkeys(df["likelihood"]))


def palette(likelihoods):
    import seaborn as sns

    if len(likelihoods) <= 10:
        colours = sns.color_palette("tab10", len(likelihoods))
    else:  # the ten strong colours first, then their light twins
        tab20 = sns.color_palette("tab20", 20)
        colours = (tab20[0::2] + tab20[1::2]) * (len(likelihoods) // 20 + 1)
    return dict(zip(likelihoods, colours))


MARKERS = "osD^v<>pXh*"


def closest_beta(betas, target):
    """The β of `betas` nearest to `target` on a log scale (β grids are logarithmic)."""
    betas = sorted(set(float(b) for b in betas))
    return min(betas, key=lambda b: (abs(math.log(b) - math.log(target)), b))


# --------------------------------------------------------------------------- drawing helpers


def _to_display(t):
    """(C,H,W) tensor -> array for imshow with a fixed [0, 1] scale (never auto-scaled:
    desaturation is the point)."""
    import numpy as np

    a = t.detach().float().clamp(0, 1).cpu().numpy()
    return a[0] if a.shape[0] == 1 else np.transpose(a[:3], (1, 2, 0))


def _montage(images, ncols, gap, fill=1.0):
    """Tile a list of (H,W) or (H,W,3) arrays row-major with `gap` pixels of `fill` between them."""
    import numpy as np

    first = images[0]
    h, w = first.shape[:2]
    rgb = first.ndim == 3
    nrows = math.ceil(len(images) / ncols)
    shape = (nrows * h + (nrows - 1) * gap, ncols * w + (ncols - 1) * gap) + ((3,) if rgb else ())
    canvas = np.full(shape, fill, dtype=float)
    for i, img in enumerate(images):
        r, c = divmod(i, ncols)
        canvas[r * (h + gap):r * (h + gap) + h, c * (w + gap):c * (w + gap) + w] = img
    return canvas


def _wrap_label(name, width=12):
    """Break a likelihood label at underscores so narrow column headers stay readable."""
    lines, line = [], ""
    for part in str(name).split("_"):
        candidate = f"{line}_{part}" if line else part
        if line and len(candidate) > width:
            lines.append(line + "_")
            line = part
        else:
            line = candidate
    return "\n".join(lines + [line])


def _imshow(ax, canvas):
    kw = dict(interpolation="nearest")
    if canvas.ndim == 2:
        kw.update(cmap="gray", vmin=0.0, vmax=1.0)
    return ax.imshow(canvas, **kw)


def _placeholder(ax, text):
    ax.set_facecolor(DIVERGED_COLOUR)
    ax.text(0.5, 0.5, text, ha="center", va="center", transform=ax.transAxes, fontsize=9, wrap=True)
    ax.set_xticks([])
    ax.set_yticks([])


def _plain_log_ticks(axis):
    """Tick labels like 0.3 instead of 3×10⁻¹ on a log axis."""
    from matplotlib.ticker import FuncFormatter

    fmt = FuncFormatter(lambda v, _: f"{v:g}")
    axis.set_major_formatter(fmt)
    axis.set_minor_formatter(FuncFormatter(lambda v, _: f"{v:g}" if f"{v:g}"[0] in "1235" else ""))


def _beta_axis(ax, betas):
    ax.set_xscale("log")
    betas = sorted(set(betas))
    if betas:
        ax.set_xticks(betas)
        ax.set_xticklabels([f"{b:g}" for b in betas])
        ax.minorticks_off()
        lo, hi = min(betas), max(betas)
        pad = 1.25 if lo == hi else (hi / lo) ** 0.06
        ax.set_xlim(lo / pad, hi * pad)
    ax.set_xlabel(BETA_LABEL)


def _save(fig, out_dir, stem, dataset, settings):
    import matplotlib.pyplot as plt

    written = []
    for fmt in settings["formats"]:
        path = Path(out_dir) / f"{stem}_{dataset}.{fmt}"
        with atomic_path(path) as tmp:
            fig.savefig(tmp, format=fmt, dpi=settings["dpi"], bbox_inches="tight")
        written.append(path)
    plt.close(fig)
    return written


def _empty_figure(title, text):
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 2.5))
    _placeholder(ax, text)
    ax.set_title(title)
    return fig


# --------------------------------------------------------------------------- figures


def _seed_note(df):
    n = df["seed"].nunique()
    return (f"line: mean over the (up to {n}) seeds that finished; band: min to max over them" if n > 1
            else "one seed per β")


def _seed_stats(df, column):
    """Per (likelihood, β): mean, min, max of `column` over seeds that finished with a value."""
    ok = df[(df["status"] == "ok") & df[column].notna()]
    return ok.groupby(["likelihood", "beta"], sort=False)[column].agg(["mean", "min", "max", "count"]).reset_index()


def _diverged_marks(ax, df, likelihoods, colours):
    """A × per (likelihood, β) with a diverged seed, one row per likelihood in a strip along the
    top of the axes; the y range is extended so the strip never covers data."""
    from matplotlib.patches import Rectangle
    from matplotlib.transforms import blended_transform_factory

    div = df[df["status"] == "diverged"]
    marked = [(lik, sorted(div.loc[div["likelihood"] == lik, "beta"].unique())) for lik in likelihoods]
    marked = [(lik, betas) for lik, betas in marked if betas]
    if not marked:
        return False
    step = min(0.045, 0.25 / len(marked))
    strip = step * len(marked) + 0.03
    lo, hi = ax.get_ylim()
    if ax.get_yscale() == "log":
        llo, lhi = math.log10(lo), math.log10(hi)
        ax.set_ylim(lo, 10 ** (llo + (lhi - llo) / (1 - strip)))
    else:
        ax.set_ylim(lo, lo + (hi - lo) / (1 - strip))
    trans = blended_transform_factory(ax.transData, ax.transAxes)
    for i, (lik, betas) in enumerate(marked):
        y = 1 - step * (i + 0.5) - 0.01
        ax.plot(betas, [y] * len(betas), linestyle="none", marker="x", markersize=min(7, 160 * step), mew=2,
                color=colours[lik], transform=trans, clip_on=False)
    ax.add_patch(Rectangle((0, 1 - strip + 0.01), 1, strip - 0.01, transform=ax.transAxes, color="0.94",
                           zorder=0, lw=0))
    return True


def _fid_panel(ax, df, likelihoods, colours, column, ylabel):
    from matplotlib.lines import Line2D

    stats = _seed_stats(df, column)
    handles = []
    for i, lik in enumerate(likelihoods):
        s = stats[stats["likelihood"] == lik].sort_values("beta")
        marker = MARKERS[i % len(MARKERS)]
        if len(s):
            ax.plot(s["beta"], s["mean"], marker=marker, color=colours[lik], lw=1.8, ms=5)
            ax.fill_between(s["beta"], s["min"], s["max"], color=colours[lik], alpha=0.18, lw=0)
            label = lik
        else:
            label = f"{lik} (no finished run)"
        handles.append(Line2D([], [], color=colours[lik], marker=marker, lw=1.8, ms=5, label=label))
    _beta_axis(ax, df["beta"])
    values = stats["mean"].tolist() + stats["max"].tolist() + stats["min"].tolist()
    values = [v for v in values if v > 0 and math.isfinite(v)]
    if values and max(values) / min(values) > 30:
        ax.set_yscale("log")
        _plain_log_ticks(ax.yaxis)
        ylabel += "\n(log scale)"
    if _diverged_marks(ax, df, likelihoods, colours):
        handles.append(Line2D([], [], color="0.3", marker="x", mew=2, linestyle="none",
                              label="diverged run(s) at this β\n(grey strip, one row per likelihood)"))
    ax.set_ylabel(ylabel)
    ax.grid(True, which="major", alpha=0.3)
    if not len(stats):
        ax.text(0.5, 0.5, "no finished run with a FID", ha="center", va="center", transform=ax.transAxes)
    return handles


def fig_fid_vs_beta(df, dataset, likelihoods, colours, runs, settings):
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7.5, 4.5))
    handles = _fid_panel(ax, df, likelihoods, colours, "fid", FID_LABEL)
    ax.set_title(f"{dataset}: sample FID against β\n{_seed_note(df)}")
    ax.legend(handles=handles, title="likelihood", loc="upper left", bbox_to_anchor=(1.01, 1), fontsize=8)
    return fig


CB_NAMES = ("bernoulli", "continuous_bernoulli")


def fig_fid_bernoulli_vs_cb(df, dataset, likelihoods, colours, runs, settings):
    import matplotlib.pyplot as plt

    names = df["likelihood_name"] if "likelihood_name" in df else df["likelihood"]
    sub = df[names.isin(CB_NAMES)]
    liks = [lik for lik in likelihoods if lik in set(sub["likelihood"])]
    if not liks:
        return _empty_figure(f"{dataset}: Bernoulli against continuous Bernoulli",
                             "neither bernoulli nor continuous_bernoulli is in this configuration")
    fig, axes = plt.subplots(1, 2, figsize=(10, 4.2), sharex=True)
    handles = _fid_panel(axes[0], sub, liks, colours, "fid", FID_LABEL)
    axes[0].set_title("samples (decoded z ~ N(0, I))")
    if "fid_recon" in sub and sub["fid_recon"].notna().any():
        _fid_panel(axes[1], sub, liks, colours, "fid_recon", "FID of test reconstructions (lower is better)")
        axes[1].set_title("reconstructions of test images")
    else:
        _placeholder(axes[1], "no reconstruction FID recorded")
    from matplotlib.lines import Line2D

    for name in CB_NAMES:
        if not (names[sub.index] == name).any():
            handles.append(Line2D([], [], color="none", label=f"{name}: not in this configuration"))
    fig.suptitle(f"{dataset}: Bernoulli against continuous Bernoulli, FID of expected values\n{_seed_note(df)}")
    axes[1].legend(handles=handles, title="likelihood", loc="upper left", bbox_to_anchor=(1.01, 1), fontsize=8)
    fig.tight_layout()
    return fig


def _pick_run(df, likelihood, beta):
    """The finished run of (likelihood, β) with the lowest seed, or None."""
    rows = df[(df["likelihood"] == likelihood) & (df["beta"] == beta) & (df["status"] == "ok")]
    return None if rows.empty else rows.sort_values("seed").iloc[0]


def fig_reconstructions(df, dataset, likelihoods, colours, runs, settings):
    """Test image | (parameter image, expected value) per likelihood, on one canvas so rows align."""
    import matplotlib.pyplot as plt
    import numpy as np
    from matplotlib.patches import Rectangle

    n_show = settings["n_show"]
    blocks = []  # (likelihood, beta, row, images or None)
    for lik in likelihoods:
        d = df[df["likelihood"] == lik]
        ok_betas = [b for b in d["beta"].unique()
                    if (r := _pick_run(d, lik, b)) is not None and runs.images(r) is not None]
        if ok_betas:
            beta = closest_beta(ok_betas, settings["comparison_beta"])
            row = _pick_run(d, lik, beta)
            blocks.append((lik, beta, row, runs.images(row)))
        else:
            blocks.append((lik, closest_beta(d["beta"], settings["comparison_beta"]), None, None))
    with_images = [b for b in blocks if b[3] is not None]
    if not with_images:
        return _empty_figure(f"{dataset}: reconstructions", "no finished run with reconstructions")
    reference = with_images[0][3]
    originals = reference["original"][:n_show]
    n, h, w = originals.shape[0], originals.shape[-2], originals.shape[-1]
    gap, group_gap = max(1, h // 8), max(3, w // 2)

    def rgb(t):
        a = _to_display(t)
        return np.repeat(a[..., None], 3, axis=2) if a.ndim == 2 else a

    def column(images):
        col = np.ones((n * h + (n - 1) * gap, w, 3))
        for i, img in enumerate(images[:n]):
            col[i * (h + gap):i * (h + gap) + h] = rgb(img)
        return col

    pieces, centres, labels, groups = [], [], [], []  # groups: (x0, x1, likelihood, beta, row, note)
    x = 0

    def add(col, label):
        nonlocal x
        pieces.append(col)
        centres.append(x + w / 2 - 0.5)
        labels.append(label)
        x += w

    def add_gap(width):
        nonlocal x
        pieces.append(np.ones((n * h + (n - 1) * gap, width, 3)))
        x += width

    add(column(originals), "data")
    mismatched = []
    for lik, beta, row, imgs in blocks:
        add_gap(group_gap)
        x0 = x
        if imgs is None:
            all_div = (df.loc[df["likelihood"] == lik, "status"] == "diverged").all()
            filler = np.ones((n * h + (n - 1) * gap, 2 * w + gap, 3)) * np.array(DIVERGED_COLOUR)
            pieces.append(filler)
            x += 2 * w + gap
            groups.append((x0, x, lik, beta, row, "diverged\nat every\nseed" if all_div else "no\nfinished\nrun"))
            continue
        if not bool((imgs["indices"][:n] == reference["indices"][:n]).all()):
            mismatched.append(lik)
        add(column(imgs["param"]), param_label(row))
        add_gap(gap)
        add(column(imgs["mean"]), "E[x]")
        groups.append((x0, x, lik, beta, row, None))
    canvas = np.concatenate(pieces, axis=1)

    scale = 0.42 / h  # inches per source pixel: about 0.42 in per image
    fig, ax = plt.subplots(figsize=(canvas.shape[1] * scale + 1.0, canvas.shape[0] * scale + 0.6))
    ax.imshow(canvas, interpolation="nearest")
    ax.set_xticks(centres)
    ax.set_xticklabels(labels, fontsize=6.5)
    ax.set_yticks([(h + gap) * i + h / 2 - 0.5 for i in range(n)])
    ax.set_yticklabels([f"#{int(i)}" for i in reference["indices"][:n]], fontsize=7)
    ax.set_ylabel("showcase test image (index in the test set)")
    for spine in ax.spines.values():
        spine.set_visible(False)
    ax.tick_params(length=0)
    top = -0.5
    header_lines = 1
    for x0, x1, lik, beta, row, note in groups:
        ax.add_patch(Rectangle((x0 - 0.5, top - 0.3), x1 - x0, canvas.shape[0] + 0.6, fill=False,
                               edgecolor=colours[lik], lw=2, clip_on=False))
        header = _wrap_label(lik) + f"\nβ={beta:g}" + ("" if row is None else f"\nseed {int(row['seed'])}")
        header_lines = max(header_lines, header.count("\n") + 1)
        ax.annotate(header, ((x0 + x1) / 2 - 0.5, top - 0.3), xytext=(0, 4), textcoords="offset points",
                    ha="center", va="bottom", fontsize=6.5, linespacing=1.1, annotation_clip=False)
        if note:
            ax.text((x0 + x1) / 2 - 0.5, canvas.shape[0] / 2, note, ha="center", va="center", fontsize=7)
    title = (f"{dataset}: reconstructions at the β closest to {settings['comparison_beta']:g}\n"
             "test image | per likelihood: parameter image (named by the likelihood: mu, lambda, p, mode)"
             " and expected value (E[x])")
    if mismatched:
        title += f"\n(warning: other test images for {', '.join(mismatched)})"
    ax.set_title(title, fontsize=9, pad=header_lines * 8 + 12)
    if originals.shape[1] == 1:
        sm = plt.cm.ScalarMappable(norm=plt.Normalize(0, 1), cmap="gray")
        cbar = fig.colorbar(sm, ax=ax, orientation="horizontal", fraction=0.04, pad=0.07, aspect=60)
        cbar.set_label(INTENSITY + "; fixed scale, clipped to [0, 1]", fontsize=7)
        cbar.ax.tick_params(labelsize=7)
    return fig


def fig_dynamic_range(df, dataset, likelihoods, colours, runs, settings):
    import matplotlib.pyplot as plt
    from matplotlib.lines import Line2D

    fig, axes = plt.subplots(1, 2, figsize=(11, 4.3), sharex=True)
    handles = []
    panels = [("black_level", "data_black_level", "black level: mean reconstruction\non black data pixels"),
              ("white_level", "data_white_level", "white level: mean reconstruction\non white data pixels")]
    for ax, (col, data_col, title) in zip(axes, panels):
        if col not in df or not df[col].notna().any():
            _placeholder(ax, f"no {col} recorded")
            ax.set_title(title)
            continue
        stats = _seed_stats(df, col)
        for i, lik in enumerate(likelihoods):
            s = stats[stats["likelihood"] == lik].sort_values("beta")
            if len(s):
                ax.plot(s["beta"], s["mean"], marker=MARKERS[i % len(MARKERS)], color=colours[lik], lw=1.6, ms=5)
                ax.fill_between(s["beta"], s["min"], s["max"], color=colours[lik], alpha=0.18, lw=0)
        param_col = "param_" + col
        if param_col in df and df[param_col].notna().any():
            pstats = _seed_stats(df, param_col)
            for lik in likelihoods:
                s = pstats[pstats["likelihood"] == lik].sort_values("beta")
                if len(s):
                    ax.plot(s["beta"], s["mean"], color=colours[lik], lw=1.2, ls=":")
        if data_col in df and df[data_col].notna().any():
            ax.axhline(float(df[data_col].dropna().mean()), color="black", ls="--", lw=1.2)
        _beta_axis(ax, df["beta"])
        ax.set_ylim(-0.03, 1.03)
        ax.set_yticks([0, 0.2, 0.4, 0.6, 0.8, 1.0])
        _diverged_marks(ax, df, likelihoods, colours)
        ax.set_ylabel(INTENSITY)
        ax.set_title(title, fontsize=10)
        ax.grid(True, alpha=0.3)
    for i, lik in enumerate(likelihoods):
        has = df[(df["likelihood"] == lik) & (df["status"] == "ok")].shape[0] > 0
        handles.append(Line2D([], [], color=colours[lik], marker=MARKERS[i % len(MARKERS)],
                              label=lik if has else f"{lik} (no finished run)"))
    if any(f"param_{c}" in df and df[f"param_{c}"].notna().any() for c in ("black_level", "white_level")):
        handles.append(Line2D([], [], color="0.3", ls=":", label="parameter image's level\n(mu, lambda, mode, ...)"))
    handles.append(Line2D([], [], color="black", ls="--", label="level of the data"))
    if (df["status"] == "diverged").any():
        handles.append(Line2D([], [], color="0.3", marker="x", mew=2, ls="none", label="diverged run(s)"))
    axes[1].legend(handles=handles, title="likelihood", loc="upper left", bbox_to_anchor=(1.01, 1), fontsize=8)
    fig.suptitle(f"{dataset}: dynamic range of reconstructions (expected values) against β\n{_seed_note(df)}")
    fig.tight_layout()
    return fig


#: The divergence map's colour of each way a run can end (reconloss.outcome), and of a missing run.
OUTCOME_COLOURS = {"ok": (0.62, 0.82, 0.62), "collapsed": (0.98, 0.66, 0.22), "diverged": (0.80, 0.13, 0.13)}
NO_RUN_COLOUR = (0.85, 0.85, 0.85)


def _outcomes(df):
    """Each row's outcome: the summary's column, or reconloss.outcome where it lacks one."""
    from reconloss.outcome import outcome

    if "outcome" in df:
        return [o if isinstance(o, str) else outcome(r) for o, (_, r) in zip(df["outcome"], df.iterrows())]
    return [outcome(r) for _, r in df.iterrows()]


def fig_divergence(df, dataset, likelihoods, colours, runs, settings):
    """One cell per (likelihood, β), one stripe per seed coloured by how that run ended."""
    import matplotlib.pyplot as plt
    import numpy as np
    from matplotlib.patches import Patch

    df = df.assign(_outcome=_outcomes(df))
    betas = sorted(df["beta"].unique())
    seeds = sorted(df["seed"].unique())
    k = max(1, len(seeds))
    rgb = np.tile(np.array(NO_RUN_COLOUR), (len(likelihoods), len(betas) * k, 1))
    text = [["" for _ in betas] for _ in likelihoods]
    for i, lik in enumerate(likelihoods):
        for j, beta in enumerate(betas):
            cell = df[(df["likelihood"] == lik) & (df["beta"] == beta)].sort_values("seed")
            if cell.empty:
                text[i][j] = "no run"
                continue
            for _, r in cell.iterrows():
                rgb[i, j * k + seeds.index(r["seed"])] = OUTCOME_COLOURS.get(r["_outcome"], NO_RUN_COLOUR)
            div = cell[cell["_outcome"] == "diverged"]
            label = f"{len(div)}/{len(cell)}"
            epochs = sorted(int(e) for e in div["diverged_epoch"].dropna()) if "diverged_epoch" in div else []
            if epochs:
                label += "\nepoch " + ",".join(str(e) for e in epochs)
            n_col = int((cell["_outcome"] == "collapsed").sum())
            if n_col:
                label += f"\n{n_col} collapsed"
            text[i][j] = label
    width = max(6.0, 3.8 + 1.0 * len(betas))
    fig, ax = plt.subplots(figsize=(width, 1.5 + 0.4 * len(likelihoods)), layout="constrained")
    ax.imshow(rgb, aspect="auto", interpolation="nearest",
              extent=(-0.5, len(betas) - 0.5, len(likelihoods) - 0.5, -0.5))
    for j in range(1, len(betas)):
        ax.axvline(j - 0.5, color="white", lw=2)
    for i in range(1, len(likelihoods)):
        ax.axhline(i - 0.5, color="white", lw=2)
    for i in range(len(likelihoods)):
        for j in range(len(betas)):
            ax.text(j, i, text[i][j], ha="center", va="center", fontsize=7, color="black",
                    bbox=dict(boxstyle="round,pad=0.15", fc="white", ec="none", alpha=0.75))
    ax.set_xticks(range(len(betas)))
    ax.set_xticklabels([f"{b:g}" for b in betas])
    ax.set_yticks(range(len(likelihoods)))
    ax.set_yticklabels(likelihoods)
    ax.set_xlabel("β (weight of the KL term)")
    ax.set_ylabel("likelihood")
    n_div = int((df["_outcome"] == "diverged").sum())
    n_col = int((df["_outcome"] == "collapsed").sum())
    ax.set_title(f"{dataset}: diverged runs, {n_div} of {len(df)}; collapsed runs, {n_col}\n"
                 "cell: diverged seeds / seeds and their epochs; one stripe per seed "
                 f"({', '.join(str(s) for s in seeds)}, left to right)", fontsize=10)
    handles = [Patch(color=OUTCOME_COLOURS["ok"], label="ok"),
               Patch(color=OUTCOME_COLOURS["collapsed"], label="collapsed (finished; no active\n"
                                                              "latent unit or prior samples alike)"),
               Patch(color=OUTCOME_COLOURS["diverged"], label="diverged (loss not finite)"),
               Patch(color=NO_RUN_COLOUR, label="no run")]
    ax.legend(handles=handles, title="outcome", loc="upper left", bbox_to_anchor=(1.01, 1), fontsize=8)
    return fig


def fig_sigma(df, dataset, likelihoods, colours, runs, settings):
    import matplotlib.pyplot as plt
    import numpy as np
    from matplotlib.colors import LogNorm

    traces = {}  # likelihood -> list of (row, log)
    for _, row in df.iterrows():
        log = runs.log(row)
        if log is None or "sigma_mean" not in log or not np.isfinite(log["sigma_mean"]).any():
            continue
        traces.setdefault(row["likelihood"], []).append((row, log))
    liks = [lik for lik in likelihoods if lik in traces]
    if not liks:
        return _empty_figure(f"{dataset}: σ over training",
                             "no likelihood in this configuration learns or predicts σ\n"
                             "(no sigma_mean column in any run's log.csv)")
    ncols = min(3, len(liks))
    nrows = math.ceil(len(liks) / ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(4.4 * ncols + 1.2, 3.0 * nrows + 0.8), squeeze=False,
                             sharey=True, layout="constrained")
    betas = sorted(df["beta"].unique())
    norm = LogNorm(min(betas), max(betas)) if min(betas) < max(betas) else None
    cmap = plt.get_cmap("viridis")
    seeds = sorted(df["seed"].unique())
    styles = ["-", "--", ":", "-."]
    for ax, lik in zip(axes.flat, liks):
        for row, log in traces[lik]:
            colour = cmap(norm(row["beta"])) if norm else cmap(0.4)
            ls = styles[seeds.index(row["seed"]) % len(styles)]
            ax.plot(log["epoch"], log["sigma_mean"], color=colour, ls=ls, lw=1.5)
            if row["status"] == "diverged" and len(log):
                ax.plot(log["epoch"].iloc[-1], log["sigma_mean"].iloc[-1], marker="x", mew=2, ms=8, color="red")
            elif _finite(row.get("rmse")) and len(log):
                # sqrt(MSE) of the final model beside its sigma: where a learned sigma settles
                ax.plot(log["epoch"].iloc[-1], row["rmse"], marker="D", mfc="none", mew=1.5, ms=6, color=colour,
                        ls="none")
        ax.set_yscale("log")
        _plain_log_ticks(ax.yaxis)
        ax.set_title(lik, fontsize=10)
        ax.set_xlabel("epoch")
        ax.grid(True, which="both", alpha=0.25)
    for ax in axes[:, 0]:
        ax.set_ylabel("σ (pixel-intensity units,\nmean over pixels)")
    for ax in list(axes.flat)[len(liks):]:
        ax.set_visible(False)
    if norm:
        sm = plt.cm.ScalarMappable(norm=norm, cmap=cmap)
        cbar = fig.colorbar(sm, ax=list(axes.flat), fraction=0.04, pad=0.02, aspect=30)
        cbar.set_label("β")
        cbar.set_ticks(betas)
        cbar.set_ticklabels([f"{b:g}" for b in betas])
        cbar.minorticks_off()
    from matplotlib.lines import Line2D

    handles = [Line2D([], [], color="0.3", ls=styles[i % len(styles)], label=f"seed {s}") for i, s in enumerate(seeds)
               if len(seeds) > 1]
    if any(_finite(row.get("rmse")) for lik in liks for row, _ in traces[lik]):
        handles.append(Line2D([], [], color="0.3", marker="D", mfc="none", ls="none",
                              label="√MSE of the final model\n(test set, beside its σ)"))
    if any(row["status"] == "diverged" for lik in liks for row, _ in traces[lik]):
        handles.append(Line2D([], [], color="red", marker="x", mew=2, ls="none", label="last epoch before divergence"))
    if handles:
        axes.flat[0].legend(handles=handles, fontsize=7, loc="best")
    fig.suptitle(f"{dataset}: learned, predicted or optimal σ of the Gaussian likelihoods over training\n"
                 "(mean over pixels and images at the end of each epoch), and √MSE at the end", fontsize=10)
    return fig


def fig_samples(df, dataset, likelihoods, colours, runs, settings):
    """Samples of each likelihood at its best β (lowest seed-mean FID)."""
    import matplotlib.pyplot as plt

    from reconloss.tables import best_frame

    best = best_frame(df.assign(likelihood_name=df.get("likelihood_name", df["likelihood"])))
    best = best.set_index("likelihood")
    n = settings["n_samples"]
    rows = []
    for lik in likelihoods:
        b = best.loc[lik]  # df holds one dataset: one row per likelihood
        imgs = None
        if not math.isnan(b["best_beta"]):
            row = _pick_run(df[df["likelihood"] == lik], lik, b["best_beta"])
            imgs = runs.images(row) if row is not None else None
            if imgs is not None and ("sample_mean" not in imgs or imgs["sample_mean"].shape[0] == 0):
                imgs = None
        rows.append((lik, b, imgs))
    shapes = [r[2]["sample_mean"].shape[-2:] for r in rows if r[2] is not None]
    h, w = shapes[0] if shapes else (8, 8)
    gap = max(1, h // 8)
    fig_w = 0.55 * n * max(1, w / h) + 2.6
    row_h = 0.61 * fig_w * h / (n * w + (n - 1) * gap)  # the strip's own aspect: no empty space between rows
    fig_h = 1.15 * row_h * len(rows) + 0.6
    fig, axes = plt.subplots(len(rows), 1, figsize=(fig_w, fig_h), squeeze=False)
    for ax, (lik, b, imgs) in zip(axes[:, 0], rows):
        ax.set_ylabel(lik, rotation=0, ha="right", va="center", fontsize=8)
        if imgs is None:
            msg = (f"all {int(b['runs'])} runs diverged" if b["diverged"] == b["runs"]
                   else "no finished run with samples")
            _placeholder(ax, msg)
            ax.set_ylabel(lik, rotation=0, ha="right", va="center", fontsize=8)
            continue
        tiles = [_to_display(x) for x in imgs["sample_mean"][:n]]
        _imshow(ax, _montage(tiles, len(tiles), gap))
        ax.set_xticks([])
        ax.set_yticks([])
        ax.text(1.01, 0.5, f"β={b['best_beta']:g}\nFID {b['fid']:.3g}", transform=ax.transAxes,
                fontsize=7, va="center")
    fig.suptitle(f"{dataset}: samples (expected value of p(x|z), z ~ N(0, I)) at each likelihood's best β\n"
                 f"best β: lowest mean sample FID over seeds; {INTENSITY}", fontsize=9, y=1 - 0.05 / fig_h, va="top")
    fig.subplots_adjust(left=0.25, right=0.86, hspace=0.15, top=1 - 0.5 / fig_h, bottom=0.1 / fig_h)
    return fig


BUILDERS = {
    "fid_vs_beta": fig_fid_vs_beta,
    "fid_bernoulli_vs_cb": fig_fid_bernoulli_vs_cb,
    "reconstructions": fig_reconstructions,
    "dynamic_range": fig_dynamic_range,
    "divergence": fig_divergence,
    "sigma": fig_sigma,
    "samples": fig_samples,
}
assert list(BUILDERS) == FIGURES


def make_figures(summary, runs_root, out_dir, datasets=None, settings=None):
    """Draw every figure of every dataset (or of `datasets`); return the paths written."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import seaborn as sns

    settings = {**DEFAULT_SETTINGS, **(settings or {})}
    unknown = set(settings) - set(DEFAULT_SETTINGS)
    if unknown:
        raise ValueError(f"unknown figure settings {sorted(unknown)}; allowed: {sorted(DEFAULT_SETTINGS)}")
    only = settings["only"] or FIGURES
    bad = set(only) - set(FIGURES)
    if bad:
        raise ValueError(f"unknown figures {sorted(bad)}; allowed: {FIGURES}")
    sns.set_theme(context="paper", style="ticks")
    plt.rcParams.update({"figure.dpi": 100, "savefig.dpi": settings["dpi"], "pdf.fonttype": 42})
    runs = Runs(runs_root)
    datasets = datasets or list(dict.fromkeys(summary["dataset"]))
    written = []
    for dataset in datasets:
        df = summary[summary["dataset"] == dataset].reset_index(drop=True)
        likelihoods = likelihood_order(df)
        colours = palette(likelihoods)
        for stem in only:
            if df.empty:
                fig = _empty_figure(f"{dataset}: {stem}", f"no runs of {dataset} in the summary")
            else:
                fig = BUILDERS[stem](df, dataset, likelihoods, colours, runs, settings)
            written += _save(fig, out_dir, stem, dataset, settings)
    return written


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m reconloss figures", description=__doc__.splitlines()[0])
    parser.add_argument("--summary", required=True, help="results/tables/summary.csv")
    parser.add_argument("--runs-root", required=True, help="results/runs (holds images.pt and log.csv per run)")
    parser.add_argument("--out-dir", required=True)
    parser.add_argument("--dataset", nargs="+", default=None, help="only these datasets (default: all in summary)")
    parser.add_argument("--settings", default="{}", help=f"JSON, keys: {sorted(DEFAULT_SETTINGS)}")
    args = parser.parse_args(argv)
    written = make_figures(load_summary(args.summary), args.runs_root, args.out_dir,
                           datasets=args.dataset, settings=json.loads(args.settings))
    for path in written:
        print(f"figures: wrote {path}")
