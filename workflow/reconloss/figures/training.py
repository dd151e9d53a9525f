"""The training figures: how the runs trained, from each run's outcome and training log.

Where training breaks (the divergence map: one cell per likelihood and β,
one stripe per seed coloured by how the run ended) and what σ a Gaussian
likelihood learns or predicts over the epochs. Each builder takes one
dataset's rows of the summary and returns a figure; reconloss.figures
registers and saves them.
"""

import math

from reconloss.figures.helpers import empty_figure, finite, plain_log_ticks


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
    from matplotlib.ticker import MaxNLocator

    traces = {}  # likelihood -> list of (row, log)
    for _, row in df.iterrows():
        log = runs.log(row)
        if log is None or "sigma_mean" not in log or not np.isfinite(log["sigma_mean"]).any():
            continue
        traces.setdefault(row["likelihood"], []).append((row, log))
    liks = [lik for lik in likelihoods if lik in traces]
    if not liks:
        return empty_figure(f"{dataset}: σ over training",
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
            # a marker per epoch: a one-epoch run is a point, which a line alone would not draw
            ax.plot(log["epoch"], log["sigma_mean"], color=colour, ls=ls, lw=1.5, marker="o", ms=3)
            if row["status"] == "diverged" and len(log):
                ax.plot(log["epoch"].iloc[-1], log["sigma_mean"].iloc[-1], marker="x", mew=2, ms=8, color="red")
            elif finite(row.get("rmse")) and len(log):
                # sqrt(MSE) of the final model beside its sigma: where a learned sigma settles
                ax.plot(log["epoch"].iloc[-1], row["rmse"], marker="D", mfc="none", mew=1.5, ms=6, color=colour,
                        ls="none")
        ax.set_yscale("log")
        plain_log_ticks(ax.yaxis)
        ax.set_title(lik, fontsize=10)
        ax.set_xlabel("epoch")
        last = max((int(log["epoch"].max()) for _, log in traces[lik] if len(log)), default=1)
        if last <= 10:  # few epochs: one tick each (a single epoch would otherwise get ticks at 0.96, 0.98, ...)
            ax.set_xticks(range(1, last + 1))
            ax.set_xlim(0.5, last + 0.5)
        else:
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))
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
    if any(finite(row.get("rmse")) for lik in liks for row, _ in traces[lik]):
        handles.append(Line2D([], [], color="0.3", marker="D", mfc="none", ls="none",
                              label="√MSE of the final model\n(test set, beside its σ)"))
    if any(row["status"] == "diverged" for lik in liks for row, _ in traces[lik]):
        handles.append(Line2D([], [], color="red", marker="x", mew=2, ls="none", label="last epoch before divergence"))
    if handles:
        axes.flat[0].legend(handles=handles, fontsize=7, loc="best")
    fig.suptitle(f"{dataset}: learned, predicted or optimal σ of the Gaussian likelihoods over training\n"
                 "(mean over pixels and images at the end of each epoch), and √MSE at the end", fontsize=10)
    return fig
