"""The study's curves and numbers that need no training.

Why a loss behaves as it does in training is mostly visible before any model
is fit: where the Bernoulli cross-entropy has its minimum, how the continuous
Bernoulli (CB) normalizer bends the target away from λ = x, why the CB mean
never reaches the pixel value, why Σ log|x−μ| has no lower bound, and which
β of an MSE-loss β-VAE a fixed-σ Gaussian is. reconloss.analytic.figures
draws those figures and reconloss.analytic.tables writes two tables (CB
values at the edges of (0, 1) in float64 and in float32; the σ ↔ β
correspondence) from reconloss.analytic.numbers; this module names every
file they write, for the workflow rule's outputs, and runs both.

CLI: python -m reconloss analytic --figures-dir DIR --tables-dir DIR
"""

import argparse
from pathlib import Path

from reconloss.analytic.figures import FIGURE_FORMATS, FIGURES, write_figures
from reconloss.analytic.tables import TABLE_FORMATS, TABLES, write_tables


def figure_paths(figures_dir) -> list[str]:
    """Every file `main` writes into figures_dir, in a stable order."""
    return [str(Path(figures_dir) / f"{name}.{ext}") for name in FIGURES for ext in FIGURE_FORMATS]


def table_paths(tables_dir) -> list[str]:
    """Every file `main` writes into tables_dir, in a stable order."""
    return [str(Path(tables_dir) / f"{name}.{ext}") for name in TABLES for ext in TABLE_FORMATS]


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="python -m reconloss analytic", description=__doc__.split("\n")[0])
    parser.add_argument("--figures-dir", required=True, help="where the figures (.png, .pdf) go")
    parser.add_argument("--tables-dir", required=True, help="where cb_edges and sigma_beta (.csv, .md, .tex, .html) go")
    args = parser.parse_args(argv)
    write_tables(args.tables_dir)
    write_figures(args.figures_dir)
