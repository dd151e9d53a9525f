"""The evaluation figures drawn as curves over β, from the summary table alone.

FID against β (which likelihood gives the best samples, and at which β), the
Bernoulli against the continuous Bernoulli (the post's comparison, alone in its
figure), and the dynamic range of reconstructions. The grid's figures have one
panel per family (reconloss.report.figures.facets) with every label in its one style
(reconloss.report.figures.style); every panel shares the y range so families can be
compared across panels. Each builder takes one dataset's rows of the summary
and returns a figure; reconloss.report.figures registers and saves them.
"""

import math

from reconloss.report.figures.facets import facet_figure, label_handles, only_bottom_xlabel, panel_title, side_legend
from reconloss.report.figures.helpers import (
    FID_LABEL, beta_axis, diverged_marks, empty_figure, placeholder, plain_log_ticks, seed_note,
    seed_band, seed_stats,
)

DIVERGED_HANDLE = dict(color="0.3", marker="x", mew=2, linestyle="none",
                       label="diverged run(s) at this β\n(grey strip, one row per label)")


def _finished(df):
    return set(df.loc[df["status"] == "ok", "likelihood"])


def _fid_limits(df, column, extra=()):
    """(low, high, log) of the seed statistics of `column` and `extra` values, or None when none is finite."""
    stats = seed_stats(df, column)
    values = [v for v in stats["min"].tolist() + stats["max"].tolist() + list(extra) if math.isfinite(v)]
    if not values:
        return None
    lo, hi = min(values), max(values)
    log = lo > 0 and hi / lo > 30
    if log:
        return lo / 1.15, hi * 1.15, True
    pad = 0.06 * (hi - lo or abs(hi) or 1.0)
    return lo - pad, hi + pad, False


def best_of_grid(df, column):
    """Per β, the lowest seed-mean `column` of any label: the reference line drawn in every panel, so
    that a family can be read against the whole grid while each panel keeps its own y range."""
    stats = seed_stats(df, column)
    return stats.groupby("beta")["mean"].min().sort_index()


def _fid_panel(ax, df, likelihoods, style_map, column, ylabel, limits, strip_rows, reference=None):
    """Seed mean and min-max band per β (seaborn's lineplot: its estimator and errorbar do the seed
    statistics); `reference`, a series over β, is drawn as a grey dashed line; returns the legend handles."""
    import seaborn as sns
    from matplotlib.lines import Line2D

    finished = df[(df["status"] == "ok") & df[column].notna()]
    for lik in likelihoods:
        runs = finished[finished["likelihood"] == lik]
        if len(runs):
            st = style_map[lik]
            sns.lineplot(data=runs, x="beta", y=column, estimator="mean", errorbar=("pi", 100), marker=st.marker,
                         color=st.colour, linestyle=st.linestyle, lw=1.6, ms=5, mec=st.colour,
                         err_kws={"alpha": 0.15, "lw": 0}, legend=False, ax=ax)
    if reference is not None and len(reference):
        ax.plot(reference.index, reference.values, color="0.55", ls=(0, (3, 2)), lw=1.2, zorder=1)
    beta_axis(ax, df["beta"])
    if limits:
        lo, hi, log = limits
        if log:
            ax.set_yscale("log")
            plain_log_ticks(ax.yaxis)
            ylabel += "\n(log scale)"
        ax.set_ylim(lo, hi)
    handles = label_handles(style_map, likelihoods, finished=set(finished["likelihood"]))
    if reference is not None and len(reference):
        handles.append(Line2D([], [], color="0.55", ls=(0, (3, 2)), lw=1.2, label="best of all labels at each β"))
    if diverged_marks(ax, df, likelihoods, style_map, n_rows=strip_rows):
        handles.append(Line2D([], [], **DIVERGED_HANDLE))
    ax.set_ylabel(ylabel)
    ax.grid(True, which="major", alpha=0.3)
    if finished.empty:
        ax.text(0.5, 0.5, "no finished run with a FID", ha="center", va="center", transform=ax.transAxes)
    return handles


def _strip_rows(df, groups):
    """The most labels with a diverged run in any one panel: every panel's strip gets that height."""
    div = set(df.loc[df["status"] == "diverged", "likelihood"])
    return max((len([lab for lab in labs if lab in div]) for labs in groups), default=0)


def fig_fid_vs_beta(df, dataset, likelihoods, style_map, runs, settings):
    fig, cells = facet_figure(style_map, likelihoods,
                              f"{dataset}: sample {FID_LABEL} against β, one panel per family\n"
                              f"{seed_note(df)}; grey dashed: the best FID of any label at that β")
    rows = _strip_rows(df, [labs for _, _, labs in cells])
    reference = best_of_grid(df, "fid")
    for ax, title, labs in cells:
        sub = df[df["likelihood"].isin(labs)]
        limits = _fid_limits(sub, "fid", reference.values)
        handles = _fid_panel(ax, sub, labs, style_map, "fid", "FID", limits, rows, reference)
        panel_title(ax, title)
        side_legend(ax, handles)
    only_bottom_xlabel([ax for ax, _, _ in cells])
    return fig


CB_NAMES = ("bernoulli", "continuous_bernoulli")


def fig_fid_bernoulli_vs_cb(df, dataset, likelihoods, style_map, runs, settings):
    """The post's comparison alone: Bernoulli and CB (and their variants), samples and reconstructions."""
    import matplotlib.pyplot as plt
    from matplotlib.lines import Line2D

    names = df["likelihood_name"] if "likelihood_name" in df else df["likelihood"]
    sub = df[names.isin(CB_NAMES)]
    liks = [lik for lik in likelihoods if lik in set(sub["likelihood"])]
    if not liks:
        return empty_figure(f"{dataset}: Bernoulli against continuous Bernoulli",
                             "neither bernoulli nor continuous_bernoulli is in this configuration")
    fig, axes = plt.subplots(1, 2, figsize=(9.5, 3.8), layout="constrained")
    has_recon = "fid_recon" in sub and sub["fid_recon"].notna().any()
    rows = _strip_rows(sub, [liks])
    handles = _fid_panel(axes[0], sub, liks, style_map, "fid", "FID of samples\n(lower is better)",
                         _fid_limits(sub, "fid"), rows)
    axes[0].set_title("samples: E[x | z], z ~ N(0, I)", fontsize=9)
    if has_recon:
        _fid_panel(axes[1], sub, liks, style_map, "fid_recon", "FID of test reconstructions\n(lower is better)",
                   _fid_limits(sub, "fid_recon"), rows)
        axes[1].set_title("reconstructions of test images: E[x | z]", fontsize=9)
    else:
        placeholder(axes[1], "no reconstruction FID recorded")
    for name in CB_NAMES:
        if not (names[sub.index] == name).any():
            handles.append(Line2D([], [], color="none", label=f"{name}: not in this configuration"))
    fig.suptitle(f"{dataset}: Bernoulli against continuous Bernoulli, FID over β\n{seed_note(df)}", fontsize=10)
    fig.legend(handles=handles, loc="outside lower center", ncol=min(3, len(handles)), fontsize=8, frameon=False)
    return fig


def _level_lines(ax, df, labs, style_map, column, param_column):
    """One label's seed-mean level against β with its min-max band; the parameter image's level as
    hollow markers in the same colour (no line: the lines are the expected values)."""
    stats = seed_stats(df, column)
    pstats = seed_stats(df, param_column) if param_column in df and df[param_column].notna().any() else None
    for lik in labs:
        st = style_map[lik]
        s = stats[stats["likelihood"] == lik].sort_values("beta")
        seed_band(ax, s, st)
        if pstats is not None:
            p = pstats[pstats["likelihood"] == lik].sort_values("beta")
            if len(p) and not (len(s) == len(p) and (abs(p["mean"].values - s["mean"].values) < 2e-3).all()):
                ax.plot(p["beta"], p["mean"], color=st.colour, marker=st.marker, mfc="white", ms=5, ls="none")


def fig_dynamic_range(df, dataset, likelihoods, style_map, runs, settings):
    """Black level (lower curves) and white level (upper curves) of each label in one panel per family:
    the gap between a label's two curves is the range its reconstructions reach."""
    from matplotlib.lines import Line2D

    have = [c for c in ("black_level", "white_level") if c in df and df[c].notna().any()]
    if not have:
        return empty_figure(f"{dataset}: dynamic range", "no black_level or white_level recorded")
    fig, cells = facet_figure(style_map, likelihoods,
                              f"{dataset}: dynamic range of reconstructions (expected values) against β\n"
                              "upper curves: mean reconstruction on white data pixels; lower curves: on black ones\n"
                              f"{seed_note(df)}")
    rows = _strip_rows(df, [labs for _, _, labs in cells])
    any_param = any(f"param_{c}" in df and df[f"param_{c}"].notna().any() for c in have)
    for ax, title, labs in cells:
        sub = df[df["likelihood"].isin(labs)]
        for col in have:
            _level_lines(ax, sub, labs, style_map, col, "param_" + col)
        for data_col in ("data_black_level", "data_white_level"):
            if data_col in df and df[data_col].notna().any():
                ax.axhline(float(df[data_col].dropna().mean()), color="black", ls=(0, (4, 3)), lw=1.0, zorder=1)
        beta_axis(ax, df["beta"])
        ax.set_ylim(-0.03, 1.03)
        ax.set_yticks([0, 0.25, 0.5, 0.75, 1.0])
        ax.set_ylabel("level\n(0 = black, 1 = white)")
        ax.grid(True, alpha=0.3)
        handles = label_handles(style_map, labs, finished=set(sub.loc[sub["status"] == "ok", "likelihood"]))
        if diverged_marks(ax, sub, labs, style_map, n_rows=rows):
            handles.append(Line2D([], [], **DIVERGED_HANDLE))
        panel_title(ax, title)
        side_legend(ax, handles)
    only_bottom_xlabel([ax for ax, _, _ in cells])
    key = [Line2D([], [], color="black", ls=(0, (4, 3)), label="level of the data (black and white pixels)")]
    if any_param:
        key.append(Line2D([], [], color="0.3", marker="o", mfc="white", ls="none",
                          label="parameter image's level (λ, mode, ...) where it differs from E[x]"))
    fig.legend(handles=key, loc="outside lower center", ncol=2, fontsize=8, frameon=False)
    return fig
