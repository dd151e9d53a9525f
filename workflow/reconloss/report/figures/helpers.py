"""Drawing helpers that every per-dataset figure shares.

One home for what the figures must agree on, so the evaluation and training
figures look and read alike: axis labels, the β axis, images on a fixed [0, 1] scale and their montages, placeholders
for missing or diverged runs, seed statistics (mean and band over seeds) with
the marks of diverged runs, and saving a figure in each configured format.
"""

import math
from pathlib import Path

from reconloss.io import atomic_path

INTENSITY = "pixel intensity (0 = black, 1 = white)"
BETA_LABEL = "β (weight of the KL term, log scale)"
FID_LABEL = "FID (classifier features; lower is better)"
DIVERGED_COLOUR = (0.85, 0.85, 0.85)


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


def closest_beta(betas, target):
    """The β of `betas` nearest to `target` on a log scale (β grids are logarithmic)."""
    betas = sorted(set(float(b) for b in betas))
    return min(betas, key=lambda b: (abs(math.log(b) - math.log(target)), b))


# --------------------------------------------------------------------------- drawing helpers


def to_display(t):
    """(C,H,W) tensor -> array for imshow with a fixed [0, 1] scale (never auto-scaled:
    desaturation is the point)."""
    import numpy as np

    a = t.detach().float().clamp(0, 1).cpu().numpy()
    return a[0] if a.shape[0] == 1 else np.transpose(a[:3], (1, 2, 0))


def montage(images, ncols, gap, fill=1.0):
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


def wrap_label(name, width=12):
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


def imshow(ax, canvas):
    kw = dict(interpolation="nearest")
    if canvas.ndim == 2:
        kw.update(cmap="gray", vmin=0.0, vmax=1.0)
    return ax.imshow(canvas, **kw)


def placeholder(ax, text):
    ax.set_facecolor(DIVERGED_COLOUR)
    ax.text(0.5, 0.5, text, ha="center", va="center", transform=ax.transAxes, fontsize=9, wrap=True)
    ax.set_xticks([])
    ax.set_yticks([])


def plain_log_ticks(axis):
    """Tick labels like 0.3 instead of 3×10⁻¹ on a log axis."""
    from matplotlib.ticker import FuncFormatter

    fmt = FuncFormatter(lambda v, _: f"{v:g}")
    axis.set_major_formatter(fmt)
    # minor ticks labelled at leading digits 1, 2, 3, 5 (0.2 as well as 20: the digit, not the text, decides)
    axis.set_minor_formatter(FuncFormatter(lambda v, _: f"{v:g}" if v > 0 and f"{v:.0e}"[0] in "1235" else ""))


def beta_axis(ax, betas):
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


def save(fig, out_dir, stem, dataset, settings):
    import matplotlib.pyplot as plt

    written = []
    for fmt in settings["formats"]:
        path = Path(out_dir) / f"{stem}_{dataset}.{fmt}"
        with atomic_path(path) as tmp:
            fig.savefig(tmp, format=fmt, dpi=settings["dpi"], bbox_inches="tight")
        written.append(path)
    plt.close(fig)
    return written


def empty_figure(title, text):
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 2.5))
    placeholder(ax, text)
    ax.set_title(title)
    return fig


def seed_note(df):
    n = df["seed"].nunique()
    return (f"line: mean over the (up to {n}) seeds that finished; band: min to max over them" if n > 1
            else "one seed per β")


def seed_band(ax, s, st):
    """A label's seed-mean line against β with its min-max band (s: its rows of seed_stats, by β)."""
    if len(s):
        ax.plot(s["beta"], s["mean"], **st.line(lw=1.5, ms=4.5))
        ax.fill_between(s["beta"], s["min"], s["max"], color=st.colour, alpha=0.15, lw=0)


def seed_stats(df, column):
    """Per (likelihood, β): mean, min, max of `column` over seeds that finished with a value."""
    ok = df[(df["status"] == "ok") & df[column].notna()]
    return ok.groupby(["likelihood", "beta"], sort=False)[column].agg(["mean", "min", "max", "count"]).reset_index()


def diverged_marks(ax, df, likelihoods, style_map, n_rows=None):
    """A × per (likelihood, β) with a diverged seed, one row per likelihood in a strip along the
    top of the axes; the y range is extended so the strip never covers data. n_rows sizes the strip
    (default: the likelihoods marked here), so that panels meant to share a y range extend it alike."""
    from matplotlib.patches import Rectangle
    from matplotlib.transforms import blended_transform_factory

    div = df[df["status"] == "diverged"]
    marked = [(lik, sorted(div.loc[div["likelihood"] == lik, "beta"].unique())) for lik in likelihoods]
    marked = [(lik, betas) for lik, betas in marked if betas]
    rows = max(n_rows or 0, len(marked))
    if not rows:
        return False
    step = min(0.045, 0.25 / rows)
    strip = step * rows + 0.03
    lo, hi = ax.get_ylim()
    if ax.get_yscale() == "log":
        llo, lhi = math.log10(lo), math.log10(hi)
        ax.set_ylim(lo, 10 ** (llo + (lhi - llo) / (1 - strip)))
    else:
        ax.set_ylim(lo, lo + (hi - lo) / (1 - strip))
    if not marked:
        return False
    trans = blended_transform_factory(ax.transData, ax.transAxes)
    for i, (lik, betas) in enumerate(marked):
        y = 1 - step * (i + 0.5) - 0.01
        ax.plot(betas, [y] * len(betas), linestyle="none", marker="x", markersize=min(7, 160 * step), mew=2,
                color=style_map[lik].colour, transform=trans, clip_on=False)
    ax.add_patch(Rectangle((0, 1 - strip + 0.01), 1, strip - 0.01, transform=ax.transAxes, color="0.94",
                           zorder=0, lw=0))
    return True
