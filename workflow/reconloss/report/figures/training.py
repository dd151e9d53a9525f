"""The training figures: how the runs trained, from each run's outcome and training log.

Where training breaks (the divergence map: one cell per likelihood and β,
one stripe per seed coloured by how the run ended) and what σ a Gaussian
likelihood learns or predicts over the epochs, both split by family
(reconloss.report.figures.style) so each panel holds a few labels. Each builder takes
one dataset's rows of the summary and returns a figure; reconloss.report.figures
registers and saves them.
"""

from reconloss.report.figures.facets import FIGURE_WIDTH, label_handles, panel_title, side_legend
from reconloss.report.figures.helpers import beta_axis, closest_beta, empty_figure, plain_log_ticks, seed_band, seed_stats
from reconloss.report.figures.style import panels


#: The divergence map's colour of each way a run can end (reconloss.evaluation.outcome), and of a missing run.
OUTCOME_COLOURS = {"ok": (0.62, 0.82, 0.62), "collapsed": (0.98, 0.66, 0.22), "diverged": (0.80, 0.13, 0.13)}
NO_RUN_COLOUR = (0.85, 0.85, 0.85)


def _outcomes(df):
    """Each row's outcome: the summary's column, or reconloss.evaluation.outcome where it lacks one."""
    from reconloss.evaluation.outcome import outcome

    if "outcome" in df:
        return [o if isinstance(o, str) else outcome(r) for o, (_, r) in zip(df["outcome"], df.iterrows())]
    return [outcome(r) for _, r in df.iterrows()]


def _divergence_cells(df, likelihoods, betas, seeds):
    """(rgb image, cell texts) of the map: one row per label, one stripe per seed in each β's cell."""
    import numpy as np

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
    return rgb, text


def fig_divergence(df, dataset, likelihoods, style_map, runs, settings):
    """One panel per family; in it one cell per (label, β), one stripe per seed coloured by how that run ended."""
    import matplotlib.pyplot as plt
    from matplotlib.patches import Patch

    df = df.assign(_outcome=_outcomes(df))
    betas = sorted(df["beta"].unique())
    seeds = sorted(df["seed"].unique())
    groups = panels(style_map, likelihoods)
    heights = [len(labs) + 0.9 for _, labs in groups]
    fig, axes = plt.subplots(len(groups), 1, figsize=(FIGURE_WIDTH, 0.42 * sum(heights) + 1.6), squeeze=False,
                             height_ratios=heights, layout="constrained")
    for ax, (family, labs) in zip(axes[:, 0], groups):
        rgb, text = _divergence_cells(df, labs, betas, seeds)
        ax.imshow(rgb, aspect="auto", interpolation="nearest", extent=(-0.5, len(betas) - 0.5, len(labs) - 0.5, -0.5))
        for j in range(1, len(betas)):
            ax.axvline(j - 0.5, color="white", lw=2)
        for i in range(1, len(labs)):
            ax.axhline(i - 0.5, color="white", lw=2)
        for i in range(len(labs)):
            for j in range(len(betas)):
                ax.text(j, i, text[i][j], ha="center", va="center", fontsize=7, color="black",
                        bbox=dict(boxstyle="round,pad=0.15", fc="white", ec="none", alpha=0.75))
        ax.set_xticks(range(len(betas)))
        ax.set_xticklabels([f"{b:g}" for b in betas])
        ax.set_yticks(range(len(labs)))
        ax.set_yticklabels(labs, fontsize=8)
        ax.tick_params(length=0)
        panel_title(ax, family)
    axes[-1, 0].set_xlabel("β (weight of the KL term)")
    n_div = int((df["_outcome"] == "diverged").sum())
    n_col = int((df["_outcome"] == "collapsed").sum())
    fig.suptitle(f"{dataset}: diverged runs, {n_div} of {len(df)}; collapsed runs, {n_col}\n"
                 "cell: diverged seeds / seeds and their epochs; one stripe per seed "
                 f"({', '.join(str(s) for s in seeds)}, left to right)", fontsize=10)
    handles = [Patch(color=OUTCOME_COLOURS["ok"], label="ok"),
               Patch(color=OUTCOME_COLOURS["collapsed"], label="collapsed (finished; no active latent unit "
                                                              "or prior samples alike)"),
               Patch(color=OUTCOME_COLOURS["diverged"], label="diverged (loss not finite)"),
               Patch(color=NO_RUN_COLOUR, label="no run")]
    fig.legend(handles=handles, title="outcome", loc="outside lower center", ncol=2, fontsize=8,
               title_fontsize=8, frameon=False)
    return fig


def _traces(df, runs):
    """{label: [(row, log)]} of the runs whose training log records a σ."""
    import numpy as np

    traces = {}
    for _, row in df.iterrows():
        log = runs.log(row)
        if log is None or "sigma_mean" not in log or not np.isfinite(log["sigma_mean"]).any():
            continue
        traces.setdefault(row["likelihood"], []).append((row, log))
    return traces


def _trace_panel(ax, labs, traces, beta_shown, style_map):
    """σ over the epochs of each label's runs at its shown β, one line per seed."""
    from matplotlib.ticker import MaxNLocator

    last = 1
    for lik in labs:
        for row, log in traces.get(lik, []):
            if row["beta"] != beta_shown[lik] or not len(log):
                continue
            # a marker per epoch: a one-epoch run is a point, which a line alone would not draw
            ax.plot(log["epoch"], log["sigma_mean"], **style_map[lik].line(lw=1.3, ms=3))
            last = max(last, int(log["epoch"].max()))
            if row["status"] == "diverged":
                ax.plot(log["epoch"].iloc[-1], log["sigma_mean"].iloc[-1], marker="x", mew=2, ms=8, color="red")
    if last <= 10:  # few epochs: one tick each (a single epoch would otherwise get ticks at 0.96, 0.98, ...)
        ax.set_xticks(range(1, last + 1))
        ax.set_xlim(0.5, last + 0.5)
    else:
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    shown = sorted({beta_shown[lik] for lik in labs if lik in beta_shown})
    if shown:
        ax.text(0.02, 0.04, "β = " + ", ".join(f"{b:g}" for b in shown), transform=ax.transAxes, fontsize=7.5)
    else:
        ax.text(0.5, 0.5, "no training log with a σ", ha="center", va="center", transform=ax.transAxes, fontsize=8)
    ax.set_xlabel("epoch")
    ax.set_ylabel("σ (pixel units,\nmean over pixels)")


def _end_panel(ax, df, labs, style_map, end, has_rmse):
    """σ at the end of training against β (seed mean, band min to max) and √MSE as hollow diamonds."""
    for lik in labs:
        st = style_map[lik]
        seed_band(ax, end[end["likelihood"] == lik].sort_values("beta"), st)
        if has_rmse:
            r = seed_stats(df[df["likelihood"] == lik], "rmse").sort_values("beta")
            ax.plot(r["beta"], r["mean"], color=st.colour, marker="D", mfc="white", ms=5, ls="none")
    beta_axis(ax, df["beta"])
    ax.set_ylabel("σ, and √MSE (◇)")


def fig_sigma(df, dataset, likelihoods, style_map, runs, settings):
    """Per family with a σ: its trace over training at one β (left), and at the end against β beside
    √MSE of the reconstructions (right), where a learned σ should settle. Without training logs
    (results copied without runs/) the right column alone, from the summary."""
    import matplotlib.pyplot as plt
    from matplotlib.lines import Line2D

    traces = _traces(df, runs)
    in_summary = set(df.loc[df["sigma_mean"].notna(), "likelihood"]) if "sigma_mean" in df else set()
    liks = [lik for lik in likelihoods if lik in traces or lik in in_summary]
    if not liks:
        return empty_figure(f"{dataset}: σ over training",
                             "no likelihood in this configuration learns or predicts σ\n"
                             "(no sigma_mean in the summary or in any run's log.csv)")
    groups = panels(style_map, liks)
    ncols = 2 if traces else 1
    fig, axes = plt.subplots(len(groups), ncols, figsize=(FIGURE_WIDTH, 2.4 * len(groups) + 1.0), squeeze=False,
                             sharey=True, layout="constrained")
    beta_shown = {lik: closest_beta([r["beta"] for r, _ in traces[lik]], settings["comparison_beta"])
                  for lik in liks if lik in traces}
    end = seed_stats(df, "sigma_mean") if "sigma_mean" in df else seed_stats(df.assign(sigma_mean=float("nan")),
                                                                               "sigma_mean")
    has_rmse = "rmse" in df and df["rmse"].notna().any()
    for row_axes, (family, labs) in zip(axes, groups):
        right = row_axes[-1]
        if traces:
            _trace_panel(row_axes[0], labs, traces, beta_shown, style_map)
        _end_panel(right, df, labs, style_map, end, has_rmse)
        panel_title(row_axes[0], family)
        right.set_title("at the end of training", fontsize=9, loc="right")
        right.tick_params(which="both", labelleft=True)
        for ax in row_axes:
            ax.set_yscale("log")
            plain_log_ticks(ax.yaxis)
            ax.grid(True, which="both", alpha=0.25)
        handles = label_handles(style_map, labs)
        if has_rmse:
            handles.append(Line2D([], [], color="0.3", marker="D", mfc="white", ls="none",
                                  label="√MSE of the reconstructions"))
        side_legend(right, handles)
    where = (f"left: over training at the β closest to {settings['comparison_beta']:g} (one line per seed); right: "
             if traces else "no training logs here: ")
    fig.suptitle(f"{dataset}: σ of the Gaussian likelihoods that learn, predict or compute it, by family\n"
                 f"{where}at the end of training against β (seed mean, band min to max)", fontsize=10)
    return fig
