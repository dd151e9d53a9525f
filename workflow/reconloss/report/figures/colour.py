"""The post's colour figures: test images as data | λ | E[x] of the continuous Bernoulli, beside the comparators.

The post shows CB on CIFAR-10 twice ("Sharpness", "Instability and Color Range"): λ
oversaturated while E[x] looks right, and on an image with black and white elements
λ overblown while E[x] is too dark. Here the first row is the test image with the
largest black-and-white regions (reconloss.evaluation.colour.bw_indices), the
others are showcase test images; the last columns are the E[x] of Bernoulli and the
fixed-σ Gaussian (their parameter is their mean) at the same β, so a reader sees
what a likelihood without CB's mean map gives. Every image on the fixed [0, 1]
scale, never auto-scaled; each tile carries its mean level on the data's near-white
and near-black pixels.
"""

from reconloss.report.figures.helpers import INTENSITY, empty_figure, imshow, to_display

CB = "continuous_bernoulli"
COMPARATORS = ("bernoulli", "gaussian_fixed")
#: Test images shown (rows): the black-and-white one first.
ROWS = 3
WIDTH = 9.0  # inches: 900 pixels at 100 dpi


def _rows(imgs, n):
    """[(label, data, λ, E[x], index)] of a run's images: its first black-and-white image, then showcase images."""
    rows = []
    if imgs.get("colour_original") is not None and len(imgs["colour_original"]):
        i = int(imgs["colour_indices"][0])
        rows.append(("black and white", imgs["colour_original"][0], imgs["colour_param"][0], imgs["colour_mean"][0], i))
    for k in range(len(imgs["original"])):
        if len(rows) >= n:
            break
        i = int(imgs["indices"][k])
        if all(i != r[4] for r in rows):
            rows.append(("", imgs["original"][k], imgs["param"][k], imgs["mean"][k], i))
    return rows


def _image_of(imgs, index):
    """E[x] of test image `index` in a run's images (showcase or black-and-white), or None."""
    if imgs is None:
        return None
    for key_i, key_m in (("colour_indices", "colour_mean"), ("indices", "mean")):
        if key_i in imgs:
            hits = (imgs[key_i] == index).nonzero()
            if len(hits):
                return imgs[key_m][int(hits[0][0])]
    return None


def _levels(data, image):
    """'white a, black b': the image's mean level on the data's near-white and near-black pixels."""
    from reconloss.evaluation.colour import bw_masks, region_level

    black, white = bw_masks(data[None])
    parts = []
    for name, mask in (("white", white), ("black", black)):
        level = region_level(image[None], mask)
        parts.append(f"{name} {level:.2f}" if level is not None else f"{name} –")
    return ", ".join(parts)


def fig_colour_image(df, dataset, likelihoods, style_map, runs, settings):
    """Rows of test images: data | CB λ | CB E[x] | Bernoulli E[x] | fixed-σ Gaussian E[x] at one β."""
    import matplotlib.pyplot as plt

    from reconloss.report.figures.sheets import _comparison_run

    title = f"{dataset}: continuous Bernoulli on colour images, data | λ | E[x]"
    if CB not in likelihoods:
        return empty_figure(title, f"{CB} is not in this configuration")
    beta, row, imgs = _comparison_run(df, CB, runs, settings["comparison_beta"])
    if imgs is None:
        return empty_figure(title, f"no finished {CB} run with images")
    if imgs["original"].shape[1] != 3:
        return empty_figure(title, "not an RGB data set: see cb_image for grey images")
    comps = []
    for label in COMPARATORS:
        if label in likelihoods:
            d = df[df["likelihood"] == label]
            b, r, im = _comparison_run(d, label, runs, beta)
            comps.append((label, b, im))
    rows = _rows(imgs, ROWS)
    n_cols = 3 + len(comps)
    tile = (WIDTH - 0.5) / n_cols
    fig, axes = plt.subplots(len(rows), n_cols, figsize=(WIDTH, tile * len(rows) + 1.3), squeeze=False,
                             layout="constrained")
    heads = ["data x", "CB λ (parameter)", "CB E[x] (mean)"] + [f"{label} E[x]\n(β {b:g})" for label, b, _ in comps]
    for i, (kind, data, lam, mean, index) in enumerate(rows):
        cells = [data, lam, mean] + [_image_of(im, index) for _, _, im in comps]
        for j, image in enumerate(cells):
            ax = axes[i, j]
            ax.set_xticks([])
            ax.set_yticks([])
            if image is None:
                ax.set_facecolor("0.85")
                ax.text(0.5, 0.5, "no run", ha="center", va="center", transform=ax.transAxes, fontsize=9)
            else:
                imshow(ax, to_display(image))
                ax.set_xlabel(_levels(data, image), fontsize=9)
            if i == 0:
                ax.set_title(heads[j], fontsize=10)
        axes[i, 0].set_ylabel(f"test image #{index}" + (f"\n({kind})" if kind else ""), fontsize=9)
    fig.suptitle(f"{title} (β={beta:g}, seed {int(row['seed'])})\n"
                 f"first row: the test image with the largest near-black and near-white regions; under each tile its "
                 f"mean level\non the data's near-white (every channel ≥ 0.9) and near-black (≤ 0.1) pixels; "
                 f"{INTENSITY}, fixed scale", fontsize=10)
    return fig
