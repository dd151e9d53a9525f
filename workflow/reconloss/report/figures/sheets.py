"""The image figures: reconstructions and samples by family, and the post's CB image.

A sheet of two dozen likelihoods side by side shrinks every digit to a few
pixels at the README's width. Here each family (reconloss.report.figures.style) is a
section of rows, one row of test images per label, so that the images fill the
width: at SHEET_WIDTH inches shown 900 pixels wide, a row of eight 28-pixel
images is drawn at more than 3x its pixel size (tests/test_figures.py measures
it). A label's parameter image gets its own row only where it differs from the
expected value (CB's λ, Beta's mode); a Gaussian's μ is its E[x]. Images are on
a fixed [0, 1] scale, never auto-scaled: desaturation is the point.
"""

import math

from reconloss.report.figures.helpers import (
    INTENSITY, closest_beta, empty_figure, imshow, montage, param_label, placeholder, to_display,
    wrap_label,
)
from reconloss.report.figures.style import panels

SHEET_WIDTH = 9.0  # inches, label margin included
LABEL_MARGIN = 1.4  # inches left of the images: the label's name, β and the row's kind
HEADER = 0.34  # inches of a family's title line
SAME = 2e-3  # a parameter image within this of E[x] everywhere is not drawn twice


def _pick_run(df, likelihood, beta):
    """The finished run of (likelihood, β) with the lowest seed, or None."""
    rows = df[(df["likelihood"] == likelihood) & (df["beta"] == beta) & (df["status"] == "ok")]
    return None if rows.empty else rows.sort_values("seed").iloc[0]


def _comparison_run(df, lik, runs, beta_wanted):
    """(β, row, images) of the label's finished run with images at the β closest to beta_wanted; row and
    images None (β the closest of all) where no run finished."""
    d = df[df["likelihood"] == lik]
    ok = [b for b in d["beta"].unique() if (r := _pick_run(d, lik, b)) is not None and runs.images(r) is not None]
    if not ok:
        return closest_beta(d["beta"], beta_wanted), None, None
    beta = closest_beta(ok, beta_wanted)
    row = _pick_run(d, lik, beta)
    return beta, row, runs.images(row)


class _Stack:
    """Image rows stacked top to bottom at a fixed size in inches per source pixel, so every sheet
    draws its pixels at the same size whatever the number of rows."""

    def __init__(self, n_cols, h, w, gap):
        self.n, self.h, self.w, self.gap = n_cols, h, w, gap
        self.scale = (SHEET_WIDTH - LABEL_MARGIN) / (n_cols * w + (n_cols - 1) * gap)  # inches per pixel
        self.items = []  # (height in inches, draw(fig, ax))

    def rows_height(self, k):
        return (k * self.h + (k - 1) * self.gap) * self.scale + 0.06

    def add(self, height, draw):
        self.items.append((height, draw))

    def build(self):
        import matplotlib.pyplot as plt

        total = sum(h for h, _ in self.items)
        fig = plt.figure(figsize=(SHEET_WIDTH, total))
        y = total
        left = LABEL_MARGIN / SHEET_WIDTH
        for height, draw in self.items:
            y -= height
            ax = fig.add_axes((left, y / total, 1 - left, height / total))
            for spine in ax.spines.values():
                spine.set_visible(False)
            draw(fig, ax)
        return fig


def _strip(images, n, gap):
    tiles = [to_display(x) for x in images[:n]]
    return montage(tiles, len(tiles), gap)


def _image_rows(ax, stack, strips, kinds):
    """Draw strips (each a row of images) as one canvas, with each row's kind as its tick label."""
    import numpy as np

    gap_row = np.ones((stack.gap,) + strips[0].shape[1:])
    canvas = strips[0] if len(strips) == 1 else np.concatenate(
        [p for s in strips for p in (s, gap_row)][:-1], axis=0)
    imshow(ax, canvas)
    ax.set_anchor("W")
    ax.set_xticks([])
    ax.set_yticks([(stack.h + stack.gap) * i + stack.h / 2 - 0.5 for i in range(len(kinds))])
    ax.set_yticklabels(kinds, fontsize=7.5)
    ax.tick_params(length=0, pad=2)


def _name(ax, text, colour=None):
    """A label's name left of its rows, and a bar in its colour (its line in the curve figures)."""
    ax.annotate(text, (0, 0.5), xycoords="axes fraction", xytext=(-32, 0), textcoords="offset points", ha="right",
                va="center", fontsize=7.5, linespacing=1.15, annotation_clip=False)
    if colour is not None:
        ax.annotate("", (0, 0.02), xycoords="axes fraction", xytext=(0, 0.98), textcoords="axes fraction",
                    arrowprops=dict(arrowstyle="-", color=colour, lw=4, shrinkA=0, shrinkB=0), annotation_clip=False)


def _header(text):
    def draw(fig, ax):
        ax.axis("off")
        ax.text(-LABEL_MARGIN / (SHEET_WIDTH - LABEL_MARGIN), 0.2, text, transform=ax.transAxes, fontsize=9.5,
                fontweight="bold", va="bottom")
    return draw


def _title(fig, text, height):
    fig.suptitle(text, fontsize=9.5, y=1 + 0.05 / height, va="bottom")


def _differs(a, b):
    return a.shape != b.shape or float((a - b).abs().max()) > SAME


def fig_reconstructions(df, dataset, likelihoods, style_map, runs, settings):
    """Per family: the test images, then per label its expected value (and parameter image where it differs)."""
    n_show = settings["n_show"]
    picked = {lik: _comparison_run(df, lik, runs, settings["comparison_beta"]) for lik in likelihoods}
    with_images = [p for p in picked.values() if p[2] is not None]
    if not with_images:
        return empty_figure(f"{dataset}: reconstructions", "no finished run with reconstructions")
    reference = with_images[0][2]
    originals = reference["original"][:n_show]
    n, h, w = originals.shape[0], originals.shape[-2], originals.shape[-1]
    stack = _Stack(n, h, w, max(1, h // 28))
    mismatched = []
    for family, labs in panels(style_map, likelihoods):
        stack.add(HEADER, _header(family))
        stack.add(stack.rows_height(1), lambda fig, ax: _image_rows(ax, stack, [_strip(originals, n, stack.gap)],
                                                                    ["data"]))
        for lik in labs:
            beta, row, imgs = picked[lik]
            name = wrap_label(lik, 18) + f"\nβ={beta:g}" + ("" if row is None else f", seed {int(row['seed'])}")
            if imgs is None:
                all_div = (df.loc[df["likelihood"] == lik, "status"] == "diverged").all()
                note = "diverged at every seed" if all_div else "no finished run with images"

                def draw(fig, ax, name=name, note=note, colour=style_map[lik].colour):
                    placeholder(ax, note)
                    _name(ax, name, colour)
                stack.add(stack.rows_height(1), draw)
                continue
            if not bool((imgs["indices"][:n] == reference["indices"][:n]).all()):
                mismatched.append(lik)
            param, mean = imgs["param"][:n], imgs["mean"][:n]
            if _differs(param, mean):
                strips = [_strip(param, n, stack.gap), _strip(mean, n, stack.gap)]
                kinds = [param_label(row), "E[x]"]
            else:
                strips, kinds = [_strip(mean, n, stack.gap)], ["E[x]"]  # the parameter image is the same

            def draw(fig, ax, strips=strips, kinds=kinds, name=name, colour=style_map[lik].colour):
                _image_rows(ax, stack, strips, kinds)
                _name(ax, name, colour)
            stack.add(stack.rows_height(len(strips)), draw)
    fig = stack.build()
    title = (f"{dataset}: reconstructions at the β closest to {settings['comparison_beta']:g}, one section per family\n"
             "per label: its expected value E[x] (what the model predicts) and, where it differs, its parameter image\n"
             f"(lambda, mode, ...; elsewhere mu or p is E[x]); the bar: the label's colour in the curve figures\n"
             f"{INTENSITY}, fixed scale")
    if mismatched:
        title += f"\n(warning: other test images for {', '.join(mismatched)})"
    _title(fig, title, fig.get_figheight())
    return fig


def fig_samples(df, dataset, likelihoods, style_map, runs, settings):
    """Samples of each label at its best β (lowest seed-mean FID), one section per family."""
    from reconloss.report.tables import best_frame

    best = best_frame(df.assign(likelihood_name=df.get("likelihood_name", df["likelihood"]))).set_index("likelihood")
    n = settings["n_samples"]
    rows = {}
    for lik in likelihoods:
        b = best.loc[lik]  # df holds one dataset: one row per likelihood
        imgs = None
        if not math.isnan(b["best_beta"]):
            row = _pick_run(df[df["likelihood"] == lik], lik, b["best_beta"])
            imgs = runs.images(row) if row is not None else None
            if imgs is not None and ("sample_mean" not in imgs or imgs["sample_mean"].shape[0] == 0):
                imgs = None
        rows[lik] = (b, imgs)
    shapes = [imgs["sample_mean"].shape for _, imgs in rows.values() if imgs is not None]
    h, w = shapes[0][-2:] if shapes else (8, 8)
    k = min(n, shapes[0][0]) if shapes else n
    stack = _Stack(k, h, w, max(1, h // 28))
    for family, labs in panels(style_map, likelihoods):
        stack.add(HEADER, _header(family))
        for lik in labs:
            b, imgs = rows[lik]
            colour = style_map[lik].colour
            if imgs is None:
                msg = (f"all {int(b['runs'])} runs diverged" if b["diverged"] == b["runs"]
                       else "no finished run with samples")

                def draw(fig, ax, lik=lik, msg=msg, colour=colour):
                    placeholder(ax, msg)
                    _name(ax, wrap_label(lik, 18), colour)
            else:
                def draw(fig, ax, lik=lik, b=b, imgs=imgs, colour=colour):
                    _image_rows(ax, stack, [_strip(imgs["sample_mean"], k, stack.gap)], [""])
                    _name(ax, wrap_label(lik, 18) + f"\nβ={b['best_beta']:g}, FID {b['fid']:.3g}", colour)
            stack.add(stack.rows_height(1), draw)
    fig = stack.build()
    _title(fig, f"{dataset}: samples (expected value of p(x|z), z ~ N(0, I)) at each label's best β, by family\n"
                f"best β: lowest mean sample FID over seeds; {INTENSITY}, fixed scale", fig.get_figheight())
    return fig


CB_NAME = "continuous_bernoulli"


def _cb_label(df, likelihoods):
    """The CB label to show: `continuous_bernoulli` itself, else its first variant, else None."""
    names = dict(zip(df["likelihood"], df.get("likelihood_name", df["likelihood"])))
    cands = [lik for lik in likelihoods if names.get(lik) == CB_NAME or lik == CB_NAME]
    return (CB_NAME if CB_NAME in cands else cands[0]) if cands else None


def background_level(original, image, dark=0.05):
    """Mean of `image` where the data are black (below `dark`): what a reader sees as the background."""
    mask = original < dark
    return float(image[mask].mean()) if bool(mask.any()) else math.nan


def fig_cb_image(df, dataset, likelihoods, style_map, runs, settings):
    """The post's CB figure: a test image as data | λ | E[x], large enough to see E[x]'s grey background."""
    import matplotlib.pyplot as plt

    lik = _cb_label(df, likelihoods)
    if lik is None:
        return empty_figure(f"{dataset}: continuous Bernoulli, data | λ | E[x]",
                            "continuous_bernoulli is not in this configuration")
    beta, row, imgs = _comparison_run(df, lik, runs, settings["comparison_beta"])
    if imgs is None:
        return empty_figure(f"{dataset}: continuous Bernoulli ({lik}), data | λ | E[x]",
                            f"no finished {lik} run with images")
    k = min(2, imgs["original"].shape[0])
    fig, axes = plt.subplots(k, 3, figsize=(8.4, 2.75 * k + 0.9), squeeze=False, layout="constrained")
    for i in range(k):
        x = imgs["original"][i]
        for j, (key, name) in enumerate((("original", "data x"), ("param", "λ (the parameter)"),
                                         ("mean", "E[x | λ] (the mean)"))):
            ax = axes[i, j]
            imshow(ax, to_display(imgs[key][i]))
            ax.set_xticks([])
            ax.set_yticks([])
            for spine in ax.spines.values():
                spine.set_edgecolor("0.5")
            level = background_level(x, imgs[key][i])
            ax.set_xlabel(f"background (where x < 0.05): {level:.2f}", fontsize=8.5)
            if i == 0:
                ax.set_title(name, fontsize=10)
        axes[i, 0].set_ylabel(f"test image #{int(imgs['indices'][i])}", fontsize=8.5)
    if imgs["original"].shape[1] == 1:
        sm = plt.cm.ScalarMappable(norm=plt.Normalize(0, 1), cmap="gray")
        bar = fig.colorbar(sm, ax=axes, fraction=0.03, pad=0.02)
        bar.set_label(INTENSITY + "; fixed scale")
    x = imgs["original"][:k]
    levels = [background_level(x, imgs[key][:k]) for key in ("param", "mean")]
    fig.suptitle(f"{dataset}: continuous Bernoulli ({lik}, β={beta:g}, seed {int(row['seed'])}): the data, λ, and "
                 f"E[x | λ]\nwhere the data are black, λ is {levels[0]:.2f} on average and the mean the model "
                 f"predicts {levels[1]:.2f}", fontsize=10)
    return fig
