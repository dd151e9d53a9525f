"""The evaluation figures: what the trained models do, from each run's metrics and images.

FID against β (which likelihood gives the best samples, and at which β), the
Bernoulli against the continuous Bernoulli, reconstructions (the parameter
image is not the expected value: CB desaturates), the dynamic range of
reconstructions, and samples at each likelihood's best β. Each builder takes
one dataset's rows of the summary and returns a figure; reconloss.figures
registers and saves them.
"""

import math

from reconloss.figures.helpers import (
    DIVERGED_COLOUR, FID_LABEL, INTENSITY, MARKERS, beta_axis, closest_beta, diverged_marks, empty_figure, imshow,
    montage, param_label, placeholder, plain_log_ticks, seed_note, seed_stats, to_display, wrap_label,
)


def _fid_panel(ax, df, likelihoods, colours, column, ylabel):
    """Seed mean and min-max band per β (seaborn's lineplot: its estimator and errorbar do the seed statistics)."""
    import seaborn as sns
    from matplotlib.lines import Line2D

    stats = seed_stats(df, column)
    finished = df[(df["status"] == "ok") & df[column].notna()]
    handles = []
    for i, lik in enumerate(likelihoods):
        runs = finished[finished["likelihood"] == lik]
        marker = MARKERS[i % len(MARKERS)]
        if len(runs):
            sns.lineplot(data=runs, x="beta", y=column, estimator="mean", errorbar=("pi", 100), marker=marker,
                         color=colours[lik], lw=1.8, ms=5, mec=colours[lik], err_kws={"alpha": 0.18, "lw": 0},
                         legend=False, ax=ax)
            label = lik
        else:
            label = f"{lik} (no finished run)"
        handles.append(Line2D([], [], color=colours[lik], marker=marker, lw=1.8, ms=5, label=label))
    beta_axis(ax, df["beta"])
    values = stats["mean"].tolist() + stats["max"].tolist() + stats["min"].tolist()
    values = [v for v in values if v > 0 and math.isfinite(v)]
    if values and max(values) / min(values) > 30:
        ax.set_yscale("log")
        plain_log_ticks(ax.yaxis)
        ylabel += "\n(log scale)"
    if diverged_marks(ax, df, likelihoods, colours):
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
    ax.set_title(f"{dataset}: sample FID against β\n{seed_note(df)}")
    ax.legend(handles=handles, title="likelihood", loc="upper left", bbox_to_anchor=(1.01, 1), fontsize=8)
    return fig


CB_NAMES = ("bernoulli", "continuous_bernoulli")


def fig_fid_bernoulli_vs_cb(df, dataset, likelihoods, colours, runs, settings):
    import matplotlib.pyplot as plt

    names = df["likelihood_name"] if "likelihood_name" in df else df["likelihood"]
    sub = df[names.isin(CB_NAMES)]
    liks = [lik for lik in likelihoods if lik in set(sub["likelihood"])]
    if not liks:
        return empty_figure(f"{dataset}: Bernoulli against continuous Bernoulli",
                             "neither bernoulli nor continuous_bernoulli is in this configuration")
    fig, axes = plt.subplots(1, 2, figsize=(10, 4.2), sharex=True)
    handles = _fid_panel(axes[0], sub, liks, colours, "fid", FID_LABEL)
    axes[0].set_title("samples (decoded z ~ N(0, I))")
    if "fid_recon" in sub and sub["fid_recon"].notna().any():
        _fid_panel(axes[1], sub, liks, colours, "fid_recon", "FID of test reconstructions (lower is better)")
        axes[1].set_title("reconstructions of test images")
    else:
        placeholder(axes[1], "no reconstruction FID recorded")
    from matplotlib.lines import Line2D

    for name in CB_NAMES:
        if not (names[sub.index] == name).any():
            handles.append(Line2D([], [], color="none", label=f"{name}: not in this configuration"))
    fig.suptitle(f"{dataset}: Bernoulli against continuous Bernoulli, FID of expected values\n{seed_note(df)}")
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
        return empty_figure(f"{dataset}: reconstructions", "no finished run with reconstructions")
    reference = with_images[0][3]
    originals = reference["original"][:n_show]
    n, h, w = originals.shape[0], originals.shape[-2], originals.shape[-1]
    gap, group_gap = max(1, h // 8), max(3, w // 2)

    def rgb(t):
        a = to_display(t)
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
        header = wrap_label(lik) + f"\nβ={beta:g}" + ("" if row is None else f"\nseed {int(row['seed'])}")
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

    # tall enough for the legend beside the panels: with two dozen likelihoods it would squash them
    fig, axes = plt.subplots(1, 2, figsize=(11, max(4.3, 0.24 * len(likelihoods) + 1.8)), sharex=True)
    handles = []
    panels = [("black_level", "data_black_level", "black level: mean reconstruction\non black data pixels"),
              ("white_level", "data_white_level", "white level: mean reconstruction\non white data pixels")]
    for ax, (col, data_col, title) in zip(axes, panels):
        if col not in df or not df[col].notna().any():
            placeholder(ax, f"no {col} recorded")
            ax.set_title(title)
            continue
        stats = seed_stats(df, col)
        for i, lik in enumerate(likelihoods):
            s = stats[stats["likelihood"] == lik].sort_values("beta")
            if len(s):
                ax.plot(s["beta"], s["mean"], marker=MARKERS[i % len(MARKERS)], color=colours[lik], lw=1.6, ms=5)
                ax.fill_between(s["beta"], s["min"], s["max"], color=colours[lik], alpha=0.18, lw=0)
        param_col = "param_" + col
        if param_col in df and df[param_col].notna().any():
            pstats = seed_stats(df, param_col)
            for lik in likelihoods:
                s = pstats[pstats["likelihood"] == lik].sort_values("beta")
                if len(s):
                    ax.plot(s["beta"], s["mean"], color=colours[lik], lw=1.2, ls=":")
        if data_col in df and df[data_col].notna().any():
            ax.axhline(float(df[data_col].dropna().mean()), color="black", ls="--", lw=1.2)
        beta_axis(ax, df["beta"])
        ax.set_ylim(-0.03, 1.03)
        ax.set_yticks([0, 0.2, 0.4, 0.6, 0.8, 1.0])
        diverged_marks(ax, df, likelihoods, colours)
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
    fig.suptitle(f"{dataset}: dynamic range of reconstructions (expected values) against β\n{seed_note(df)}")
    fig.tight_layout()
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
            placeholder(ax, msg)
            ax.set_ylabel(lik, rotation=0, ha="right", va="center", fontsize=8)
            continue
        tiles = [to_display(x) for x in imgs["sample_mean"][:n]]
        imshow(ax, montage(tiles, len(tiles), gap))
        ax.set_xticks([])
        ax.set_yticks([])
        ax.text(1.01, 0.5, f"β={b['best_beta']:g}\nFID {b['fid']:.3g}", transform=ax.transAxes,
                fontsize=7, va="center")
    fig.suptitle(f"{dataset}: samples (expected value of p(x|z), z ~ N(0, I)) at each likelihood's best β\n"
                 f"best β: lowest mean sample FID over seeds; {INTENSITY}", fontsize=9, y=1 - 0.05 / fig_h, va="top")
    fig.subplots_adjust(left=0.25, right=0.86, hspace=0.15, top=1 - 0.5 / fig_h, bottom=0.1 / fig_h)
    return fig
