"""reconloss.data.datasets: the cached dataset files, checked against independent readers.

MNIST and FashionMNIST go through the real download code against a local
HTTP server (and a file:// mirror) over the offline copies in ../shared/data;
their tensors are compared with a plain numpy reading of the idx files.
CIFAR-10 is tested on a tiny archive in the real format written here.
"""

import gzip
import hashlib
import io
import os
import pickle
import subprocess
import sys
import tarfile
from pathlib import Path

import numpy as np
import pytest
import torch

from reconloss.data import datasets as data
from reconloss.data.datasets import DataError

MNIST_TRAIN_COUNTS = [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
MNIST_TEST_COUNTS = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
MNIST_FILES = {
    "train-images-idx3-ubyte.gz": "f68b3c2dcbeaaa9fbdd348bbdeb94873",
    "train-labels-idx1-ubyte.gz": "d53e105ee54ea40749a09fcbcd1e9432",
    "t10k-images-idx3-ubyte.gz": "9fb629c4189551a2d022fa330f9573f3",
    "t10k-labels-idx1-ubyte.gz": "ec29112dd5afa0611ce80d1b7f02629c",
}


def md5(path) -> str:
    return hashlib.md5(Path(path).read_bytes()).hexdigest()


def read_idx(path) -> np.ndarray:
    """Independent reader of the idx format (big-endian header, then uint8 data)."""
    raw = gzip.decompress(Path(path).read_bytes())
    ndim = raw[3]
    shape = np.frombuffer(raw, dtype=">u4", count=ndim, offset=4).astype(int)
    return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim).reshape(shape)


def no_temp_files(directory) -> bool:
    return not [p for p in Path(directory).iterdir() if p.name.startswith(".")]


# ----------------------------------------------------------------------------- digits


@pytest.fixture(scope="module")
def digits(tmp_path_factory):
    out = tmp_path_factory.mktemp("digits") / "digits.pt"
    data.prepare("digits", out, out.parent / "raw")
    return data.load_dataset(out)


def test_digits_shapes_values_and_contract(digits):
    from sklearn.datasets import load_digits

    assert digits["name"] == "digits" and digits["scale"] == 16.0
    assert digits["classes"] == [str(i) for i in range(10)]
    assert digits["train_x"].shape == (1437, 1, 8, 8) and digits["test_x"].shape == (360, 1, 8, 8)
    assert digits["train_x"].dtype == torch.uint8 and digits["train_y"].dtype == torch.int64
    assert data.data_shape(digits) == (1, 8, 8) == data.DATASETS["digits"].shape
    # train + test is exactly sklearn's data set, image for image with its label
    ref = load_digits()
    ours = torch.cat([digits["train_x"], digits["test_x"]]).reshape(-1, 64).double().numpy()
    labels = torch.cat([digits["train_y"], digits["test_y"]]).numpy()
    ref_rows = sorted(zip(map(tuple, ref.data), ref.target))
    assert sorted(zip(map(tuple, ours), labels)) == ref_rows
    unit = data.to_unit(digits["train_x"], digits["scale"])
    assert unit.dtype == torch.float32 and unit.min() == 0.0 and unit.max() == 1.0


def test_digits_split_is_stratified(digits):
    train = np.bincount(digits["train_y"].numpy(), minlength=10)
    test = np.bincount(digits["test_y"].numpy(), minlength=10)
    assert np.all(np.abs(test - 0.2 * (train + test)) <= 1)


def test_digits_split_deterministic_and_seeded(tmp_path, digits):
    again = data.prepare("digits", tmp_path / "a.pt", tmp_path / "raw")
    assert torch.equal(again["test_x"], digits["test_x"]) and torch.equal(again["train_y"], digits["train_y"])
    other = data.prepare("digits", tmp_path / "b.pt", tmp_path / "raw", {"split_seed": 1, "test_fraction": 0.5})
    assert len(other["test_y"]) == 899 and len(other["train_y"]) == 898
    assert not torch.equal(other["test_x"][:360], digits["test_x"])


def test_digits_cli_does_not_import_torchvision(tmp_path):
    out = tmp_path / "d.pt"
    code = (
        "import sys; from reconloss.data import datasets as data; "
        f"data.main(['--dataset', 'digits', '--out', {str(out)!r}, '--raw-dir', {str(tmp_path)!r}]); "
        "assert 'torchvision' not in sys.modules, 'torchvision imported'"
    )
    subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True)
    ds = torch.load(out, weights_only=True)
    assert set(ds) == set(data.KEYS)


def test_importing_data_is_light():
    code = "import sys, reconloss.data.datasets; assert not {'torchvision', 'sklearn'} & set(sys.modules)"
    subprocess.run([sys.executable, "-c", code], check=True)


# ----------------------------------------------------------------------------- errors and settings


def test_unknown_dataset_lists_allowed(tmp_path):
    with pytest.raises(SystemExit) as e:
        data.main(["--dataset", "svhn", "--out", str(tmp_path / "x.pt"), "--raw-dir", str(tmp_path)])
    msg = str(e.value.code)
    assert "svhn" in msg and all(name in msg for name in ("digits", "mnist", "fashion_mnist", "cifar10"))
    assert not (tmp_path / "x.pt").exists()


def test_bad_settings_are_named(tmp_path):
    with pytest.raises(DataError, match="mirors.*allowed: mirrors, test_fraction, split_seed"):
        data.prepare("digits", tmp_path / "x.pt", tmp_path, {"mirors": []})
    with pytest.raises(DataError, match="test_fraction"):
        data.prepare("digits", tmp_path / "x.pt", tmp_path, {"test_fraction": 1.5})
    with pytest.raises(SystemExit, match="not valid JSON"):
        data.main(["--dataset", "digits", "--out", str(tmp_path / "x.pt"), "--raw-dir", str(tmp_path), "--settings", "{"])


def test_normalize_mirror(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert data.normalize_mirror("http://h/x") == "http://h/x/"
    assert data.normalize_mirror("https://h/x/") == "https://h/x/"
    assert data.normalize_mirror("file:///a/b") == "file:///a/b/"
    assert data.normalize_mirror("rel/dir") == (tmp_path / "rel" / "dir").as_uri() + "/"
    with pytest.raises(DataError, match="ftp"):
        data.normalize_mirror("ftp://h/x")


def test_torchvision_classes_are_not_modified(tmp_path):
    import torchvision.datasets as tvd

    before = (list(tvd.MNIST.mirrors), tvd.CIFAR10.url, tvd.CIFAR10.tgz_md5)
    cls = data._torchvision_subclass(data.DATASETS["mnist"], ["http://example.invalid/"])
    assert cls.__name__ == "MNIST" and issubclass(cls, tvd.MNIST) and cls.mirrors == ["http://example.invalid/"]
    cls = data._torchvision_subclass(data.DATASETS["cifar10"], ["http://example.invalid/"])
    assert cls.url == "http://example.invalid/cifar-10-python.tar.gz"
    assert (list(tvd.MNIST.mirrors), tvd.CIFAR10.url, tvd.CIFAR10.tgz_md5) == before
    assert data._default_mirrors(data.DATASETS["mnist"]) == list(tvd.MNIST.mirrors)
    assert data._default_mirrors(data.DATASETS["cifar10"]) == ["https://www.cs.toronto.edu/~kriz/"]


# ----------------------------------------------------------------------------- MNIST, FashionMNIST


def check_mnist_like(ds, raw, name, train_counts, test_counts):
    assert ds["name"] == name and ds["scale"] == 255.0 and len(ds["classes"]) == 10
    assert ds["train_x"].shape == (60000, 1, 28, 28) and ds["test_x"].shape == (10000, 1, 28, 28)
    assert ds["train_x"].dtype == torch.uint8 and ds["test_y"].dtype == torch.int64
    assert np.bincount(ds["train_y"].numpy()).tolist() == train_counts
    assert np.bincount(ds["test_y"].numpy()).tolist() == test_counts
    for split, prefix in (("train", "train"), ("test", "t10k")):
        assert np.array_equal(ds[f"{split}_x"][:, 0].numpy(), read_idx(raw / f"{prefix}-images-idx3-ubyte.gz"))
        assert np.array_equal(ds[f"{split}_y"].numpy(), read_idx(raw / f"{prefix}-labels-idx1-ubyte.gz"))


def test_mnist_over_http(tmp_path, shared_data_dir, http_mirror):
    mirror = http_mirror(shared_data_dir) + "MNIST/raw/"
    out = tmp_path / "out" / "mnist.pt"
    data.main(["--dataset", "mnist", "--out", str(out), "--raw-dir", str(tmp_path / "raw"),
               "--settings", f'{{"mirrors": ["{mirror}"]}}'])
    ds = data.load_dataset(out)
    check_mnist_like(ds, shared_data_dir / "MNIST" / "raw", "mnist", MNIST_TRAIN_COUNTS, MNIST_TEST_COUNTS)
    raw = tmp_path / "raw" / "MNIST" / "raw"
    assert {p.name: md5(p) for p in raw.iterdir()} == MNIST_FILES  # verified downloads only, nothing else
    assert no_temp_files(out.parent)


def test_fashion_mnist_over_http_with_fallback_mirror(tmp_path, shared_data_dir, http_mirror):
    empty = tmp_path / "empty"
    empty.mkdir()
    mirrors = [http_mirror(empty), http_mirror(shared_data_dir) + "FashionMNIST/raw"]  # first one: 404s
    out = tmp_path / "fashion_mnist.pt"
    data.prepare("fashion_mnist", out, tmp_path / "raw", {"mirrors": mirrors})
    ds = data.load_dataset(out)
    check_mnist_like(ds, shared_data_dir / "FashionMNIST" / "raw", "fashion_mnist", [6000] * 10, [1000] * 10)
    assert ds["classes"][0] == "T-shirt/top"


def test_mnist_file_mirror_replaces_stale_files_then_works_offline(tmp_path, shared_data_dir):
    raw = tmp_path / "raw" / "MNIST" / "raw"
    raw.mkdir(parents=True)
    (raw / "t10k-labels-idx1-ubyte.gz").write_bytes(b"half a download")  # a killed earlier fetch
    for name in MNIST_FILES:  # a stale extraction: torchvision trusts any extracted file that exists
        (raw / name[: -len(".gz")]).write_bytes(b"stale")
    mirror = (shared_data_dir / "MNIST" / "raw").as_uri()
    out = tmp_path / "mnist.pt"
    data.prepare("mnist", out, tmp_path / "raw", {"mirrors": [mirror]})
    check_mnist_like(data.load_dataset(out), shared_data_dir / "MNIST" / "raw", "mnist",
                     MNIST_TRAIN_COUNTS, MNIST_TEST_COUNTS)
    assert {p.name: md5(p) for p in raw.iterdir()} == MNIST_FILES
    # verified files already in the raw dir: no mirror is contacted
    again = data.prepare("mnist", tmp_path / "again.pt", tmp_path / "raw", {"mirrors": ["http://127.0.0.1:9/"]})
    assert torch.equal(again["test_x"], torch.load(out, weights_only=True)["test_x"])


@pytest.mark.parametrize("damage", ["truncate", "flip"])
def test_corrupted_mnist_file_fails_cleanly(tmp_path, shared_data_dir, http_mirror, damage):
    mirror_dir = tmp_path / "mirror"
    mirror_dir.mkdir()
    bad = "train-labels-idx1-ubyte.gz"
    for name in MNIST_FILES:
        src = shared_data_dir / "MNIST" / "raw" / name
        if name != bad:
            os.symlink(src, mirror_dir / name)
            continue
        content = bytearray(src.read_bytes())
        if damage == "truncate":
            content = content[: len(content) // 2]
        else:
            content[len(content) // 2] ^= 0xFF
        (mirror_dir / name).write_bytes(bytes(content))
    actual = md5(mirror_dir / bad)
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    raw = tmp_path / "raw"
    with pytest.raises(SystemExit) as e:
        data.main(["--dataset", "mnist", "--out", str(out_dir / "mnist.pt"), "--raw-dir", str(raw),
                   "--settings", f'{{"mirrors": ["{http_mirror(mirror_dir)}"]}}'])
    msg = str(e.value.code)
    assert bad in msg and MNIST_FILES[bad] in msg and actual in msg and actual != MNIST_FILES[bad]
    assert list(out_dir.iterdir()) == []  # no .pt, no temporary file
    leftovers = [p.name for p in (raw / "MNIST" / "raw").iterdir()]
    assert leftovers == ["train-images-idx3-ubyte.gz"]  # the good file before it; the bad one deleted


def test_unreachable_mirrors_are_all_reported(tmp_path, http_mirror):
    empty = tmp_path / "empty"
    empty.mkdir()
    mirrors = [http_mirror(empty), empty.as_uri()]
    with pytest.raises(DataError) as e:
        data.prepare("mnist", tmp_path / "x.pt", tmp_path / "raw", {"mirrors": mirrors})
    msg = str(e.value)
    assert "train-images-idx3-ubyte.gz" in msg and "404" in msg and "FileNotFoundError" in msg
    assert not (tmp_path / "x.pt").exists()


# ----------------------------------------------------------------------------- CIFAR-10


def write_tiny_cifar(directory: Path, seed=0, per_batch=3, n_test=4):
    """A cifar-10-python.tar.gz in the real format; returns (checksums, train, test) with
    train/test = (rows (N, 3072) uint8 as stored: R plane, G plane, B plane; labels)."""
    rng = np.random.default_rng(seed)
    names = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]
    members, checksums = {}, {"train_list": [], "test_list": []}

    def batch(name, n, key):
        rows = rng.integers(0, 256, size=(n, 3072), dtype=np.uint8)
        labels = rng.integers(0, 10, size=n).tolist()
        blob = pickle.dumps({"batch_label": name, "labels": labels, "data": rows,
                             "filenames": [f"{name}_{i}.png" for i in range(n)]}, protocol=2)
        members[name] = blob
        checksums[key].append([name, hashlib.md5(blob).hexdigest()])
        return rows, labels

    train = [batch(f"data_batch_{i}", per_batch, "train_list") for i in range(1, 6)]
    test = batch("test_batch", n_test, "test_list")
    meta = pickle.dumps({"num_cases_per_batch": per_batch, "label_names": names, "num_vis": 3072}, protocol=2)
    members["batches.meta"] = meta
    checksums["meta"] = {"filename": "batches.meta", "key": "label_names", "md5": hashlib.md5(meta).hexdigest()}
    archive = directory / "cifar-10-python.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        for name, blob in members.items():
            info = tarfile.TarInfo(f"cifar-10-batches-py/{name}")
            info.size = len(blob)
            tar.addfile(info, io.BytesIO(blob))
    checksums["tgz_md5"] = md5(archive)
    train_rows = np.concatenate([r for r, _ in train])
    train_labels = sum((l for _, l in train), [])
    return checksums, (train_rows, train_labels), test, names


@pytest.fixture
def tiny_cifar(tmp_path, monkeypatch):
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    checksums, train, test, names = write_tiny_cifar(mirror)
    monkeypatch.setattr(data.DATASETS["cifar10"], "class_attrs", checksums)
    return mirror, checksums, train, test, names


def test_cifar10_tiny_archive_over_http(tmp_path, tiny_cifar, http_mirror):
    mirror, _, (train_rows, train_labels), (test_rows, test_labels), names = tiny_cifar
    out = tmp_path / "cifar10.pt"
    data.main(["--dataset", "cifar10", "--out", str(out), "--raw-dir", str(tmp_path / "raw"),
               "--settings", f'{{"mirrors": ["{http_mirror(mirror)}"]}}'])
    ds = data.load_dataset(out)
    assert ds["name"] == "cifar10" and ds["scale"] == 255.0 and ds["classes"] == names
    assert ds["train_x"].shape == (15, 3, 32, 32) and ds["test_x"].shape == (4, 3, 32, 32)
    assert data.data_shape(ds) == (3, 32, 32)
    # x[n, c, h, w] is byte c*1024 + h*32 + w of the stored row: R, G, B planes in order
    for split, rows, labels in (("train", train_rows, train_labels), ("test", test_rows, test_labels)):
        x = ds[f"{split}_x"].numpy()
        assert np.array_equal(x, rows.reshape(-1, 3, 32, 32))
        n, c, h, w = 1, 2, 5, 17
        assert x[n, c, h, w] == rows[n, c * 1024 + h * 32 + w]
        assert ds[f"{split}_y"].tolist() == labels
    assert sorted(p.name for p in (tmp_path / "raw").iterdir()) == ["cifar-10-python.tar.gz"]


def test_cifar10_truncated_archive_fails_cleanly(tmp_path, tiny_cifar):
    mirror, checksums, *_ = tiny_cifar
    archive = mirror / "cifar-10-python.tar.gz"
    archive.write_bytes(archive.read_bytes()[:-100])
    out = tmp_path / "cifar10.pt"
    with pytest.raises(DataError) as e:
        data.prepare("cifar10", out, tmp_path / "raw", {"mirrors": [str(mirror)]})
    msg = str(e.value)
    assert "cifar-10-python.tar.gz" in msg and checksums["tgz_md5"] in msg and md5(archive) in msg
    assert not out.exists() and list((tmp_path / "raw").iterdir()) == []


def test_cifar10_bad_member_checksum_is_named(tmp_path, tiny_cifar, monkeypatch):
    mirror, checksums, *_ = tiny_cifar
    wrong = "0" * 32
    actual = checksums["train_list"][2][1]
    checksums["train_list"][2][1] = wrong
    out = tmp_path / "cifar10.pt"
    with pytest.raises(DataError) as e:
        data.prepare("cifar10", out, tmp_path / "raw", {"mirrors": [mirror.as_uri()]})
    msg = str(e.value)
    assert "data_batch_3" in msg and wrong in msg and actual in msg
    assert not out.exists() and not (tmp_path / "raw" / "cifar-10-batches-py").exists()


# ----------------------------------------------------------------------------- photo patches

PHOTO_FILES = {"astronaut": "skimage/astronaut.png", "coffee": "skimage/coffee.png", "chelsea": "skimage/chelsea.png",
               "rocket": "skimage/rocket.jpg", "motorcycle": "skimage/motorcycle_left.png",
               "china": "sklearn/china.jpg", "flower": "sklearn/flower.jpg"}


def photo_file(name) -> Path:
    """The photograph's file inside the installed wheel (no download)."""
    import skimage.data
    import sklearn.datasets

    package, filename = PHOTO_FILES[name].split("/")
    root = Path(skimage.data.__file__).parent if package == "skimage" else \
        Path(sklearn.datasets.__file__).parent / "images"
    return root / filename


@pytest.fixture(scope="module")
def photo_patches(tmp_path_factory):
    out = tmp_path_factory.mktemp("photo_patches") / "photo_patches.pt"
    data.prepare("photo_patches", out, out.parent / "raw")
    return data.load_dataset(out)


def expected_patches(image):
    """Independently: test = the rightmost round(0.2 W / 32) (>= 1) patch widths; patches every 16 pixels."""
    h, w, _ = image.shape
    band = 32 * max(1, int(np.floor(0.2 * w / 32 + 0.5)))
    split = w - band
    out = {}
    for key, (lo, hi) in (("train", (0, split)), ("test", (split, w))):
        out[key] = [image[r:r + 32, c:c + 32].transpose(2, 0, 1)
                    for r in range(0, h - 31, 16) for c in range(lo, hi - 31, 16)]
    return out, split


def test_photo_patches_are_the_bundled_photographs_cut_apart(photo_patches):
    from PIL import Image

    ds = photo_patches
    assert ds["classes"] == list(PHOTO_FILES) and ds["scale"] == 255.0 and data.data_shape(ds) == (3, 32, 32)
    assert ds["train_x"].dtype == torch.uint8 and ds["train_x"].is_contiguous()
    assert len(ds["train_x"]) >= 5000 and len(ds["test_x"]) >= 1000
    for split in ("train", "test"):
        # photographs in label order, each a contiguous block of patches
        assert ds[f"{split}_y"].tolist() == sorted(ds[f"{split}_y"].tolist())
    starts = {"train": 0, "test": 0}
    for label, name in enumerate(PHOTO_FILES):
        path = photo_file(name)
        assert path.is_file(), f"{path} is not in the installed package"
        image = np.asarray(Image.open(path).convert("RGB"))
        expected, split_col = expected_patches(image)
        assert 0 < split_col < image.shape[1] - 31
        for split in ("train", "test"):
            x = ds[f"{split}_x"].numpy()
            y = ds[f"{split}_y"].numpy()
            n = len(expected[split])
            assert (y == label).sum() == n, (name, split)
            block = x[starts[split]:starts[split] + n]
            assert np.array_equal(block, np.stack(expected[split])), (name, split)
            assert (y[starts[split]:starts[split] + n] == label).all()
            starts[split] += n


def test_photo_patches_train_and_test_share_no_pixel():
    """Every training patch ends left of the photograph's split column; every test patch starts at or after it."""
    from reconloss.data import photo_patches as pp

    for name in pp.PHOTOGRAPHS:
        h, w, _ = pp.load_photograph(name).shape
        split = pp.split_column(w)
        train = pp.patch_origins(h, 0, split)
        test = pp.patch_origins(h, split, w)
        assert train and test
        assert max(c for _, c in train) + pp.PATCH <= split <= min(c for _, c in test)
        assert max(c for _, c in test) + pp.PATCH <= w and max(r for r, _ in test) + pp.PATCH <= h


def test_photo_patches_are_deterministic(photo_patches, tmp_path):
    out = tmp_path / "again.pt"
    data.main(["--dataset", "photo_patches", "--out", str(out), "--raw-dir", str(tmp_path / "raw")])
    again = data.load_dataset(out)
    for key in ("train_x", "train_y", "test_x", "test_y"):
        assert torch.equal(again[key], photo_patches[key]), key


def test_cifar10_colour_claims_plan_and_train_from_a_local_archive(tmp_path, tiny_cifar):
    """configs/cifar10-claims.yaml with a folder holding the archive: `snakemake -n claims` plans the colour
    claims' runs on CIFAR-10, and each planned run trains one step on the archive's images."""
    import yaml

    from reconloss.plan import config_check
    from reconloss.plan import runs as plan_runs
    from reconloss.training.train import train_pack
    from workflow_helpers import copy_workflow, planned_jobs, snakemake

    mirror, *_ = tiny_cifar
    work = copy_workflow(tmp_path / "wf")
    here = work / "cifar10-here.yaml"
    here.write_text(yaml.safe_dump({"data": {"mirrors": {"cifar10": [str(mirror)]}}}))
    config = config_check.load_files([work / "configs/cifar10-claims.yaml", here])
    plan = plan_runs.Plan(config)
    proc = snakemake(work, "-n", "claims", "--configfile", "configs/cifar10-claims.yaml", str(here))
    jobs = planned_jobs(proc)
    # CB, Bernoulli and the fixed-σ Gaussian, a pack each (their β and seeds stacked), on CIFAR-10 alone
    assert {label for _, label in plan.reads("claims")} == {"continuous_bernoulli", "bernoulli", "gaussian_fixed"}
    assert {r.dataset for r in plan.runs.values()} == {"cifar10"}
    assert jobs["train"] == jobs["evaluate"] == len(plan.packs) == 3 and jobs["data"] == 1
    assert jobs["classifier"] == 1 and jobs["claims_verdicts"] == 1
    out = tmp_path / "cifar10.pt"
    data.prepare("cifar10", out, tmp_path / "raw", {"mirrors": config["data"]["mirrors"]["cifar10"]})
    for pack in plan.packs:
        label = pack.runs[0].folder
        runs = []
        for run in pack.runs:
            settings = run.job_settings()
            settings["train"] = {**settings["train"], "epochs": 1, "device": "cpu"}
            runs.append((tmp_path / "runs" / label / f"beta~{run.beta}" / f"seed~{run.seed}", settings))
        statuses = train_pack(out, runs)
        assert [st["status"] for st in statuses] == ["ok"] * len(runs), label
        assert all((d / "model.pt").is_file() for d, _ in runs)
