"""photo_patches: 32x32 RGB patches cut from colour photographs that scikit-image and scikit-learn ship.

A colour data set that needs no download, so that what the continuous Bernoulli
does to colour images (the post's sections "Sharpness" and "Instability and
Color Range", shown there on CIFAR-10) can be measured on any machine. It stands
in for CIFAR-10 and is not CIFAR-10: natural-image statistics at CIFAR-10's
shape, from seven photographs rather than 60,000 objects in ten classes.

The photographs are the ones the two packages bundle inside their wheels
(skimage.data's files that need no pooch download, and load_sample_images).
Each is split by columns: its rightmost TEST_SHARE of columns (a whole number
of patches wide) gives the test patches, the rest the training patches, so no
test patch shares a pixel with a training patch. Within each region, patches
lie on a grid of STRIDE pixels (neighbours overlap by half). A patch's label is
its photograph. Nothing is random: the same packages give the same bytes.
"""

from __future__ import annotations

import numpy as np

#: The photographs, in label order (load_photograph): files inside the two wheels, no download.
PHOTOGRAPHS = ("astronaut", "coffee", "chelsea", "rocket", "motorcycle", "china", "flower")
PATCH = 32
#: Grid step of the patches inside each region: neighbours share half their pixels.
STRIDE = 16
#: Share of each photograph's columns (rounded to whole patches, at least one) held out for testing.
TEST_SHARE = 0.2


def load_photograph(name: str) -> np.ndarray:
    """One photograph as (H, W, 3) uint8."""
    if name in ("china", "flower"):
        from sklearn.datasets import load_sample_image

        image = load_sample_image(f"{name}.jpg")
    elif name == "motorcycle":
        import skimage.data

        image = skimage.data.stereo_motorcycle()[0]  # the left view
    else:
        import skimage.data

        image = getattr(skimage.data, name)()
    image = np.asarray(image)
    if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f"photograph {name!r}: expected (H, W, 3) uint8, got {image.dtype} {image.shape}")
    return image


def split_column(width: int) -> int:
    """First column of the test region: the last round(TEST_SHARE * width / PATCH) patches' width (>= 1)."""
    test_width = PATCH * max(1, round(TEST_SHARE * width / PATCH))
    return width - test_width


def patch_origins(height: int, left: int, right: int):
    """(row, column) of every PATCH x PATCH patch on the STRIDE grid inside columns [left, right)."""
    rows = range(0, height - PATCH + 1, STRIDE)
    cols = range(left, right - PATCH + 1, STRIDE)
    return [(r, c) for r in rows for c in cols]


def cut(image: np.ndarray, origins) -> np.ndarray:
    """The patches at `origins` as (N, 3, PATCH, PATCH) uint8 (channels first, as every data set)."""
    patches = [image[r:r + PATCH, c:c + PATCH] for r, c in origins]
    return np.stack(patches).transpose(0, 3, 1, 2).copy()


def build(photographs=PHOTOGRAPHS) -> dict:
    """{train_x, train_y, test_x, test_y (numpy), classes, regions}: regions[name] = (split column, width)."""
    xs = {"train": [], "test": []}
    ys = {"train": [], "test": []}
    regions = {}
    for label, name in enumerate(photographs):
        image = load_photograph(name)
        h, w, _ = image.shape
        split = split_column(w)
        regions[name] = (split, w)
        for key, (left, right) in (("train", (0, split)), ("test", (split, w))):
            patches = cut(image, patch_origins(h, left, right))
            xs[key].append(patches)
            ys[key].append(np.full(len(patches), label, dtype=np.int64))
    return {
        "train_x": np.concatenate(xs["train"]), "train_y": np.concatenate(ys["train"]),
        "test_x": np.concatenate(xs["test"]), "test_y": np.concatenate(ys["test"]),
        "classes": list(photographs), "regions": regions,
    }
