"""A run's evaluation kept while everything it was computed from is unchanged.

Why: a follow-up round that adds runs to a pack reruns the pack's evaluate job (its
params, the member list, changed), and evaluating the members it already had is most
of that job's time. Snakemake's own triggers work per job, not per member, so the
member's inputs are recorded beside its metrics.json, in evaluated_from.json:

- its model (the tensors of model.pt, not the file: a resumed member's model.pt is
  rewritten with the same tensors in other bytes), its log.csv (sha256), the status
  fields a row copies, its settings;
- the data file, each FID classifier's files and the Inception weights (sha256);
- the code evaluation runs: the package's data, evaluation, likelihoods and training
  sources, with settings.py and io.py (`CODE`).

An unchanged record keeps the member's metrics.json, images and figures as they are;
evaluation is deterministic given these (the seed comes from the settings), so this
changes no number. Any difference evaluates the member again, so `--forcerun evaluate`
after a change to that code still evaluates every member. To evaluate one again with
nothing changed, delete its evaluated_from.json. Runs that did not end "ok" are never
kept: they cost nothing to evaluate.
"""

import hashlib
import json
from functools import cache
from pathlib import Path

from reconloss import io

RECORD = "evaluated_from.json"
#: The parts of the package an evaluation's numbers depend on (tests/test_evaluate_kept.py checks that
#: evaluating a pack imports no other reconloss module).
CODE = ("data", "evaluation", "likelihoods", "training", "settings.py", "io.py", "option_ranges.py")
#: What the evaluate job writes per run; a run missing one of them is evaluated again.
OUTPUTS = ("metrics.json", "images.pt", "reconstructions.png", "samples.png")
#: The status.json fields a metrics row copies (evaluate.base_row); pack_size, which a
#: follow-up round rewrites for every member, is not one of them.
STATUS_FIELDS = ("status", "epochs_completed", "train_seconds", "diverged_epoch", "diverged_step")


def file_digest(path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _files_digest(paths) -> str:
    h = hashlib.sha256()
    for name, path in paths:
        h.update(name.encode() + b"\0" + file_digest(path).encode() + b"\0")
    return h.hexdigest()


def model_digest(path) -> str:
    """sha256 over model.pt's settings, data shape and every tensor (name, dtype, shape, values)."""
    import torch

    saved = torch.load(path, map_location="cpu", weights_only=True)
    h = hashlib.sha256(json.dumps({"settings": saved.get("settings"), "data_shape": saved.get("data_shape")},
                                  sort_keys=True).encode())
    for name, t in sorted(saved["state_dict"].items()):
        t = t.detach().contiguous()
        h.update(f"{name}\0{t.dtype}\0{tuple(t.shape)}\0".encode())
        h.update(t.view(-1).view(torch.uint8).numpy().tobytes() if t.numel() else b"")
    return h.hexdigest()


def code_digest(package=None) -> str:
    """sha256 over the sources in `CODE` (their paths and bytes), in a fixed order."""
    root = Path(package or Path(__file__).resolve().parent.parent)
    files = []
    for part in CODE:
        p = root / part
        found = sorted(p.rglob("*")) if p.is_dir() else [p]
        files += [f for f in found if f.is_file() and f.suffix in (".py", ".json")]
    return _files_digest((f.relative_to(root).as_posix(), f) for f in files)


@cache
def _code_digest_once() -> str:
    return code_digest()


def shared_record(data_path, classifier_dirs, inception_weights=None) -> dict:
    """What every member of a pack is evaluated against: data, classifiers, Inception weights, code."""
    classifiers = []
    for d in classifier_dirs:
        d = Path(d)
        files = sorted(f for f in d.iterdir() if f.is_file() and not f.name.startswith("."))
        classifiers.append(_files_digest((f.name, f) for f in files))
    return {"data": file_digest(data_path), "classifiers": classifiers,
            "inception": file_digest(inception_weights) if inception_weights else None,
            "code": _code_digest_once()}


def run_record(shared: dict, run_dir, settings: dict) -> dict | None:
    """The full record of one member, or None where it is not to be kept (not ok, or not trained)."""
    run_dir = Path(run_dir)
    try:
        status = io.read_json(run_dir / "status.json")
        if status.get("status") != "ok":
            return None
        files = {"model": model_digest(run_dir / "model.pt"), "log.csv": file_digest(run_dir / "log.csv")}
    except FileNotFoundError:
        return None
    return {**shared, **files, "status": {k: status.get(k) for k in STATUS_FIELDS},
            "settings": hashlib.sha256(json.dumps(settings, sort_keys=True).encode()).hexdigest()}


def kept_row(run_dir, record: dict | None) -> dict | None:
    """The member's metrics row when its recorded inputs are `record` and its outputs are all there."""
    run_dir = Path(run_dir)
    if record is None or not all((run_dir / name).exists() for name in OUTPUTS + (RECORD,)):
        return None
    try:
        if io.read_json(run_dir / RECORD) != record:
            return None
        return io.read_json(run_dir / "metrics.json")
    except (OSError, ValueError):  # unreadable: evaluate again
        return None


def forget(run_dir) -> None:
    """Remove the record before the outputs are rewritten, so that an interrupted evaluation is not kept."""
    (Path(run_dir) / RECORD).unlink(missing_ok=True)


def remember(run_dir, record: dict | None) -> None:
    """Record what the outputs just written were computed from (after them: the record is the seal)."""
    if record is not None:
        io.write_json(Path(run_dir) / RECORD, record)
