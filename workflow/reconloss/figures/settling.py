"""The settling figure: how much each label's training loss still moved, epoch by epoch.

A claim about a level (a FID, where σ ends) is decided only once the runs behind
it have settled (reconloss.claims.evidence.LOSS_SETTLED). This is the evidence a
reader can check: per family, for each label, the largest relative change of the
training loss from one epoch to the next over its runs (every β and seed that
finished), on a log scale, with the limit the claims use as a dashed line. A
label whose line ends below it has settled; one that ends above it has not, and
its claims say "inconclusive".
"""

from reconloss.figures.facets import FIGURE_WIDTH, PANEL_HEIGHT, label_handles, panel_title, side_legend
from reconloss.figures.helpers import empty_figure
from reconloss.figures.style import panels


def changes(df, runs):
    """{label: {epoch: largest |L_e − L_{e−1}| / |L_e| over the label's finished runs}} from their log.csv."""
    import numpy as np

    out = {}
    for _, row in df[df["outcome"] == "ok"].iterrows():
        log = runs.log(row)
        if log is None or len(log) < 2 or "loss" not in log:
            continue
        loss = log["loss"].to_numpy(dtype=float)
        rel = np.abs(np.diff(loss)) / np.maximum(np.abs(loss[1:]), np.finfo(float).tiny)
        worst = out.setdefault(row["likelihood"], {})
        for epoch, value in zip(log["epoch"].to_numpy()[1:], rel):
            if np.isfinite(value):
                worst[int(epoch)] = max(worst.get(int(epoch), 0.0), float(value))
    return out


def fig_settling(df, dataset, likelihoods, style_map, runs, settings):
    import matplotlib.pyplot as plt

    from reconloss.claims.evidence import LOSS_SETTLED

    moved = changes(df, runs)
    labels = [lab for lab in likelihoods if moved.get(lab)]
    if not labels:
        return empty_figure(f"{dataset}: settling", "no finished run with two or more epochs in its training log")
    groups = panels(style_map, labels)
    fig, axes = plt.subplots(len(groups), 1, figsize=(FIGURE_WIDTH, PANEL_HEIGHT * len(groups) + 0.9), squeeze=False,
                             sharex=True, layout="constrained")
    for ax, (family, labs) in zip(axes[:, 0], groups):
        for lab in labs:
            epochs = sorted(moved[lab])
            ax.plot(epochs, [max(moved[lab][e], 1e-6) for e in epochs], **style_map[lab].line(lw=1.4, ms=3.5))
        ax.axhline(LOSS_SETTLED, color="0.3", ls="--", lw=1)
        ax.set_yscale("log")
        ax.set_ylabel("|ΔL| / |L| per epoch\n(worst run over β, seeds)")
        ax.grid(True, which="major", alpha=0.25)
        panel_title(ax, family)
        side_legend(ax, label_handles(style_map, labs))
    from matplotlib.ticker import MaxNLocator

    last = max(max(m) for m in moved.values())
    axes[-1, 0].xaxis.set_major_locator(MaxNLocator(integer=True))
    axes[-1, 0].set_xlim(1.5, last + 0.5)  # the first change is from epoch 1 to 2
    axes[-1, 0].set_xlabel("epoch")
    fig.suptitle(f"{dataset}: how much the training loss still moved, epoch to epoch (dashed: the claims' limit "
                 f"{LOSS_SETTLED:.0%})", fontsize=10)
    return fig
