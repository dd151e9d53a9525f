"""A pack's evaluate job keeps the evaluations of members whose inputs are unchanged
(reconloss.evaluation.kept), and evaluates again whatever one of them changed for."""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from reconloss import io
from reconloss.evaluation import evaluate, kept
from reconloss.training import train
from test_evaluate import run_settings
from torch_helpers import one_thread

PACKAGE = Path(kept.__file__).resolve().parent.parent


def _pack(root, betas, epochs=2):
    runs = []
    for beta in betas:
        s = run_settings("cb", "continuous_bernoulli", 2)
        s["beta"], s["train"]["epochs"] = beta, epochs
        s["evaluate"].update(fid_samples=100, iw_samples=2)
        runs.append((root / f"b{beta}", s))
    return runs


@pytest.fixture
def counted(monkeypatch):
    """The run folders evaluate_run was called on."""
    calls = []
    real = evaluate.evaluate_run

    def spy(data_path, run_dir, *args, **kw):
        calls.append(Path(run_dir).name)
        return real(data_path, run_dir, *args, **kw)

    monkeypatch.setattr(evaluate, "evaluate_run", spy)
    return calls


@pytest.fixture(scope="module")
def trained(tmp_path_factory, digits_classifier):
    """A pack of two digits runs, trained and evaluated once: (data_path, classifier_dir, runs, rows)."""
    root = tmp_path_factory.mktemp("kept")
    data = digits_classifier["data_path"]
    runs = _pack(root, (0.5, 1.0))
    with one_thread():
        train.train_pack(data, runs)
        rows = evaluate.evaluate_pack(data, runs, digits_classifier["dir"])
    return data, digits_classifier["dir"], runs, rows


def _copy(trained, tmp_path):
    data, cls, runs, rows = trained
    shutil.copytree(runs[0][0].parent, tmp_path / "pack")
    return data, cls, [(tmp_path / "pack" / r.name, s) for r, s in runs], rows


def _without_seconds(row):
    return {k: v for k, v in row.items() if k != "eval_seconds"}


def test_a_pack_evaluated_again_keeps_every_member_and_rewrites_nothing(trained, tmp_path, counted):
    data, cls, runs, rows = _copy(trained, tmp_path)
    before = {(r, n): (r / n).stat().st_mtime_ns for r, _ in runs for n in kept.OUTPUTS}
    with one_thread():
        again = evaluate.evaluate_pack(data, runs, cls)
    assert counted == [] and again == rows
    assert before == {(r, n): (r / n).stat().st_mtime_ns for r, _ in runs for n in kept.OUTPUTS}


def test_a_pack_that_gains_a_run_evaluates_only_the_new_one(trained, tmp_path, counted):
    """The follow-up round's case: train_pack rewrites the old members' model.pt and status.json
    (pack_size) on resume; their evaluations are still theirs."""
    data, cls, runs, rows = _copy(trained, tmp_path)
    more = runs + _pack(tmp_path / "pack", (2.0,))
    with one_thread():
        statuses = train.train_pack(data, more)
        assert [s["pack_size"] for s in statuses] == [3, 3, 3]
        again = evaluate.evaluate_pack(data, more, cls)
    assert counted == ["b2.0"]
    assert again[:2] == rows and again[2]["beta"] == 2.0 and again[2]["fid"] is not None


def _bump_weight(run_dir, settings):
    saved = torch.load(run_dir / "model.pt", weights_only=True)
    saved["state_dict"] = {k: v + 1e-3 if v.is_floating_point() else v for k, v in saved["state_dict"].items()}
    torch.save(saved, run_dir / "model.pt")


def _more_images(run_dir, settings):
    settings["evaluate"]["n_images"] = 6


def _other_test_stats(run_dir, settings, cls):
    import numpy as np

    st = dict(np.load(cls / "test_stats.npz"))
    st["mu"] = st["mu"] + 0.5
    np.savez(cls / "test_stats.npz", **st)


def _lost_images(run_dir, settings):
    (run_dir / "images.pt").unlink()


@pytest.mark.parametrize("change", [_bump_weight, _more_images, _other_test_stats, _lost_images],
                         ids=["model", "settings", "classifier", "an output missing"])
def test_a_changed_input_evaluates_the_member_again_to_a_fresh_evaluations_numbers(trained, tmp_path, counted,
                                                                                    change):
    data, cls0, runs, rows = _copy(trained, tmp_path)
    cls = tmp_path / "classifier"
    shutil.copytree(cls0, cls)
    with one_thread():
        evaluate.evaluate_pack(data, runs, cls)  # the copied classifier folder's record
    counted.clear()
    run_dir, settings = runs[0]
    settings = json.loads(json.dumps(settings))
    if change is _other_test_stats:
        change(run_dir, settings, cls)
    else:
        change(run_dir, settings)
    changed = [(run_dir, settings), runs[1]]
    with one_thread():
        again = evaluate.evaluate_pack(data, changed, cls)
    expect = ["b0.5", "b1.0"] if change is _other_test_stats else ["b0.5"]
    assert counted == expect
    fresh = tmp_path / "fresh"
    shutil.copytree(run_dir, fresh)
    (fresh / kept.RECORD).unlink()
    with one_thread():
        alone = evaluate.evaluate_pack(data, [(fresh, settings)], cls)[0]
    assert _without_seconds(again[0]) == _without_seconds(alone)
    if change in (_bump_weight, _other_test_stats):
        assert again[0]["fid"] != rows[0]["fid"]
    if change is _bump_weight:
        assert again[0]["elbo"] != rows[0]["elbo"]


def test_a_code_change_changes_the_record(trained, tmp_path):
    data, cls, _, _ = trained
    assert kept.shared_record(data, [cls])["code"] == kept.code_digest(PACKAGE)
    copy = tmp_path / "reconloss"
    shutil.copytree(PACKAGE, copy, ignore=shutil.ignore_patterns("__pycache__"))
    before = kept.code_digest(copy)
    assert kept.code_digest(PACKAGE) == before
    (copy / "report" / "tables.py").write_text("# the report does not change an evaluation\n")
    assert kept.code_digest(copy) == before
    path = copy / "likelihoods" / "continuous_bernoulli.py"
    path.write_text(path.read_text() + "\n# changed\n")
    assert kept.code_digest(copy) != before


def test_an_interrupted_evaluation_is_not_kept(trained, tmp_path, counted, monkeypatch):
    data, cls, runs, _ = _copy(trained, tmp_path)
    real = kept.remember

    def killed(run_dir, record):
        raise KeyboardInterrupt

    monkeypatch.setattr(kept, "remember", killed)
    (runs[0][0] / "metrics.json").unlink()  # evaluated again, then "killed" before its record is written
    with pytest.raises(KeyboardInterrupt), one_thread():
        evaluate.evaluate_pack(data, runs, cls)
    assert not (runs[0][0] / kept.RECORD).exists() and (runs[0][0] / "metrics.json").exists()
    monkeypatch.setattr(kept, "remember", real)
    counted.clear()
    with one_thread():
        evaluate.evaluate_pack(data, runs, cls)
    assert counted == ["b0.5"]


def test_a_diverged_member_is_never_kept(trained, tmp_path, counted):
    data, cls, runs, _ = _copy(trained, tmp_path)
    status = io.read_json(runs[0][0] / "status.json")
    status.update(status="diverged", diverged_epoch=1, diverged_step=3, reason="non-finite loss")
    io.write_json(runs[0][0] / "status.json", status)
    with one_thread():
        evaluate.evaluate_pack(data, runs, cls)
        evaluate.evaluate_pack(data, runs, cls)
    assert counted == ["b0.5", "b0.5"] and not (runs[0][0] / kept.RECORD).exists()


def test_evaluation_imports_no_reconloss_module_outside_the_recorded_code(trained, tmp_path):
    """Every module the evaluate job loads lies in kept.CODE, or is the command line's dispatch."""
    data, cls, runs, _ = _copy(trained, tmp_path)
    (runs[0][0] / kept.RECORD).unlink()
    pack = json.dumps([{"run_dir": str(r), "settings": s} for r, s in runs[:1]])
    probe = ("import sys, runpy; sys.argv = ['reconloss', '--threads', '1', 'evaluate', '--data', %r, '--runs', %r, "
             "'--classifier-dir', %r]\ntry:\n    runpy.run_module('reconloss', run_name='__main__')\n"
             "except SystemExit:\n    pass\n"
             "print('\\n'.join(m.__file__ for n, m in list(sys.modules.items()) "
             "if n.startswith('reconloss') and getattr(m, '__file__', None)))") % (str(data), pack, str(cls))
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout.split()
    files = {Path(f).resolve().relative_to(PACKAGE).as_posix() for f in out}
    assert "evaluation/metrics.py" in files and "likelihoods/continuous_bernoulli.py" in files
    dispatch = {"__init__.py", "__main__.py", "cli.py"}
    outside = {f for f in files - dispatch if f.split("/")[0] not in kept.CODE}
    assert not outside, outside
