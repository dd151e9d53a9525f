"""The settling figure: how much each label's training loss and σ still moved, epoch by epoch.

A claim about a level (a FID, where σ ends) is decided only once the runs behind
it have settled (reconloss.claims.evidence.LOSS_SETTLED, SIGMA_SETTLED). This is
the evidence a reader can check: per family, for each label, the largest
relative change of the training loss from one epoch to the next over its runs
(every β and seed that finished), on a log scale, with the limit the claims use
as a dashed line; and, in a last panel, the largest change of log σ per epoch of
the labels whose σ is learned, predicted or computed. A label whose line ends
below its limit has settled; one that ends above it has not, and its claims say
"inconclusive".
"""

from reconloss.report.figures.facets import FIGURE_WIDTH, PANEL_HEIGHT, label_handles, panel_title, side_legend
from reconloss.report.figures.helpers import empty_figure
from reconloss.report.figures.style import MAX_PER_PANEL, panels


def changes(df, runs, column="loss"):
    """{label: {epoch: largest change per epoch over the label's finished runs}} from their log.csv.

    column "loss": |L_e − L_{e−1}| / |L_e|, the change relative to the level; "sigma_mean": |log σ_e −
    log σ_{e−1}|, the change of log σ (as reconloss.evaluation.settling measures its trends)."""
    import numpy as np

    out = {}
    for _, row in df[df["outcome"] == "ok"].iterrows():
        log = runs.log(row)
        if log is None or len(log) < 2 or column not in log:
            continue
        values = log[column].to_numpy(dtype=float)
        if column == "loss":
            rel = np.abs(np.diff(values)) / np.maximum(np.abs(values[1:]), np.finfo(float).tiny)
        else:
            with np.errstate(divide="ignore", invalid="ignore"):
                rel = np.abs(np.diff(np.log(values)))
        worst = out.setdefault(row["likelihood"], {})
        for epoch, value in zip(log["epoch"].to_numpy()[1:], rel):
            if np.isfinite(value):
                worst[int(epoch)] = max(worst.get(int(epoch), 0.0), float(value))
    return out


def fig_settling(df, dataset, likelihoods, style_map, runs, settings):
    import matplotlib.pyplot as plt

    from reconloss.claims.evidence import LOSS_SETTLED, SIGMA_SETTLED

    moved = changes(df, runs)
    sigma = changes(df, runs, "sigma_mean")
    labels = [lab for lab in likelihoods if moved.get(lab)]
    if not labels:
        return empty_figure(f"{dataset}: settling", "no finished run with two or more epochs in its training log")
    groups = [(family, labs, moved, LOSS_SETTLED, "|ΔL| / |L| per epoch\n(worst run over β, seeds)")
              for family, labs in panels(style_map, labels)]
    sigma_labels = [lab for lab in likelihoods if sigma.get(lab)]
    for start in range(0, len(sigma_labels), MAX_PER_PANEL):  # a panel's labels stay few enough to tell apart
        groups.append(("σ (learned, predicted or optimal)", sigma_labels[start:start + MAX_PER_PANEL], sigma,
                       SIGMA_SETTLED, "|Δ log σ| per epoch\n(worst run over β, seeds)"))
    fig, axes = plt.subplots(len(groups), 1, figsize=(FIGURE_WIDTH, PANEL_HEIGHT * len(groups) + 0.9), squeeze=False,
                             sharex=True, layout="constrained")
    for ax, (family, labs, values, limit, ylabel) in zip(axes[:, 0], groups):
        for lab in labs:
            epochs = sorted(values[lab])
            ax.plot(epochs, [max(values[lab][e], 1e-6) for e in epochs], **style_map[lab].line(lw=1.4, ms=3.5))
        ax.axhline(limit, color="0.3", ls="--", lw=1)
        ax.set_yscale("log")
        ax.set_ylabel(ylabel)
        ax.grid(True, which="major", alpha=0.25)
        panel_title(ax, family)
        side_legend(ax, label_handles(style_map, labs))
    from matplotlib.ticker import MaxNLocator

    last = max(max(m) for m in moved.values())
    axes[-1, 0].xaxis.set_major_locator(MaxNLocator(integer=True))
    axes[-1, 0].set_xlim(1.5, last + 0.5)  # the first change is from epoch 1 to 2
    axes[-1, 0].set_xlabel("epoch")
    fig.suptitle(f"{dataset}: how much the training loss and σ still moved, epoch to epoch (dashed: the claims' "
                 f"limits, {LOSS_SETTLED:.0%} of the loss and {SIGMA_SETTLED} in log σ)", fontsize=10)
    return fig
