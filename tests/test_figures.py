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
from reconloss.report import figures, tables  # noqa: E402
from reconloss.report.figures import data as figures_data  # noqa: E402
from reconloss.report.figures import sheets as figures_sheets  # noqa: E402
from reconloss.report.figures import style  # noqa: E402
from reconloss.report.figures import helpers as figures_helpers  # noqa: E402
from reconloss.report.figures import training as figures_training  # noqa: E402

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
    return df, likelihoods, style.styles_of(df), figures_data.Runs(tree / "runs")


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


def test_a_row_whose_run_folder_is_not_its_label_is_found_by_run_dirs(tmp_path):
    """The claims' gaussian_fixed (unclipped) lives in gaussian_fixed.claims where the grid clips its own."""
    for folder in ("gaussian_fixed", "gaussian_fixed.claims"):
        (tmp_path / "digits" / folder / "beta~1" / "seed~0").mkdir(parents=True)
    row = {"dataset": "digits", "likelihood": "gaussian_fixed", "beta": 1.0, "seed": 0}
    assert figures_data.Runs(tmp_path).dir(row) == tmp_path / "digits/gaussian_fixed/beta~1/seed~0"
    moved = [["digits", "gaussian_fixed", 1.0, 0, str(tmp_path / "digits/gaussian_fixed.claims/beta~1/seed~0")]]
    assert figures_data.Runs(tmp_path, moved).dir(row) == tmp_path / "digits/gaussian_fixed.claims/beta~1/seed~0"


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
            assert ax.get_ylabel(), f"{stem}: axes without a y label ({ax.get_title()!r})"
        # panels stacked in a column share one x label, under the last of them
        plotted = [ax for ax in axes if ax.lines and not ax.images and ax.get_label() != "<colorbar>"]
        assert not plotted or plotted[-1].get_xlabel(), f"{stem}: no x label under the last panel"
        # β names the runs shown; the colour figure on grey digits shows its notice instead
        assert "β" in all_text(fig) or (stem == "colour_image" and "not an RGB data set" in all_text(fig))
    finally:
        plt.close(fig)


def find_block(canvas, block):
    """Column offset where `block` (H, w[, 3]) sits in `canvas` (H, W[, 3]), or None."""
    w = block.shape[1]
    for x in range(canvas.shape[1] - w + 1):
        if np.allclose(canvas[:, x:x + w], block, atol=1e-6):
            return x
    return None


def image_axes(fig):
    """{first y tick label: canvas} of the figure's image axes, in drawing order."""
    return [(tuple(t.get_text() for t in ax.get_yticklabels()), np.asarray(ax.images[0].get_array()))
            for ax in fig.axes if ax.images]


def rows_of(t, n, gap=1):
    """The sheet's row of the first n images of t (n,1,h,w): side by side, `gap` white pixels apart."""
    h, w = t.shape[-2:]
    row = np.ones((h, n * w + (n - 1) * gap))
    for i in range(n):
        row[:, i * (w + gap):i * (w + gap) + w] = t[i, 0].clamp(0, 1).numpy()
    return row


def test_reconstruction_sheet_shows_the_runs_own_pixels(digits, tree):
    fig = draw("reconstructions", digits, comparison_beta=1.0, n_show=4)
    try:
        imgs = torch.load(tree / "runs/digits/continuous_bernoulli/beta~1/seed~0/images.pt", weights_only=True)
        panels = image_axes(fig)
        # CB: its parameter image (λ) above its expected value, in one panel, a white gap row between
        cb = [c for kinds, c in panels if kinds == ("lambda", "E[x]")]
        assert len(cb) == 1
        expected = np.concatenate([rows_of(imgs["param"], 4), np.ones((1, 4 * 8 + 3)), rows_of(imgs["mean"], 4)])
        assert np.allclose(cb[0][..., 0] if cb[0].ndim == 3 else cb[0], expected, atol=1e-6)
        # each family's section opens with the test images themselves
        data = [c for kinds, c in panels if kinds == ("data",)]
        assert len(data) == 3 and all(np.allclose(c, rows_of(imgs["original"], 4)) for c in data)
        # CB's expected value is desaturated: its darkest pixel is visibly above black
        assert rows_of(imgs["mean"], 4).min() > 0.2 and rows_of(imgs["original"], 4).min() == 0.0
        text = all_text(fig)
        assert "β=1" in text and "E[x]" in text
        assert "diverged at every seed" in text  # the likelihood `beta` never finished
        # the family sections, in the style's order
        texts = (x.get_text() for x in fig.findobj(matplotlib.text.Text))
        headers = [t for t in texts if t in style.FAMILY_OF.values()]
        assert headers == ["Gaussian, σ fixed", "Gaussian, σ learned", "distributions on [0, 1]"]
    finally:
        plt.close(fig)


def test_reconstruction_sheet_uses_the_beta_closest_to_the_setting(digits):
    fig = draw("reconstructions", digits, comparison_beta=3.0)
    try:
        text = all_text(fig)
        assert text.count("β=4") == len(LIKELIHOODS)  # ln 3 is nearer ln 4 than ln 1
        assert "β=1," not in text
    finally:
        plt.close(fig)


def test_reconstruction_sheet_in_colour(tree):
    summary = figures_data.load_summary(tree / "tables" / "summary.csv")
    df = summary[summary["dataset"] == "cifar10"].reset_index(drop=True)
    liks = figures_helpers.likelihood_order(df)
    fig = figures_sheets.fig_reconstructions(df, "cifar10", liks, style.styles_of(df),
                                                 figures_data.Runs(tree / "runs"), figures.DEFAULT_SETTINGS)
    try:
        imgs = torch.load(tree / "runs/cifar10/bernoulli/beta~1/seed~0/images.pt", weights_only=True)
        first = imgs["mean"][0].permute(1, 2, 0).clamp(0, 1).numpy()
        canvases = [c for _, c in image_axes(fig)]
        assert all(c.ndim == 3 for c in canvases)
        assert any(np.allclose(c[:32, :32], first, atol=1e-6) for c in canvases)
    finally:
        plt.close(fig)


def test_divergence_map_counts_seeds_and_names_epochs(digits):
    df, likelihoods, *_ = digits
    fig = draw("divergence", digits)
    try:
        panel = {}  # label -> (axes, its row in that axes)
        for ax in fig.axes:
            for i, t in enumerate(ax.get_yticklabels()):
                panel[t.get_text()] = (ax, i)
        assert set(panel) == set(likelihoods)
        assert [ax.get_title(loc="left") for ax in fig.axes] == [
            "Gaussian, σ fixed", "Gaussian, σ learned", "distributions on [0, 1]"]

        def cells(lik):
            ax, row = panel[lik]
            texts = {(round(t.get_position()[1]), round(t.get_position()[0])): t.get_text() for t in ax.texts}
            return {j: texts[(row, j)] for j in range(len(BETAS))}, np.asarray(ax.images[0].get_array())[row]

        expected_epoch = int(df.loc[(df["likelihood"] == "gaussian_learned_global") & (df["status"] == "diverged"),
                                    "diverged_epoch"].iloc[0])
        text, rgb = cells("gaussian_learned_global")
        assert text[0] == f"1/2\nepoch {expected_epoch}" and text[1] == "0/2"
        # one stripe per seed, coloured by outcome: beta all diverged, bernoulli's largest β seed 0 collapsed
        colour = {k: np.array(v) for k, v in figures_training.OUTCOME_COLOURS.items()}
        assert rgb.shape == (2 * len(BETAS), 3)
        assert np.allclose(rgb[0], colour["ok"]) and np.allclose(rgb[1], colour["diverged"])
        text, rgb = cells("beta")
        assert all(text[j].startswith("2/2") for j in range(len(BETAS))) and np.allclose(rgb, colour["diverged"])
        text, rgb = cells("bernoulli")
        assert np.allclose(rgb[-2], colour["collapsed"]) and np.allclose(rgb[-1], colour["ok"])
        assert np.allclose(rgb[:-2], colour["ok"])
        assert text[len(BETAS) - 1] == "0/2\n1 collapsed"
        assert "diverged runs, 7 of 30; collapsed runs, 1" in fig._suptitle.get_text()
        legend = [t.get_text() for t in fig.legends[0].get_texts()]
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
            assert f"β={best.loc[lik, 'best_beta']:g}, FID {best.loc[lik, 'fid']:.3g}" in text
        assert "all 6 runs diverged" in text
    finally:
        plt.close(fig)


def test_sigma_traces_come_from_the_training_logs(digits, tree):
    df, *_ = digits
    fig = draw("sigma", digits, comparison_beta=4.0)
    try:
        left = [ax for ax in fig.axes if ax.get_title(loc="left") == "Gaussian, σ learned"]
        assert len(left) == 1 and len([ax for ax in fig.axes if ax.get_visible() and ax.lines]) == 2
        import pandas as pd

        # left: the traces at the β asked for, one per seed, straight from the logs
        logs = [pd.read_csv(tree / f"runs/digits/gaussian_learned_global/beta~4/seed~{s}/log.csv") for s in (0, 1)]
        ys = [line.get_ydata() for line in left[0].lines]
        assert all(any(len(y) == len(log) and np.allclose(y, log["sigma_mean"]) for y in ys) for log in logs)
        assert len(ys) == 2 and left[0].get_yscale() == "log"
        # right: sqrt(MSE) as hollow diamonds, the seed mean of the finished runs at each β
        right = next(ax for ax in fig.axes if ax.get_title(loc="right") == "at the end of training")
        ok = df[(df["likelihood"] == "gaussian_learned_global") & (df["status"] == "ok")]
        diamonds = [line for line in right.lines if line.get_marker() == "D"]
        assert len(diamonds) == 1
        assert np.allclose(diamonds[0].get_ydata(), ok.groupby("beta")["rmse"].mean().sort_index().values)
        assert "√MSE" in all_text(fig)
    finally:
        plt.close(fig)


def test_fid_lines_are_seed_means_with_min_max_bands(digits):
    df, *_ = digits
    fig = draw("fid_vs_beta", digits)
    try:
        ax = next(ax for ax in fig.axes if ax.get_title(loc="left") == "distributions on [0, 1]")
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
        # the grey reference in every panel: the lowest seed-mean FID of any label at each β
        best = df[df["status"] == "ok"].groupby(["likelihood", "beta"])["fid"].mean().groupby("beta").min()
        for panel in [a for a in fig.axes if a.lines]:
            assert any(np.allclose(line.get_xdata(), best.index) and np.allclose(line.get_ydata(), best.values)
                       for line in panel.lines)
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
    """Row labels of the reconstruction sheet come from the likelihood classes' param_label; a parameter
    image equal to the expected value (a Gaussian's μ, the Bernoulli's p) is not drawn twice."""
    from reconloss.likelihoods import LIKELIHOODS

    fig = draw("reconstructions", digits)
    try:
        kinds = [k for k, _ in image_axes(fig)]
        assert kinds.count((LIKELIHOODS["continuous_bernoulli"].param_label, "E[x]")) == 1  # ("lambda", "E[x]")
        assert kinds.count(("E[x]",)) == 3  # the two finished Gaussians and the Bernoulli
        assert not any("param" in k for ks in kinds for k in ks)
    finally:
        plt.close(fig)
    assert figures_helpers.param_label({"likelihood": "x", "likelihood_name": "beta"}) == "mode"


def test_log_axis_minor_labels_follow_the_leading_digit_below_one_too():
    """0.2 and 0.3 are labelled as 20 and 30 are (a σ axis within one decade below 1 had no labels)."""
    from reconloss.report.figures.helpers import plain_log_ticks

    fig, ax = plt.subplots()
    plain_log_ticks(ax.yaxis)
    fmt = ax.yaxis.get_minor_formatter()
    assert [fmt(v, 0) for v in (0.2, 0.3, 0.4, 0.5, 20.0, 70.0)] == ["0.2", "0.3", "", "0.5", "20", ""]
    plt.close(fig)


def test_sigma_without_training_logs_draws_the_end_from_the_summary(digits, tmp_path):
    """Results copied without runs/: σ at the end of training and √MSE still come from the summary."""
    df, likelihoods, style_map, _ = digits
    fig = figures.BUILDERS["sigma"](df, "digits", likelihoods, style_map, figures_data.Runs(tmp_path / "none"),
                                    figures.DEFAULT_SETTINGS)
    try:
        axes = [ax for ax in fig.axes if ax.get_visible() and ax.lines]
        assert len(axes) == 1 and axes[0].get_title(loc="right") == "at the end of training"
        ok = df[(df["likelihood"] == "gaussian_learned_global") & (df["status"] == "ok")]
        means = ok.groupby("beta")["sigma_mean"].mean().sort_index()
        assert any(np.allclose(line.get_xdata(), means.index) and np.allclose(line.get_ydata(), means.values)
                   for line in axes[0].lines)
        assert "no training logs here" in fig._suptitle.get_text()
    finally:
        plt.close(fig)


def test_settling_is_the_worst_relative_loss_change_per_epoch(tmp_path):
    import pandas as pd

    from reconloss.report.figures import settling

    logs = {("bernoulli", 0): [100.0, 90.0, 89.1], ("bernoulli", 1): [100.0, 95.0, 94.0],
            ("continuous_bernoulli", 0): [-50.0, -60.0, -60.3]}
    rows = []
    for (lab, seed), losses in logs.items():
        run = tmp_path / "runs" / "mnist" / lab / "beta~1" / f"seed~{seed}"
        run.mkdir(parents=True)
        pd.DataFrame({"epoch": [1, 2, 3], "loss": losses}).to_csv(run / "log.csv", index=False)
        rows.append({"dataset": "mnist", "likelihood": lab, "beta": 1.0, "seed": seed, "outcome": "ok"})
    rows.append({"dataset": "mnist", "likelihood": "beta", "beta": 1.0, "seed": 0, "outcome": "diverged"})
    moved = settling.changes(pd.DataFrame(rows), figures_data.Runs(tmp_path / "runs"))
    assert moved["bernoulli"] == pytest.approx({2: 10 / 90, 3: 1 / 94})  # seed 1's 1/94 beats seed 0's 0.9/89.1
    assert moved["continuous_bernoulli"] == pytest.approx({2: 10 / 60, 3: 0.3 / 60.3})
    assert "beta" not in moved  # a diverged run is not a settled one, nor drawn as one
    assert settling.changes(pd.DataFrame(rows), figures_data.Runs(tmp_path / "runs"), "sigma_mean") == {}


def test_settling_of_sigma_is_the_worst_change_of_log_sigma_per_epoch(tmp_path):
    import math

    import matplotlib.pyplot as plt
    import pandas as pd

    from reconloss.report.figures import settling, style

    sigmas = {0: [0.5, 0.25, 0.24], 1: [0.5, 0.4, 0.2]}
    rows = []
    for seed, sigma in sigmas.items():
        run = tmp_path / "runs" / "mnist" / "gaussian_learned_global" / "beta~1" / f"seed~{seed}"
        run.mkdir(parents=True)
        pd.DataFrame({"epoch": [1, 2, 3], "loss": [3.0, 2.0, 1.9], "sigma_mean": sigma}).to_csv(run / "log.csv",
                                                                                                index=False)
        rows.append({"dataset": "mnist", "likelihood": "gaussian_learned_global", "beta": 1.0, "seed": seed,
                     "outcome": "ok"})
    df, runs = pd.DataFrame(rows), figures_data.Runs(tmp_path / "runs")
    moved = settling.changes(df, runs, "sigma_mean")
    assert moved["gaussian_learned_global"] == pytest.approx({2: math.log(2), 3: math.log(2)})
    labels = ["gaussian_learned_global"]
    fig = settling.fig_settling(df, "mnist", labels, style.styles(labels), runs, {})
    try:
        assert [ax.get_title(loc="left") for ax in fig.axes][-1].startswith("σ")
        assert len(fig.axes[-1].lines) == 2  # the label and the limit
    finally:
        plt.close(fig)
