"""One look per label, panels a reader can tell apart, and images large enough to see.

The style mapping must give every label of a panel its own colour and marker
(a reader matches a line to the legend by both), never put more than eight
labels in one panel, and give a label the same look whatever else the grid
holds. The drawn figures are checked too: each panel's legend, and the size at
which the image sheets draw a 28-pixel image when the PNG is shown 900 pixels
wide.
"""

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402
import yaml  # noqa: E402

from fake_results import fake_summary, make_results_tree, summary_row  # noqa: E402
from reconloss.report import figures, tables  # noqa: E402
from reconloss.report.figures import catalogue, style  # noqa: E402
from reconloss.report.figures.data import Runs, load_summary  # noqa: E402
from reconloss.likelihoods import LIKELIHOODS  # noqa: E402

REPO = Path(__file__).resolve().parents[1]


def grid_names(config_path):
    """{label: base likelihood} of a configuration file's grid (its likelihoods and variants)."""
    config = yaml.safe_load((REPO / config_path).read_text())
    names = {name: name for name in config["likelihoods"]}
    names.update({label: v["likelihood"] for label, v in (config.get("variants") or {}).items()})
    return names


GRIDS = {
    "study": grid_names("configs/study.yaml"),
    "paper": grid_names("configs/paper.yaml"),
    "every likelihood": {name: name for name in LIKELIHOODS},
    # a family far past one panel: ten variants of the Bernoulli beside four other bases on [0, 1]
    "crowded": {**{n: n for n in ("bernoulli", "continuous_bernoulli", "beta", "truncated_gaussian")},
                **{f"bernoulli_v{i}": "bernoulli" for i in range(10)}},
    "unknown bases": {"mine": "mine", "mine_a": "mine", "other": "other", "gaussian_fixed": "gaussian_fixed"},
}


def check_panels(groups, style_map):
    for title, labs in groups:
        assert 1 <= len(labs) <= style.MAX_PER_PANEL, (title, labs)
        looks = [(style_map[lab].colour, style_map[lab].marker) for lab in labs]
        assert len(set(looks)) == len(looks), f"{title}: two labels share colour and marker: {labs}"
        colours = [style_map[lab].colour for lab in labs]
        assert len(set(colours)) == len(colours), f"{title}: two labels share a colour"


@pytest.mark.parametrize("grid", GRIDS)
def test_no_panel_holds_more_than_eight_labels_or_two_alike(grid):
    names = GRIDS[grid]
    style_map = style.styles(list(names), names)
    groups = style.panels(style_map)
    assert sorted(lab for _, labs in groups for lab in labs) == sorted(names)  # every label once
    check_panels(groups, style_map)


def test_the_crowded_family_is_split_and_variants_sit_beside_their_base():
    names = GRIDS["crowded"]
    groups = style.panels(style.styles(list(names), names))
    assert [t for t, _ in groups] == ["distributions on [0, 1] (1/2)", "distributions on [0, 1] (2/2)"]
    flat = [lab for _, labs in groups for lab in labs]
    assert flat[:11] == ["bernoulli"] + [f"bernoulli_v{i}" for i in range(10)]
    study = GRIDS["study"]
    groups = dict(style.panels(style.styles(list(study), study)))
    assert groups["Gaussian, σ fixed"] == ["gaussian_fixed", "gaussian_fixed_range255", "gaussian_fixed_sigma0.1",
                                           "gaussian_fixed_sigma1"]
    assert groups["distributions on [0, 1]"][:5] == [
        "bernoulli", "continuous_bernoulli", "continuous_bernoulli_naive", "continuous_bernoulli_naive_clamp1e-12",
        "continuous_bernoulli_naive_noclamp"]


def test_a_label_looks_the_same_whatever_else_the_grid_holds():
    study = GRIDS["study"]
    full = style.styles(list(study), study)
    for lab in ("bernoulli", "continuous_bernoulli", "gaussian_fixed", "gaussian_optimal_pixel"):
        assert style.styles([lab])[lab] == full[lab]
    # a variant: its base's hue family (a shade of it), a line that is not solid, a marker of its own
    base, var = full["gaussian_fixed"], full["gaussian_fixed_sigma1"]
    assert var.colour != base.colour and var.linestyle != "-" and var.marker != base.marker
    # the complaint of the issue: these two shared a blue in one panel; now they are not even in one panel
    assert full["gaussian_fixed"].family != full["continuous_bernoulli_naive_clamp1e-12"].family
    # the base colours are distinct over the whole table, not only within a family
    assert len({c for c, _ in style.BASE_STYLE.values()}) == len(style.BASE_STYLE)
    assert set(style.BASE_STYLE) == set(LIKELIHOODS)  # every registered likelihood has its own look


@pytest.fixture(scope="module")
def study_summary():
    """A summary of the study's 23 labels, 3 β and 2 seeds; the float32 CB variants always diverge."""
    names = GRIDS["study"]
    rows = []
    for i, (lab, base) in enumerate(names.items()):
        for j, beta in enumerate((0.1, 1.0, 10.0)):
            for seed in (0, 1):
                diverged = lab.startswith("continuous_bernoulli_naive_")
                rows.append(summary_row(lab, beta, seed, fid=50 + 3 * i + 10 * (j - 1) ** 2 + seed,
                                        outcome="diverged" if diverged else "ok", likelihood_name=base,
                                        black_level=0.01 * i, white_level=1 - 0.01 * i))
    return fake_summary(rows)


def legend_entries(ax):
    """(text, colour, marker) of a panel's legend entries that name a label."""
    legend = ax.get_legend()
    out = []
    for text, handle in zip(legend.get_texts(), legend.legend_handles):
        label = text.get_text().removesuffix(" (no finished run)")
        if label in GRIDS["study"]:
            out.append((label, matplotlib.colors.to_hex(handle.get_color()), handle.get_marker()))
    return out


@pytest.mark.parametrize("stem", ["fid_vs_beta", "dynamic_range"])
def test_every_drawn_panel_names_few_labels_each_in_its_own_look(stem, study_summary, tmp_path):
    style_map = style.styles_of(study_summary)
    labels = list(dict.fromkeys(study_summary["likelihood"]))
    fig = figures.BUILDERS[stem](study_summary, "mnist", labels, style_map, Runs(tmp_path),
                                 figures.DEFAULT_SETTINGS)
    try:
        panels = [ax for ax in fig.axes if ax.get_visible() and ax.get_legend()]
        assert len(panels) == len(style.panels(style_map))
        seen = []
        for ax in panels:
            entries = legend_entries(ax)
            assert 1 <= len(entries) <= 8, ax.get_title(loc="left")
            assert len({(c, m) for _, c, m in entries}) == len(entries), ax.get_title(loc="left")
            for label, colour, marker in entries:  # the legend shows the mapping's look, not another
                assert (colour, marker) == (style_map[label].colour, style_map[label].marker)
            seen += [e[0] for e in entries]
        assert sorted(seen) == sorted(labels)
        # drawn at a width a README shows without shrinking the text below legibility
        assert fig.get_figwidth() <= 10
    finally:
        plt.close(fig)


@pytest.fixture(scope="module")
def mnist_tree(tmp_path_factory):
    root = tmp_path_factory.mktemp("mnist") / "results"
    paths = make_results_tree(root, datasets=("mnist",), betas=[1.0], seeds=[0])
    tables.main(["--metrics", *map(str, paths), "--out-dir", str(root / "tables")])
    summary = load_summary(root / "tables" / "summary.csv")
    return summary, Runs(root / "runs"), root


@pytest.mark.parametrize("stem", ["reconstructions", "samples"])
def test_sheet_images_show_at_three_times_their_pixels_at_900_pixels(stem, mnist_tree, tmp_path):
    summary, runs, _ = mnist_tree
    labels = list(dict.fromkeys(summary["likelihood"]))
    settings = {**figures.DEFAULT_SETTINGS, "formats": ["png"], "dpi": 60}
    fig = figures.BUILDERS[stem](summary, "mnist", labels, style.styles_of(summary), runs, settings)
    try:
        fig.canvas.draw()
        shown = fig.get_tightbbox(fig.canvas.get_renderer()).width  # inches of the saved PNG (bbox tight)
        for ax in (ax for ax in fig.axes if ax.images):
            canvas = ax.images[0].get_array()
            width_in = ax.get_window_extent().width / fig.dpi
            per_pixel = width_in / shown * 900 / canvas.shape[1]  # screen pixels per image pixel at 900 wide
            assert per_pixel >= 3, f"{stem}: {per_pixel:.2f}x"
            assert canvas.shape[1] >= 8 * 28  # eight 28-pixel images side by side
    finally:
        plt.close(fig)


def test_cb_image_shows_the_runs_data_lambda_and_mean_large(mnist_tree):
    import numpy as np
    import torch

    summary, runs, root = mnist_tree
    labels = list(dict.fromkeys(summary["likelihood"]))
    fig = figures.BUILDERS["cb_image"](summary, "mnist", labels, style.styles_of(summary), runs,
                                       figures.DEFAULT_SETTINGS)
    try:
        imgs = torch.load(root / "runs/mnist/continuous_bernoulli/beta~1/seed~0/images.pt", weights_only=True)
        axes = [ax for ax in fig.axes if ax.images and ax.get_label() != "<colorbar>"]
        assert len(axes) == 6  # two test images, each as data | λ | E[x]
        for ax, key in zip(axes[:3], ("original", "param", "mean")):
            assert np.allclose(np.asarray(ax.images[0].get_array()), imgs[key][0, 0].clamp(0, 1).numpy())
            level = float(imgs[key][0, 0][imgs["original"][0, 0] < 0.05].mean())
            assert ax.get_xlabel().endswith(f"{level:.2f}")
        # large: at 900 pixels wide each 28-pixel image is shown at more than 6x its size
        fig.canvas.draw()
        shown = fig.get_tightbbox(fig.canvas.get_renderer()).width
        assert axes[0].get_window_extent().width / fig.dpi / shown * 900 / 28 > 6
        title = fig._suptitle.get_text()
        assert "β=1" in title and "E[x" in title
        x = imgs["original"][:2]
        assert f"mean the model predicts {float(imgs['mean'][:2][x < 0.05].mean()):.2f}" in title
    finally:
        plt.close(fig)


def test_cb_image_says_so_without_a_cb_run(tmp_path):
    summary = fake_summary([summary_row("bernoulli", 1.0, 0)])
    fig = figures.BUILDERS["cb_image"](summary, "mnist", ["bernoulli"], style.styles_of(summary), Runs(tmp_path),
                                       figures.DEFAULT_SETTINGS)
    try:
        assert any("not in this configuration" in t.get_text() for t in fig.findobj(matplotlib.text.Text))
    finally:
        plt.close(fig)


def caption(name):
    return (REPO / "workflow" / "report" / f"{name}.rst").read_text().replace("\\|", "|")


def test_report_captions_open_with_the_catalogues_line():
    from reconloss import analytic

    assert set(catalogue.SHOWS) == set(figures.FIGURES)
    assert set(catalogue.ANALYTIC_SHOWS) == set(analytic.FIGURES)
    for stem, line in catalogue.SHOWS.items():
        assert caption(stem).startswith(line), stem
    for stem, line in catalogue.ANALYTIC_SHOWS.items():
        assert caption(f"analytic_{stem}").startswith(line), stem
    for point, kind, stem in catalogue.POST_FIGURES:  # the post's figures name the post's point
        name = {"dataset": stem, "analytic": f"analytic_{stem}", "table": f"analytic_table_{stem}"}[kind]
        assert "**The post:**" in caption(name), stem


def test_study_index_lists_every_figure_once_with_its_line_and_claims():
    from reconloss import analytic, claims
    from reconloss.plan import config_check
    from reconloss.report import study_pages

    config = config_check.load_files([REPO / "configs/study.yaml"])
    text = study_pages.index_markdown(config["datasets"], claims.grid_specs(config))
    post = text.index("## The post's figures")
    grid = text.index("## The grid's figures")
    assert post < grid
    for _, kind, stem in catalogue.POST_FIGURES:  # the post's figures come first, in the post's order
        target = f"mnist/{stem}_mnist.png" if kind == "dataset" else f"analytic/{stem}."
        assert post < text.index(target) < grid, stem
    for stem in figures.FIGURES:
        links = f"[{stem}](mnist/{stem}_mnist.png) | [{stem}](fashion_mnist/{stem}_fashion_mnist.png)"
        assert f"| `{stem}` | {links}" in text
    for stem in analytic.FIGURES:
        assert f"[{stem}](analytic/{stem}.png)" in text
    statements = dict(study_pages.claim_fields(c) for c in claims.CLAIMS)
    for claim_id, figure in claims.CLAIM_FIGURES.items():  # each claim is named beside its figure
        start = f"| [{figure[9:]}](analytic/" if figure.startswith("analytic/") else f"| `{figure}` |"
        row = next(line for line in text.splitlines() if line.startswith(start))
        assert statements[claim_id].replace("|", "\\|") in row
    # every table row has as many cells as its header: no unescaped | inside a cell
    for block in text.split("\n\n"):
        rows = [r for r in block.splitlines() if r.startswith("|")]
        if rows:
            widths = {len(r.replace("\\|", "").split("|")) for r in rows}
            assert len(widths) == 1, rows[0]
    assert "`continuous_bernoulli_naive_clamp1e-12`" in text  # the key of the labels' looks
