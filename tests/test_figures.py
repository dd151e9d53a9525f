"""The study's figures, drawn from a fabricated results tree (tests/fake_results.py).

Beyond "a file was written": every figure is titled and its axes labelled, the
images shown are the run's own pixels on a fixed [0, 1] scale, the β and the
runs each figure picks are the ones the study defines, and diverged or missing
runs are drawn as such.
"""

import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

from fake_results import BETAS, LIKELIHOODS, make_results_tree  # noqa: E402
from reconloss import figures, tables  # noqa: E402
from reconloss.figures import data as figures_data  # noqa: E402
from reconloss.figures import evaluation as figures_evaluation  # noqa: E402
from reconloss.figures import helpers as figures_helpers  # noqa: E402
from reconloss.figures import training as figures_training  # noqa: E402

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def tree(tmp_path_factory):
    """results/ with runs of digits (8x8 grey) and cifar10 (32x32 colour), and its summary table."""
    root = tmp_path_factory.mktemp("fake") / "results"
    paths = make_results_tree(root)
    tables.main(["--metrics", *map(str, paths), "--out-dir", str(root / "tables")])
    return root


@pytest.fixture(scope="module")
def digits(tree):
    summary = figures_data.load_summary(tree / "tables" / "summary.csv")
    df = summary[summary["dataset"] == "digits"].reset_index(drop=True)
    likelihoods = figures_helpers.likelihood_order(df)
    return df, likelihoods, figures_helpers.palette(likelihoods), figures_data.Runs(tree / "runs")


def draw(stem, digits, **settings):
    df, likelihoods, colours, runs = digits
    return figures.BUILDERS[stem](df, "digits", likelihoods, colours, runs, {**figures.DEFAULT_SETTINGS, **settings})


def all_text(fig):
    texts = [t.get_text() for t in fig.findobj(matplotlib.text.Text)]
    return "\n".join(texts)


def test_closest_beta_is_closest_on_a_log_scale():
    assert figures_helpers.closest_beta([1.0, 10.0], 5.0) == 10.0  # linearly 1 is closer; on a log scale 10 is
    assert figures_helpers.closest_beta([0.1, 1.0, 4.0], 1.0) == 1.0
    assert figures_helpers.closest_beta([0.5, 2.0], 1.0) == 0.5  # a tie goes to the smaller β
    assert figures_helpers.closest_beta([3.0], 100.0) == 3.0


def test_parse_run_dir_reads_the_workflow_layout():
    assert figures_data.parse_run_dir("results/runs/digits/continuous_bernoulli/beta~1e-05/seed~3") == (
        "digits", "continuous_bernoulli", 1e-05, 3)
    with pytest.raises(ValueError):
        figures_data.parse_run_dir("results/runs/digits/bernoulli")


@pytest.mark.parametrize("stem", figures.FIGURES)
def test_every_figure_is_titled_and_labelled(stem, digits):
    fig = draw(stem, digits)
    try:
        title = fig._suptitle.get_text() if fig._suptitle else ""
        axes = [ax for ax in fig.axes if ax.get_visible()]
        titles = [ax.get_title() for ax in axes]
        assert "digits" in title + "".join(titles), f"{stem}: no title naming the dataset"
        for ax in axes:
            if ax.get_label() == "<colorbar>":
                assert ax.get_xlabel() or ax.get_ylabel(), f"{stem}: unlabelled colour bar"
                continue
            if ax.images or not (ax.lines or ax.collections):
                continue  # image panels: labelled by their title/tick labels and the intensity note
            assert ax.get_xlabel() and ax.get_ylabel(), f"{stem}: axes without labels ({ax.get_title()!r})"
        assert "β" in all_text(fig) or stem == "sigma"
    finally:
        plt.close(fig)


def find_block(canvas, block):
    """Column offset where `block` (H, w[, 3]) sits in `canvas` (H, W[, 3]), or None."""
    w = block.shape[1]
    for x in range(canvas.shape[1] - w + 1):
        if np.allclose(canvas[:, x:x + w], block, atol=1e-6):
            return x
    return None


def test_reconstruction_sheet_shows_the_runs_own_pixels(digits, tree):
    df, *_ = digits
    fig = draw("reconstructions", digits, comparison_beta=1.0, n_show=4)
    try:
        ax = next(ax for ax in fig.axes if ax.images)
        canvas = np.asarray(ax.images[0].get_array())[..., 0]  # grey images are drawn as equal RGB channels
        imgs = torch.load(tree / "runs/digits/continuous_bernoulli/beta~1/seed~0/images.pt", weights_only=True)
        h, gap = 8, 1

        def column(t):
            col = np.ones((4 * h + 3 * gap, h))
            for i in range(4):
                col[i * (h + gap):i * (h + gap) + h] = t[i, 0].clamp(0, 1).numpy()
            return col

        x_param = find_block(canvas, column(imgs["param"]))
        x_mean = find_block(canvas, column(imgs["mean"]))
        assert x_param is not None and x_mean == x_param + h + gap  # parameter image, then expected value
        assert find_block(canvas, column(imgs["original"])) == 0
        # CB's expected value is desaturated: its darkest pixel is visibly above black
        assert column(imgs["mean"]).min() > 0.2 and column(imgs["original"]).min() == 0.0
        text = all_text(fig)
        assert "β=1" in text and "param" in text and "E[x]" in text
        assert "diverged\nat every\nseed" in text  # the likelihood `beta` never finished
    finally:
        plt.close(fig)


def test_reconstruction_sheet_uses_the_beta_closest_to_the_setting(digits):
    fig = draw("reconstructions", digits, comparison_beta=3.0)
    try:
        text = all_text(fig)
        assert text.count("β=4") == len(LIKELIHOODS)  # ln 3 is nearer ln 4 than ln 1
        assert "β=1\n" not in text
    finally:
        plt.close(fig)


def test_reconstruction_sheet_in_colour(tree):
    summary = figures_data.load_summary(tree / "tables" / "summary.csv")
    df = summary[summary["dataset"] == "cifar10"].reset_index(drop=True)
    liks = figures_helpers.likelihood_order(df)
    fig = figures_evaluation.fig_reconstructions(df, "cifar10", liks, figures_helpers.palette(liks),
                                                 figures_data.Runs(tree / "runs"), figures.DEFAULT_SETTINGS)
    try:
        ax = next(ax for ax in fig.axes if ax.images)
        canvas = np.asarray(ax.images[0].get_array())
        imgs = torch.load(tree / "runs/cifar10/bernoulli/beta~1/seed~0/images.pt", weights_only=True)
        first = imgs["mean"][0].permute(1, 2, 0).clamp(0, 1).numpy()
        assert canvas.ndim == 3 and any(
            np.allclose(canvas[:32, x:x + 32], first, atol=1e-6) for x in range(canvas.shape[1] - 31))
    finally:
        plt.close(fig)


def test_divergence_map_counts_seeds_and_names_epochs(digits):
    df, likelihoods, *_ = digits
    fig = draw("divergence", digits)
    try:
        ax = fig.axes[0]
        cells = {(round(t.get_position()[1]), round(t.get_position()[0])): t.get_text() for t in ax.texts}
        row = likelihoods.index("gaussian_learned_global")
        expected_epoch = int(df.loc[(df["likelihood"] == "gaussian_learned_global") & (df["status"] == "diverged"),
                                    "diverged_epoch"].iloc[0])
        assert cells[(row, 0)] == f"1/2\nepoch {expected_epoch}"
        assert cells[(row, 1)] == "0/2"
        assert all(cells[(likelihoods.index("beta"), j)].startswith("2/2") for j in range(len(BETAS)))
        # one stripe per seed, coloured by outcome: beta all diverged, bernoulli's largest β seed 0 collapsed
        rgb = np.asarray(ax.images[0].get_array())
        assert rgb.shape == (len(likelihoods), 2 * len(BETAS), 3)
        colour = {k: np.array(v) for k, v in figures_training.OUTCOME_COLOURS.items()}
        assert np.allclose(rgb[likelihoods.index("beta")], colour["diverged"])
        bern = likelihoods.index("bernoulli")
        assert np.allclose(rgb[bern, -2], colour["collapsed"]) and np.allclose(rgb[bern, -1], colour["ok"])
        assert np.allclose(rgb[bern, :-2], colour["ok"])
        assert cells[(bern, len(BETAS) - 1)] == "0/2\n1 collapsed"
        assert np.allclose(rgb[row, 0], colour["ok"]) and np.allclose(rgb[row, 1], colour["diverged"])
        assert "diverged runs, 7 of 30; collapsed runs, 1" in ax.get_title()
        legend = [t.get_text() for t in ax.get_legend().get_texts()]
        assert legend[0] == "ok" and legend[1].startswith("collapsed") and legend[2].startswith("diverged")
    finally:
        plt.close(fig)


def test_samples_are_shown_at_the_best_beta(digits):
    df, *_ = digits
    best = tables.best_frame(df).set_index("likelihood")
    fig = draw("samples", digits)
    try:
        text = all_text(fig)
        for lik in ("gaussian_fixed", "bernoulli", "continuous_bernoulli"):
            assert f"β={best.loc[lik, 'best_beta']:g}\nFID {best.loc[lik, 'fid']:.3g}" in text
        assert "all 6 runs diverged" in text
    finally:
        plt.close(fig)


def test_sigma_traces_come_from_the_training_logs(digits, tree):
    df, *_ = digits
    fig = draw("sigma", digits)
    try:
        panels = [ax for ax in fig.axes if ax.get_title() == "gaussian_learned_global"]
        assert len(panels) == 1 and len([ax for ax in fig.axes if ax.get_visible() and ax.lines]) == 1
        import pandas as pd

        log = pd.read_csv(tree / "runs/digits/gaussian_learned_global/beta~4/seed~0/log.csv")
        ys = [line.get_ydata() for line in panels[0].lines if len(line.get_ydata()) == len(log)]
        assert any(np.allclose(y, log["sigma_mean"]) for y in ys)
        assert panels[0].get_yscale() == "log"
        # sqrt(MSE) of every finished run as a diamond at its last epoch, beside its sigma trace
        rmse = set(df.loc[(df["likelihood"] == "gaussian_learned_global") & (df["status"] == "ok"), "rmse"].round(9))
        diamonds = [line for line in panels[0].lines if line.get_marker() == "D"]
        assert {round(float(line.get_ydata()[0]), 9) for line in diamonds} == rmse and len(diamonds) == 5
        assert all(float(line.get_xdata()[0]) == 6 for line in diamonds)
        assert "√MSE" in all_text(fig)
    finally:
        plt.close(fig)


def test_fid_lines_are_seed_means_with_min_max_bands(digits):
    df, *_ = digits
    fig = draw("fid_vs_beta", digits)
    try:
        ax = fig.axes[0]
        ok = df[(df["likelihood"] == "bernoulli") & (df["status"] == "ok")]
        means = ok.groupby("beta")["fid"].mean()
        line = next(line for line in ax.lines if np.allclose(line.get_xdata(), means.index)
                    and np.allclose(line.get_ydata(), means.values))
        assert line.get_marker() not in ("x", "None")
        assert ax.get_xscale() == "log"
        # the band spans the seeds: its edges are each β's lowest and highest FID
        bands = [np.asarray(c.get_paths()[0].vertices) for c in ax.collections if c.get_paths()]
        lo, hi = ok.groupby("beta")["fid"].min(), ok.groupby("beta")["fid"].max()
        assert any(all(np.isclose(v[:, 1], lo[b]).any() and np.isclose(v[:, 1], hi[b]).any() for b in lo.index)
                   for v in bands)
        # the learned-σ Gaussian diverged at the smallest β for one seed: its mean there is the other seed alone
        g = df[(df["likelihood"] == "gaussian_learned_global") & (df["status"] == "ok")].groupby("beta")["fid"].mean()
        assert len(g) == len(BETAS)
        assert "beta (no finished run)" in all_text(fig)
    finally:
        plt.close(fig)


def test_placeholders_when_nothing_applies(tmp_path):
    root = tmp_path / "results"
    paths = make_results_tree(root, datasets=("digits",), likelihoods=["gaussian_fixed", "beta"], betas=[1.0],
                              seeds=[0])
    tables.main(["--metrics", *map(str, paths), "--out-dir", str(root / "tables")])
    out = tmp_path / "figures"
    figures.main(["--summary", str(root / "tables/summary.csv"), "--runs-root", str(root / "runs"),
                  "--out-dir", str(out), "--settings", json.dumps({"formats": ["png"]})])
    assert sorted(p.name for p in out.iterdir()) == sorted(f"{s}_digits.png" for s in figures.FIGURES)


def test_missing_run_directories_do_not_crash(tree, tmp_path):
    """A summary whose runs are gone (e.g. results copied without runs/) still gives every figure."""
    summary = figures_data.load_summary(tree / "tables" / "summary.csv")
    written = figures.make_figures(summary, tmp_path / "no-runs", tmp_path / "out", datasets=["digits"],
                                   settings={"formats": ["png"]})
    assert len(written) == len(figures.FIGURES)


def test_cli_writes_png_and_pdf_per_dataset(tree, tmp_path):
    out = tmp_path / "figures"
    figures.main(["--summary", str(tree / "tables/summary.csv"), "--runs-root", str(tree / "runs"),
                  "--out-dir", str(out), "--dataset", "cifar10",
                  "--settings", json.dumps({"comparison_beta": 4.0, "dpi": 60})])
    names = sorted(p.name for p in out.iterdir())
    assert names == sorted(f"{s}_cifar10.{ext}" for s in figures.FIGURES for ext in ("png", "pdf"))
    for name in names:
        magic = b"\x89PNG\r\n\x1a\n" if name.endswith(".png") else b"%PDF-"
        assert (out / name).read_bytes().startswith(magic), name


def test_unknown_settings_are_refused(tree, tmp_path):
    summary = figures_data.load_summary(tree / "tables" / "summary.csv")
    with pytest.raises(ValueError, match="comparison_betta"):
        figures.make_figures(summary, tree / "runs", tmp_path, settings={"comparison_betta": 1})
    with pytest.raises(ValueError, match="unknown figures"):
        figures.make_figures(summary, tree / "runs", tmp_path, settings={"only": ["nope"]})


def test_every_figure_has_a_report_caption():
    for stem in figures.FIGURES:
        caption = REPO / "workflow" / "report" / f"{stem}.rst"
        assert caption.exists() and "Claim tested" in caption.read_text(), stem
    smk = (REPO / "workflow" / "rules" / "figures.smk").read_text()
    for stem in figures.FIGURES:
        assert f'"{stem}"' in smk, f"{stem} has no report category in figures.smk"


def test_parameter_images_are_named_by_their_likelihood(digits):
    """Column labels of the reconstruction sheet come from the likelihood classes' param_label."""
    from reconloss.likelihoods import LIKELIHOODS

    fig = draw("reconstructions", digits)
    try:
        labels = [t.get_text() for t in fig.axes[0].get_xticklabels()]
        assert labels.count(LIKELIHOODS["continuous_bernoulli"].param_label) == 1  # "lambda"
        assert labels.count(LIKELIHOODS["bernoulli"].param_label) == 1  # "p"
        assert labels.count("mu") == 2 and "param" not in labels  # the two finished Gaussians
    finally:
        plt.close(fig)
    assert figures_helpers.param_label({"likelihood": "x", "likelihood_name": "beta"}) == "mode"


def test_log_axis_minor_labels_follow_the_leading_digit_below_one_too():
    """0.2 and 0.3 are labelled as 20 and 30 are (a σ axis within one decade below 1 had no labels)."""
    from reconloss.figures.helpers import plain_log_ticks

    fig, ax = plt.subplots()
    plain_log_ticks(ax.yaxis)
    fmt = ax.yaxis.get_minor_formatter()
    assert [fmt(v, 0) for v in (0.2, 0.3, 0.4, 0.5, 20.0, 70.0)] == ["0.2", "0.3", "", "0.5", "20", ""]
    plt.close(fig)
