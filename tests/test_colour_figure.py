"""reconloss.report.figures.colour: the post's colour figure drawn from fabricated runs."""

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import torch  # noqa: E402

from reconloss.report.figures import FIGURES, make_figures  # noqa: E402
from reconloss.report.figures.colour import fig_colour_image  # noqa: E402
from reconloss.report.figures.data import Runs  # noqa: E402
from reconloss.report.figures.style import styles_of  # noqa: E402
from reconloss.settings import FIGURE_SETTINGS  # noqa: E402

LABELS = ("continuous_bernoulli", "bernoulli", "gaussian_fixed")


def tree(root, channels=3):
    """runs/photo_patches/{label}/beta~1/seed~0/images.pt: showcase test images 0-3, black-and-white 7 and 2."""
    g = torch.Generator().manual_seed(0)
    x = torch.rand(8, channels, 32, 32, generator=g)
    x[7, :, :16], x[7, :, 16:] = 0.0, 1.0
    rows = []
    for k, label in enumerate(LABELS):
        lam = (x - 0.5) * (3 if k == 0 else 1) + 0.5
        mean = 0.25 + lam.clamp(0, 1) / 2 if k == 0 else x * 0.9 + 0.05
        images = {"indices": torch.arange(4), "original": x[:4], "param": lam[:4].clamp(0, 1), "mean": mean[:4]}
        if channels == 3:
            images.update(colour_indices=torch.tensor([7, 2]), colour_original=x[[7, 2]],
                          colour_param=lam[[7, 2]].clamp(0, 1), colour_mean=mean[[7, 2]])
        d = root / "runs" / "photo_patches" / label / "beta~1" / "seed~0"
        d.mkdir(parents=True)
        torch.save(images, d / "images.pt")
        rows.append({"dataset": "photo_patches", "likelihood": label, "likelihood_name": label, "beta": 1.0,
                     "seed": 0, "status": "ok", "fid": 10.0})
    return pd.DataFrame(rows), x


def draw(df, root):
    settings = {**FIGURE_SETTINGS}
    return fig_colour_image(df, "photo_patches", list(df["likelihood"]), styles_of(df), Runs(root / "runs"),
                            settings)


def test_rows_show_the_black_and_white_image_first_on_a_fixed_scale(tmp_path):
    df, x = tree(tmp_path)
    fig = draw(df, tmp_path)
    try:
        axes = np.array(fig.axes).reshape(3, 5)
        assert [ax.get_title().split("\n")[0] for ax in axes[0]] == [
            "data x", "CB λ (parameter)", "CB E[x] (mean)", "bernoulli E[x]", "gaussian_fixed E[x]"]
        assert "#7" in axes[0, 0].get_ylabel() and "black and white" in axes[0, 0].get_ylabel()
        assert [ax.get_ylabel().split("\n")[0] for ax in axes[1:, 0]] == ["test image #0", "test image #1"]
        shown = axes[0, 0].images[0].get_array()
        assert np.allclose(shown, x[7].permute(1, 2, 0).numpy())
        # CB's λ here is 3x the contrast, clipped: drawn clipped to [0, 1], never rescaled
        lam = axes[0, 1].images[0].get_array()
        assert lam.min() == 0.0 and lam.max() == 1.0
        # the comparators' tiles are their E[x] of the same test image #7
        bern = axes[0, 3].images[0].get_array()
        assert np.allclose(bern, (x[7] * 0.9 + 0.05).permute(1, 2, 0).numpy())
        assert axes[0, 0].get_xlabel() == "white 1.00, black 0.00"
        assert axes[0, 3].get_xlabel() == "white 0.95, black 0.05"
        assert fig.get_figwidth() == 9.0  # 900 px at 100 dpi: each 32-pixel tile about 5x its size
    finally:
        plt.close(fig)


def test_grey_data_and_missing_cb_get_a_notice(tmp_path):
    df, _ = tree(tmp_path, channels=1)
    fig = draw(df, tmp_path)
    try:
        assert any("not an RGB data set" in t.get_text() for ax in fig.axes for t in ax.texts)
    finally:
        plt.close(fig)
    fig = draw(df[df["likelihood"] != "continuous_bernoulli"], tmp_path)
    try:
        assert any("not in this configuration" in t.get_text() for ax in fig.axes for t in ax.texts)
    finally:
        plt.close(fig)


def test_registered_and_written_as_png(tmp_path):
    df, _ = tree(tmp_path)
    assert "colour_image" in FIGURES
    written = make_figures(df, tmp_path / "runs", tmp_path / "out",
                           settings={"only": ["colour_image"], "formats": ["png"], "dpi": 100})
    assert [p.name for p in written] == ["colour_image_photo_patches.png"]
    from PIL import Image

    width, _ = Image.open(written[0]).size
    assert 800 <= width <= 950  # bbox "tight" trims the margins of the 9-inch figure


def test_the_colour_figure_is_published_for_rgb_data_sets_only():
    """A grey data set gets a placeholder colour figure in results/ (every rule output exists); docs/study
    leaves it out, and keeps every other figure."""
    from reconloss.plan.sizes import DATA_SHAPES
    from reconloss.report.figures import FIGURES, applies_to

    assert not applies_to("colour_image", DATA_SHAPES["mnist"])
    assert applies_to("colour_image", DATA_SHAPES["cifar10"]) and applies_to("colour_image", None)
    assert all(applies_to(stem, DATA_SHAPES["mnist"]) for stem in FIGURES if stem != "colour_image")
