"""Training: reproducible, resumable after SIGKILL, divergence as a result, lean imports."""

import csv
import json
import subprocess
import sys

import numpy as np
import pytest
import torch
from torch_helpers import assert_lean_job, one_thread, sigkill_after_checkpoint

from reconloss.training import train
from reconloss.training.optim import Adam
from reconloss.io import read_json

TIMING = {"seconds", "images_per_second"}


@pytest.fixture(scope="module")
def digits(tmp_path_factory):
    """A dataset file per the data contract, built here from scikit-learn's digits."""
    from sklearn.datasets import load_digits

    d = load_digits()
    x = torch.from_numpy(d.images.astype(np.uint8)).unsqueeze(1)
    y = torch.from_numpy(d.target).long()
    path = tmp_path_factory.mktemp("data") / "digits.pt"
    torch.save({"name": "digits", "train_x": x[:1400].clone(), "train_y": y[:1400].clone(),
                "test_x": x[1400:].clone(), "test_y": y[1400:].clone(), "scale": 16.0,
                "classes": [str(i) for i in range(10)]}, path)
    return path


@pytest.fixture(autouse=True)
def _one_thread():
    """The workflow trains with one thread; CPU results are bit-reproducible for a fixed count."""
    with one_thread():
        yield


def settings(likelihood="gaussian_learned_pixel", epochs=3, seed=0, lr=1e-3, batch_size=64, options=None,
             grad_clip=None):
    return {"dataset": "digits", "likelihood": likelihood, "likelihood_name": likelihood,
            "likelihood_options": options or {}, "beta": 1.0, "seed": seed,
            "train": {"epochs": epochs, "batch_size": batch_size, "lr": lr, "latent_dim": 4,
                      "grad_clip": grad_clip, "device": "cpu"},
            "model": {"arch": "auto", "hidden": [64, 32], "channels": [8, 16]},
            "evaluate": {"n_images": 4}}


def model_state(run_dir):
    return torch.load(run_dir / "model.pt", weights_only=True)["state_dict"]


def log_rows(run_dir, timing=False):
    with open(run_dir / "log.csv") as f:
        return [{k: v for k, v in r.items() if timing or k not in TIMING} for r in csv.DictReader(f)]


def assert_same_run(a, b):
    sa, sb = model_state(a), model_state(b)
    assert sa.keys() == sb.keys()
    for k in sa:
        assert torch.equal(sa[k], sb[k]), k
    assert log_rows(a) == log_rows(b)
    status_a, status_b = read_json(a / "status.json"), read_json(b / "status.json")
    for s in (status_a, status_b):  # timing and how the run was packed are not results
        for k in ("train_seconds", "images_per_second", "pack_size", "step_mode"):
            s.pop(k, None)
    assert status_a == status_b


def cli(run_dir, data, s, **kw):
    cmd = [sys.executable, "-m", "reconloss", "--threads", "1", "train", "--data", str(data),
           "--run-dir", str(run_dir), "--settings", json.dumps(s)]
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kw)


def test_same_seed_same_numbers_other_seed_other_numbers(digits, tmp_path):
    for name, seed in (("a", 0), ("b", 0), ("c", 1)):
        train.train_run(digits, tmp_path / name, settings(seed=seed))
    assert_same_run(tmp_path / "a", tmp_path / "b")
    assert not torch.equal(model_state(tmp_path / "a")["decoder.net.0.weight"],
                           model_state(tmp_path / "c")["decoder.net.0.weight"])


def test_outputs_and_loss_decreases(digits, tmp_path):
    status = train.train_run(digits, tmp_path, settings(epochs=5))
    assert status["status"] == "ok" and status["epochs_completed"] == 5
    assert status["images_per_second"] > 0 and status["train_seconds"] > 0
    rows = log_rows(tmp_path, timing=True)
    assert list(rows[0]) == ["epoch", "loss", "nll", "kl", "seconds", "images_per_second",
                             "sigma_mean", "sigma_min", "sigma_max", "floor_fraction", "nll_pixel_min"]
    loss = [float(r["loss"]) for r in rows]
    assert loss[-1] < loss[0] - 5  # nats per image
    for r in rows:  # loss = nll + beta*kl, beta = 1
        assert float(r["loss"]) == pytest.approx(float(r["nll"]) + float(r["kl"]), rel=1e-9)
    assert read_json(tmp_path / "status.json") == status
    vae, s, st = train.load_trained(tmp_path)
    assert not vae.training and s == settings(epochs=5) and st == status
    assert [r["epoch"] for r in rows] == ["1", "2", "3", "4", "5"]
    # the checkpoint is loadable the safe way too
    assert torch.load(tmp_path / "checkpoint.pt", weights_only=True)["epoch"] == 5


def test_resume_and_extend_equal_uninterrupted(digits, tmp_path):
    train.train_run(digits, tmp_path / "full", settings(epochs=4))
    train.train_run(digits, tmp_path / "parts", settings(epochs=2))
    train.train_run(digits, tmp_path / "parts", settings(epochs=4))  # continues after epoch 2
    assert_same_run(tmp_path / "full", tmp_path / "parts")


def test_checkpoint_with_other_settings_is_not_resumed(digits, tmp_path, capsys):
    train.train_run(digits, tmp_path / "fresh", settings(epochs=2, lr=2e-3))
    train.train_run(digits, tmp_path / "run", settings(epochs=2))
    capsys.readouterr()
    train.train_run(digits, tmp_path / "run", settings(epochs=2, lr=2e-3))
    assert "starting fresh" in capsys.readouterr().err
    assert_same_run(tmp_path / "fresh", tmp_path / "run")


def test_unreadable_checkpoint_is_retrained(digits, tmp_path, capsys):
    tmp_path.mkdir(exist_ok=True)
    (tmp_path / "checkpoint.pt").write_bytes(b"not a checkpoint")
    assert train.train_run(digits, tmp_path, settings(epochs=1))["status"] == "ok"
    assert "unreadable" in capsys.readouterr().err


def test_sigkilled_training_resumes_to_the_same_numbers(digits, tmp_path):
    """A real `python -m reconloss train` process, killed mid-run, then run again."""
    s = settings(epochs=12, batch_size=16)
    s["train"]["checkpoint_every"] = 0  # every epoch, so that the kill falls between two checkpoints
    killed = tmp_path / "killed"
    sigkill_after_checkpoint(cli(killed, digits, s), killed / "checkpoint.pt")
    assert not (killed / "status.json").exists() and not (killed / "model.pt").exists()
    epoch_at_kill = torch.load(killed / "checkpoint.pt", weights_only=True)["epoch"]
    assert 1 <= epoch_at_kill < 12

    proc = cli(killed, digits, s)
    _, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err
    assert f"resuming from {killed / 'checkpoint.pt'} after epoch" in err

    train.train_run(digits, tmp_path / "uninterrupted", s)
    assert_same_run(killed, tmp_path / "uninterrupted")
    assert len(log_rows(killed)) == 12


def test_divergence_is_a_result(digits, tmp_path):
    """gaussian_optimal_pixel without a floor: an exact residual of 0 makes the gradient infinite."""
    s = settings("gaussian_optimal_pixel", epochs=20, options={"floor": 0.0})
    s["train"]["latent_dim"], s["model"]["hidden"] = 8, [256, 128]
    proc = cli(tmp_path / "run", digits, s)
    _, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err
    status = read_json(tmp_path / "run" / "status.json")
    assert status["status"] == "diverged", status
    k = status["diverged_epoch"]
    assert 1 <= k <= 20 and status["epochs_completed"] == k - 1
    steps_per_epoch = -(-1400 // 64)
    assert (k - 1) * steps_per_epoch < status["diverged_step"] <= k * steps_per_epoch
    assert status["reason"] in ("non-finite loss", "non-finite gradient")
    assert np.isfinite(status["last_finite_loss"])
    assert len(log_rows(tmp_path / "run")) == k - 1
    # model.pt is the last completed epoch: what a run of k - 1 epochs ends with
    vae, _, _ = train.load_trained(tmp_path / "run")
    assert all(torch.isfinite(p).all() for p in vae.state_dict().values())
    s_before = {**s, "train": {**s["train"], "epochs": k - 1}}
    train.train_run(digits, tmp_path / "before", s_before)
    ref = model_state(tmp_path / "before")
    assert all(torch.equal(v, ref[name]) for name, v in model_state(tmp_path / "run").items())


def test_divergence_in_the_first_epoch_keeps_the_init(digits, tmp_path):
    status = train.train_run(digits, tmp_path, settings("gaussian_fixed", lr=1e6))
    assert status["status"] == "diverged" and status["diverged_epoch"] == 1 and status["epochs_completed"] == 0
    assert status["diverged_step"] >= 1
    torch.manual_seed(0)  # the init of seed 0
    from reconloss.training.vae import build_vae

    init = build_vae(settings("gaussian_fixed"), (1, 8, 8)).state_dict()
    assert all(torch.equal(v, init[k]) for k, v in model_state(tmp_path).items())
    assert log_rows(tmp_path) == []


def test_adam_is_torch_fused_adam_bit_for_bit():
    g = torch.Generator().manual_seed(0)
    shapes = [(30, 20), (30,), (5, 30), ()]
    init = [torch.randn(s, generator=g) for s in shapes]
    pa = [t.clone().requires_grad_() for t in init]
    pb = [t.clone().requires_grad_() for t in init]
    ref = torch.optim.Adam(pa, lr=3e-3, fused=True)
    ours = Adam(pb, lr=3e-3)
    for step in range(6):
        grads = [torch.randn(s, generator=g) for s in shapes]
        for p, q, gr in zip(pa, pb, grads):
            p.grad, q.grad = gr.clone(), gr.clone()
        if step == 3:  # a parameter without a gradient is left alone, as torch does
            pa[3].grad = pb[3].grad = None
        ref.step()
        ours.step()
    assert all(torch.equal(a, b) for a, b in zip(pa, pb))
    # state round trip
    other = Adam([t.clone().requires_grad_() for t in init], lr=3e-3)
    other.load_state_dict(ours.state_dict())
    assert all(torch.equal(a, b) for a, b in zip(other.exp_avg_sq, ours.exp_avg_sq))


def test_train_process_imports_only_what_it_needs(digits, tmp_path):
    assert_lean_job(["--threads", "1", "train", "--data", str(digits), "--run-dir", str(tmp_path),
                     "--settings", json.dumps(settings(epochs=1))])
