"""The study's figures, one set per dataset, from the summary table and the runs' files.

Each figure tests one claim of the study (see workflow/report/*.rst): which
likelihood gives the best samples and at which β (FID against β), what its
reconstructions look like (the parameter image is not the expected value: CB
desaturates), how much of the [0, 1] range reconstructions reach (dynamic
range), where training breaks (divergence map), what σ a Gaussian learns, and
what samples look like at each likelihood's best β. Missing or diverged runs
are drawn as such, never skipped silently and never a crash: a diverged run is
a result.
"""

import argparse
import json

from reconloss.report.figures.colour import fig_colour_image
from reconloss.report.figures.data import Runs, load_summary
from reconloss.report.figures.evaluation import fig_dynamic_range, fig_fid_bernoulli_vs_cb, fig_fid_vs_beta
from reconloss.report.figures.helpers import empty_figure, likelihood_order, save
from reconloss.report.figures.sheets import fig_cb_image, fig_reconstructions, fig_samples
from reconloss.report.figures.style import styles_of
from reconloss.report.figures.settling import fig_settling
from reconloss.report.figures.training import fig_divergence, fig_sigma
# The figure settings and their defaults, defined once in reconloss.settings.Figures.
from reconloss.settings import FIGURE_SETTINGS as DEFAULT_SETTINGS

#: Figure stems; files are {stem}_{dataset}.{png,pdf}. figures.smk lists the same names.
FIGURES = [
    "cb_image",
    "fid_bernoulli_vs_cb",
    "fid_vs_beta",
    "reconstructions",
    "dynamic_range",
    "divergence",
    "sigma",
    "settling",
    "samples",
    "colour_image",
]


BUILDERS = {
    "cb_image": fig_cb_image,
    "fid_bernoulli_vs_cb": fig_fid_bernoulli_vs_cb,
    "fid_vs_beta": fig_fid_vs_beta,
    "reconstructions": fig_reconstructions,
    "dynamic_range": fig_dynamic_range,
    "divergence": fig_divergence,
    "sigma": fig_sigma,
    "settling": fig_settling,
    "samples": fig_samples,
    "colour_image": fig_colour_image,
}
assert list(BUILDERS) == FIGURES

#: Figures about images of one channel count only (the colour claims): a data set of another count gets a
#: placeholder in results/ (every rule output exists), which docs/study does not publish.
FIGURE_CHANNELS = {"colour_image": 3}


def applies_to(stem, data_shape) -> bool:
    """Whether figure `stem` shows anything for a data set of this (C, H, W) shape (None: unknown, yes)."""
    channels = FIGURE_CHANNELS.get(stem)
    return channels is None or data_shape is None or int(data_shape[0]) == channels


def make_figures(summary, runs_root, out_dir, datasets=None, settings=None, run_dirs=()):
    """Draw every figure of every dataset (or of `datasets`); return the paths written."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import seaborn as sns

    settings = {**DEFAULT_SETTINGS, **(settings or {})}
    unknown = set(settings) - set(DEFAULT_SETTINGS)
    if unknown:
        raise ValueError(f"unknown figure settings {sorted(unknown)}; allowed: {sorted(DEFAULT_SETTINGS)}")
    only = settings["only"] or FIGURES
    bad = set(only) - set(FIGURES)
    if bad:
        raise ValueError(f"unknown figures {sorted(bad)}; allowed: {FIGURES}")
    sns.set_theme(context="paper", style="ticks")
    plt.rcParams.update({"figure.dpi": 100, "savefig.dpi": settings["dpi"], "pdf.fonttype": 42})
    runs = Runs(runs_root, run_dirs)
    datasets = datasets or list(dict.fromkeys(summary["dataset"]))
    written = []
    for dataset in datasets:
        df = summary[summary["dataset"] == dataset].reset_index(drop=True)
        likelihoods = likelihood_order(df)
        style_map = styles_of(df)  # one look per label in every figure of the dataset
        for stem in only:
            if df.empty:
                fig = empty_figure(f"{dataset}: {stem}", f"no runs of {dataset} in the summary")
            else:
                fig = BUILDERS[stem](df, dataset, likelihoods, style_map, runs, settings)
            written += save(fig, out_dir, stem, dataset, settings)
    return written


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m reconloss figures", description=__doc__.splitlines()[0])
    parser.add_argument("--summary", required=True, help="results/tables/summary.csv")
    parser.add_argument("--runs-root", required=True, help="results/runs (holds images.pt and log.csv per run)")
    parser.add_argument("--run-dirs", default="[]",
                        help="JSON [[dataset, label, beta, seed, dir], ...]: rows whose run folder is not their label")
    parser.add_argument("--out-dir", required=True)
    parser.add_argument("--dataset", nargs="+", default=None, help="only these datasets (default: all in summary)")
    parser.add_argument("--settings", default="{}", help=f"JSON, keys: {sorted(DEFAULT_SETTINGS)}")
    args = parser.parse_args(argv)
    written = make_figures(load_summary(args.summary), args.runs_root, args.out_dir,
                           datasets=args.dataset, settings=json.loads(args.settings),
                           run_dirs=json.loads(args.run_dirs))
    for path in written:
        print(f"figures: wrote {path}")
