"""Figures of many labels as one panel per family, each with its own legend.

A panel of two dozen lines cannot be read; a column of panels, one per family
(reconloss.report.figures.style.panels), each with at most eight labels and its legend
beside it, can be at the README's width (about 900 pixels: the figure is
FIGURE_WIDTH inches wide, so a panel is more than half of that).
"""

import math

from reconloss.report.figures.style import panels

FIGURE_WIDTH = 9.5  # inches; with the legend outside, the PNG shows at about 900 px in a README
PANEL_HEIGHT = 2.2  # inches, enough for a legend of MAX_PER_PANEL entries at LEGEND_SIZE
LEGEND_SIZE = 8


def facet_figure(style_map, labels, title, panel_height=PANEL_HEIGHT, width=FIGURE_WIDTH, ncols=1):
    """A figure with one axes per family panel of `labels`: (fig, [(ax, panel title, panel labels)])."""
    import matplotlib.pyplot as plt

    groups = panels(style_map, labels)
    nrows = math.ceil(len(groups) / ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(width, panel_height * nrows + 1.0), squeeze=False,
                             layout="constrained")
    for ax in list(axes.flat)[len(groups):]:
        ax.set_visible(False)
    fig.suptitle(title, fontsize=10)
    return fig, [(ax, t, labs) for ax, (t, labs) in zip(axes.flat, groups)]


def label_handles(style_map, labels, finished=None, **kw):
    """Legend handles of labels in their style; a label without a finished run says so."""
    from matplotlib.lines import Line2D

    handles = []
    for lab in labels:
        text = lab if finished is None or lab in finished else f"{lab} (no finished run)"
        handles.append(Line2D([], [], **style_map[lab].line(lw=1.6, ms=5, **kw), label=text))
    return handles


def side_legend(ax, handles, title=None):
    """The panel's legend to its right, outside the data."""
    return ax.legend(handles=handles, title=title, loc="upper left", bbox_to_anchor=(1.01, 1.0),
                     fontsize=LEGEND_SIZE, title_fontsize=LEGEND_SIZE, frameon=False, borderaxespad=0)


def panel_title(ax, text):
    ax.set_title(text, fontsize=9, loc="left", fontweight="bold")


def only_bottom_xlabel(axes):
    """The x label once, under the last panel: every panel keeps its tick labels."""
    for ax in axes[:-1]:
        ax.set_xlabel("")
