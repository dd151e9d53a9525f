"""Dataset registry: fetch, verify and cache each dataset once as one tensor file.

Every later job (classifier, hundreds of VAE runs) reads `results/data/{name}.pt`
instead of touching torchvision or the network, so the dataset is converted
exactly once. The file holds uint8 images (N,C,H,W) plus their `scale`, so
pixels in [0,1] are `x.float() / scale` without any loss of precision.

Real datasets go through torchvision's own dataset classes, but the files are
fetched here first, from a list of mirrors (http(s)://, file:// or a plain
path), each verified against torchvision's md5 list: torchvision cannot read
file:// URLs, and on a bad checksum it only says "File not found or corrupted."
and leaves the bad file in place. Here a bad file is discarded and the error
names it with both checksums; torchvision then finds every file present and
verified, and only extracts and parses them.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import torch

from reconloss.io import torch_save
from reconloss.settings import data_job_defaults

KEYS = ("name", "train_x", "train_y", "test_x", "test_y", "scale", "classes")


class DataError(RuntimeError):
    """A dataset cannot be prepared: bad name, unreachable mirrors, bad checksum."""


@dataclass
class Dataset:
    """One registry entry. `class_attrs` overrides attributes of the torchvision
    class on a private subclass (tests use it for the checksums of a tiny archive)."""

    name: str
    shape: tuple[int, int, int]
    scale: float
    prepare: Callable[["Dataset", Path, dict], dict]
    torchvision_class: str | None = None
    class_attrs: dict = field(default_factory=dict)


def _say(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


# ----------------------------------------------------------------------------- digits


def _prepare_digits(spec: Dataset, raw_dir: Path, settings: dict) -> dict:
    """scikit-learn's bundled 8x8 digits (values 0..16), stratified split by a fixed seed."""
    import numpy as np
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    fraction = settings["test_fraction"]
    if not isinstance(fraction, (int, float)) or not 0 < fraction < 1:
        raise DataError(f"digits: test_fraction must be a number in (0, 1), got {fraction!r}")
    seed = settings["split_seed"]
    if not isinstance(seed, int) or isinstance(seed, bool):
        raise DataError(f"digits: split_seed must be an int, got {seed!r}")

    digits = load_digits()
    images = digits.images
    pixels = np.rint(images)
    assert np.array_equal(pixels, images) and pixels.min() >= 0 and pixels.max() <= 16
    x = torch.from_numpy(pixels.astype(np.uint8)).unsqueeze(1)  # (N,1,8,8)
    y = torch.from_numpy(digits.target.astype(np.int64))
    train_idx, test_idx = train_test_split(
        np.arange(len(y)), test_size=fraction, stratify=digits.target, random_state=seed
    )
    train_idx, test_idx = torch.from_numpy(train_idx), torch.from_numpy(test_idx)
    return {
        "name": spec.name,
        "train_x": x[train_idx].contiguous(),
        "train_y": y[train_idx].contiguous(),
        "test_x": x[test_idx].contiguous(),
        "test_y": y[test_idx].contiguous(),
        "scale": 16.0,
        "classes": [str(int(c)) for c in digits.target_names],
    }


def _prepare_photo_patches(spec: Dataset, raw_dir: Path, settings: dict) -> dict:
    """32x32 RGB patches of the photographs scikit-image and scikit-learn ship (reconloss.data.photo_patches):
    a colour set that needs no download; train and test from separate regions of each photograph."""
    from reconloss.data import photo_patches

    built = photo_patches.build()
    return {
        "name": spec.name,
        **{key: torch.from_numpy(built[key]).contiguous() for key in ("train_x", "train_y", "test_x", "test_y")},
        "scale": 255.0,
        "classes": built["classes"],
    }


# ----------------------------------------------------------------------------- fetching


def normalize_mirror(mirror: str) -> str:
    """A base URL ending in '/': plain paths become file:// URLs (relative to the cwd)."""
    if not isinstance(mirror, str) or not mirror:
        raise DataError(f"a mirror must be a non-empty string, got {mirror!r}")
    scheme = urllib.parse.urlparse(mirror).scheme.lower()
    if scheme not in ("http", "https", "file"):
        if len(scheme) > 1:  # a one-letter scheme is a Windows drive
            raise DataError(f"mirror {mirror!r}: only http://, https://, file:// or a local path are supported")
        mirror = Path(mirror).expanduser().resolve().as_uri()
    return mirror if mirror.endswith("/") else mirror + "/"


def _file_url_path(url: str) -> Path:
    parts = urllib.parse.urlparse(url)
    if parts.netloc not in ("", "localhost"):
        raise DataError(f"{url}: file:// URLs must name a local file (no host)")
    return Path(urllib.request.url2pathname(parts.path))


def _md5(path: Path) -> str:
    from torchvision.datasets.utils import calculate_md5

    return calculate_md5(path)


def fetch(filename: str, md5: str, mirrors: list[str], dest_dir: Path) -> Path:
    """Put `dest_dir/filename` in place with the given md5, trying mirrors in order.

    A file already there with the right md5 is kept (no network). Downloads go
    to a `.part` name and are renamed only once verified, so `filename` never
    holds a bad file; a bad download is deleted so that a rerun fetches it again.
    """
    from torchvision.datasets.utils import download_url

    dest_dir.mkdir(parents=True, exist_ok=True)
    dest = dest_dir / filename
    if dest.is_file():
        if _md5(dest) == md5:
            _say(f"{dest}: present, md5 verified")
            return dest
        _say(f"{dest}: present but its md5 is not {md5}; fetching it again")
        dest.unlink()
    part = dest_dir / (filename + ".part")
    errors = []
    for mirror in mirrors:
        url = mirror + filename
        part.unlink(missing_ok=True)
        _say(f"fetching {url} -> {dest}")
        try:
            if url.lower().startswith("file:"):
                shutil.copyfile(_file_url_path(url), part)
            else:
                download_url(url, str(dest_dir), part.name, md5=None)
        except Exception as e:  # URLError, HTTPError, OSError, ...: try the next mirror
            part.unlink(missing_ok=True)
            errors.append(f"  {url}: {type(e).__name__}: {e}")
            continue
        actual = _md5(part)
        if actual == md5:
            os.replace(part, dest)
            return dest
        size = part.stat().st_size
        part.unlink()
        errors.append(
            f"  {url}: checksum mismatch for {filename}: expected md5 {md5}, got md5 {actual} "
            f"({size} bytes; truncated or corrupted). The bad copy was deleted."
        )
    raise DataError(f"could not get a valid {filename} (for {dest}) from any mirror:\n" + "\n".join(errors))


def _torchvision_subclass(spec: Dataset, mirrors: list[str]):
    """A private subclass of the torchvision class with our mirrors and overrides.

    Same class name, because torchvision derives folder names from it; the
    original class is never modified."""
    import torchvision.datasets as tvd

    base = getattr(tvd, spec.torchvision_class)
    attrs = dict(spec.class_attrs)
    if hasattr(base, "mirrors"):
        attrs.setdefault("mirrors", list(mirrors))
    else:
        attrs.setdefault("url", mirrors[0] + attrs.get("filename", base.filename))
    return type(base.__name__, (base,), attrs)


def _default_mirrors(spec: Dataset) -> list[str]:
    import torchvision.datasets as tvd

    base = getattr(tvd, spec.torchvision_class)
    if hasattr(base, "mirrors"):
        return list(base.mirrors)
    return [base.url.rsplit("/", 1)[0] + "/"]


def _mirrors(spec: Dataset, settings: dict) -> list[str]:
    mirrors = settings.get("mirrors")
    if mirrors is None:
        return _default_mirrors(spec)
    if isinstance(mirrors, str):
        mirrors = [mirrors]
    if not isinstance(mirrors, list) or not mirrors:
        raise DataError(f"{spec.name}: mirrors must be null or a non-empty list of URLs, got {mirrors!r}")
    return [normalize_mirror(m) for m in mirrors]


# ----------------------------------------------------------------------------- torchvision datasets


def _prepare_mnist_like(spec: Dataset, raw_dir: Path, settings: dict) -> dict:
    """MNIST / FashionMNIST: four gz files under raw_dir/<Class>/raw, official split."""
    cls = _torchvision_subclass(spec, _mirrors(spec, settings))
    folder = raw_dir / cls.__name__ / "raw"
    for filename, md5 in cls.resources:
        fetch(filename, md5, cls.mirrors, folder)
    # torchvision trusts any extracted file that exists: extract afresh from the verified archives.
    extracted = [folder / os.path.splitext(f)[0] for f, _ in cls.resources]
    for path in extracted:
        path.unlink(missing_ok=True)
    try:
        _say(f"{spec.name}: extracting and converting")
        train = cls(str(raw_dir), train=True, download=True)
        test = cls(str(raw_dir), train=False, download=True)
    finally:
        for path in extracted:  # byproducts: the verified .gz files are the cache
            path.unlink(missing_ok=True)
    return {
        "name": spec.name,
        "train_x": train.data.to(torch.uint8).unsqueeze(1).contiguous(),
        "train_y": train.targets.to(torch.int64),
        "test_x": test.data.to(torch.uint8).unsqueeze(1).contiguous(),
        "test_y": test.targets.to(torch.int64),
        "scale": 255.0,
        "classes": list(cls.classes),
    }


def _prepare_cifar(spec: Dataset, raw_dir: Path, settings: dict) -> dict:
    """CIFAR-10: one tar.gz of pickled batches; torchvision gives HWC, we store CHW."""
    mirrors = _mirrors(spec, settings)
    cls = _torchvision_subclass(spec, mirrors)
    fetch(cls.filename, cls.tgz_md5, mirrors, raw_dir)
    extracted = raw_dir / cls.base_folder
    shutil.rmtree(extracted, ignore_errors=True)
    try:
        _say(f"{spec.name}: extracting and converting")
        try:
            train = cls(str(raw_dir), train=True, download=True)
            test = cls(str(raw_dir), train=False, download=True)
        except RuntimeError as e:
            raise DataError(f"{spec.name}: {e} (archive {raw_dir / cls.filename}: {_bad_members(cls, extracted)})") from e
    finally:
        shutil.rmtree(extracted, ignore_errors=True)

    def chw(a):
        return torch.from_numpy(a).permute(0, 3, 1, 2).contiguous()

    return {
        "name": spec.name,
        "train_x": chw(train.data),
        "train_y": torch.tensor(train.targets, dtype=torch.int64),
        "test_x": chw(test.data),
        "test_y": torch.tensor(test.targets, dtype=torch.int64),
        "scale": 255.0,
        "classes": list(train.classes),
    }


def _bad_members(cls, folder: Path) -> str:
    """Which extracted files fail their md5 (the archive itself matched its own)."""
    expected = [*cls.train_list, *cls.test_list, [cls.meta["filename"], cls.meta["md5"]]]
    bad = []
    for name, md5 in expected:
        path = folder / name
        actual = _md5(path) if path.is_file() else "missing"
        if actual != md5:
            bad.append(f"{path}: expected md5 {md5}, got {actual}")
    return "; ".join(bad) or "all members verified"


DATASETS: dict[str, Dataset] = {
    "digits": Dataset("digits", (1, 8, 8), 16.0, _prepare_digits),
    "mnist": Dataset("mnist", (1, 28, 28), 255.0, _prepare_mnist_like, "MNIST"),
    "fashion_mnist": Dataset("fashion_mnist", (1, 28, 28), 255.0, _prepare_mnist_like, "FashionMNIST"),
    "cifar10": Dataset("cifar10", (3, 32, 32), 255.0, _prepare_cifar, "CIFAR10"),
    "photo_patches": Dataset("photo_patches", (3, 32, 32), 255.0, _prepare_photo_patches),
}


# ----------------------------------------------------------------------------- API


def get_dataset(name: str) -> Dataset:
    if name not in DATASETS:
        raise DataError(f"unknown dataset {name!r}; allowed: {', '.join(DATASETS)}")
    return DATASETS[name]


def check_settings(settings: dict | None) -> dict:
    """The settings of one data job over their defaults (reconloss.settings.Data); unknown keys raise."""
    settings, defaults = dict(settings or {}), data_job_defaults()
    unknown = sorted(set(settings) - set(defaults))
    if unknown:
        raise DataError(f"unknown data setting(s) {unknown}; allowed: {', '.join(defaults)}")
    return {**defaults, **{k: v for k, v in settings.items() if v is not None}}


def prepare(name: str, out: str | Path, raw_dir: str | Path, settings: dict | None = None) -> dict:
    """Build dataset `name` and write it to `out` (atomically, as the last step)."""
    spec = get_dataset(name)
    settings = check_settings(settings)
    start = time.perf_counter()
    ds = spec.prepare(spec, Path(raw_dir), settings)
    check_dataset(ds, spec)
    _say(
        f"{name}: train {tuple(ds['train_x'].shape)}, test {tuple(ds['test_x'].shape)}, "
        f"prepared in {time.perf_counter() - start:.1f} s"
    )
    torch_save(ds, out)
    return ds


def check_dataset(ds: dict, spec: Dataset | None = None) -> None:
    """Fail loudly if `ds` breaks the file contract every later stage relies on."""
    missing = [k for k in KEYS if k not in ds]
    if missing:
        raise DataError(f"dataset dict lacks {missing}")
    for split in ("train", "test"):
        x, y = ds[f"{split}_x"], ds[f"{split}_y"]
        if x.dtype != torch.uint8 or x.dim() != 4 or y.dtype != torch.int64 or y.shape != (x.shape[0],):
            raise DataError(f"{split}: bad tensors x {x.dtype} {tuple(x.shape)}, y {y.dtype} {tuple(y.shape)}")
        if spec is not None and tuple(x.shape[1:]) != spec.shape:
            raise DataError(f"{split}: images {tuple(x.shape[1:])}, expected {spec.shape}")
        if x.numel() and x.max() > ds["scale"]:
            raise DataError(f"{split}: pixel value {int(x.max())} above scale {ds['scale']}")


def load_dataset(path: str | Path, device="cpu") -> dict:
    """The cached dataset dict with its tensors on `device`."""
    ds = torch.load(path, map_location="cpu", weights_only=True)
    check_dataset(ds)
    return {k: v.to(device) if torch.is_tensor(v) else v for k, v in ds.items()}


def to_unit(x: torch.Tensor, scale: float) -> torch.Tensor:
    """uint8 pixels -> float32 in [0, 1]."""
    return x.float() / float(scale)


def data_shape(ds: dict) -> tuple[int, int, int]:
    """(C, H, W) of the dataset's images."""
    return tuple(int(s) for s in ds["train_x"].shape[1:])


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="python -m reconloss data", description=__doc__.split("\n")[0])
    parser.add_argument("--dataset", required=True, help=f"one of: {', '.join(DATASETS)}")
    parser.add_argument("--out", required=True, help="cached tensor file, e.g. results/data/mnist.pt")
    parser.add_argument("--raw-dir", required=True, help="where downloads are kept and verified")
    parser.add_argument("--settings", default="{}", help="JSON: mirrors, test_fraction, split_seed")
    args = parser.parse_args(argv)
    try:
        settings = json.loads(args.settings)
        if not isinstance(settings, dict):
            raise DataError(f"--settings must be a JSON object, got {args.settings!r}")
        prepare(args.dataset, args.out, args.raw_dir, settings)
    except json.JSONDecodeError as e:
        sys.exit(f"reconloss data: --settings is not valid JSON: {e}")
    except DataError as e:
        sys.exit(f"reconloss data ({args.dataset}): {e}")
