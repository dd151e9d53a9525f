"""Packs: K runs trained as one stacked model are K runs trained alone.

On a CPU with one thread the stacked kernels (batched matmul; convolutions member by
member) compute each member's numbers in the same order as a pack of one, so a member
of a pack is bit-identical to the same run trained alone; these tests assert exactly
that (torch.equal), not a tolerance. The grouped convolution that GPUs use instead is
checked against each member's own convolution to rounding.
"""

import json
import math
import subprocess
import sys

import numpy as np
import pytest
import torch
from torch_helpers import assert_lean_job, one_thread, sigkill_after_checkpoint

from reconloss.training import train
from reconloss.io import read_json
from reconloss.training.optim import Adam, clip_and_mask, member_grad_norms
from reconloss.training.stack import StackedVAE, _StackedLinear
from reconloss.training.vae import build_vae

from test_train import TIMING, assert_same_run, digits, log_rows, model_state, settings  # noqa: F401


@pytest.fixture(autouse=True)
def _one_thread():
    with one_thread():
        yield


def member(beta=1.0, seed=0, **kw):
    s = settings(**kw)
    s["beta"], s["seed"] = beta, seed
    return s


def pack_and_singles(digits, root, members, **kw):
    runs = [(root / "pack" / f"{b}_{s}", member(b, s, **kw)) for b, s in members]
    statuses = train.train_pack(digits, runs)
    for run_dir, s in runs:
        train.train_run(digits, root / "single" / run_dir.name, s)
    return [(run_dir, root / "single" / run_dir.name) for run_dir, _ in runs], statuses


@pytest.mark.parametrize("likelihood", ["gaussian_learned_pixel", "gaussian_learned_global", "continuous_bernoulli",
                                        "gaussian_data_pixel", "beta"])
def test_a_pack_trains_the_numbers_of_its_runs_alone(digits, tmp_path, likelihood):
    pairs, statuses = pack_and_singles(digits, tmp_path, [(0.5, 0), (1.0, 0), (4.0, 1)], likelihood=likelihood,
                                       epochs=2)
    assert [s["pack_size"] for s in statuses] == [3, 3, 3]
    for packed, alone in pairs:
        assert_same_run(packed, alone)
    # and the members really differ from each other (own beta, own seed)
    states = [model_state(p) for p, _ in pairs]
    assert not torch.equal(states[0]["decoder.net.0.weight"], states[1]["decoder.net.0.weight"])


def test_conv_pack_matches_its_runs_alone(digits, tmp_path):
    """On a CPU the stacked convolutions run member by member (the grouped kernel is slower
    there), so a conv pack is bit-identical to its runs alone as well."""
    runs = [(tmp_path / "pack" / str(seed), {**member(1.0 + seed, seed, likelihood="bernoulli", epochs=1),
                                             "model": {"arch": "conv", "hidden": [32], "channels": [8, 16]}})
            for seed in (0, 1)]
    train.train_pack(digits, runs)
    for run_dir, s in runs:
        train.train_run(digits, tmp_path / "alone" / run_dir.name, s)
        assert_same_run(run_dir, tmp_path / "alone" / run_dir.name)
    assert model_state(runs[0][0])["encoder.net.0.weight"].dim() == 4


def test_grouped_convolution_is_each_members_convolution():
    """The GPU path of the stacked convolutions (one grouped kernel), checked on the CPU against
    each member's own nn.Conv2d / nn.ConvTranspose2d to rounding."""
    from torch import nn

    from reconloss.training.stack import _stacked_layers

    g = torch.Generator().manual_seed(3)
    for layer in (nn.Conv2d(3, 5, 4, 2, 1), nn.ConvTranspose2d(3, 5, 4, 2, 1)):
        members = [type(layer)(3, 5, 4, 2, 1) for _ in range(3)]
        params = {"s.0.weight": torch.stack([m.weight.detach() for m in members]),
                  "s.0.bias": torch.stack([m.bias.detach() for m in members])}
        h = torch.randn(3, 2, 3, 8, 8, generator=g)
        grouped = _stacked_layers(nn.Sequential(layer), "s", params, h, grouped=True)
        for i, m in enumerate(members):
            torch.testing.assert_close(grouped[i], m(h[i]), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("likelihood", ["bernoulli", "gaussian_predicted_pixel", "gaussian_learned_pixel"])
def test_grouped_convolutions_give_the_per_member_losses_gradients_and_epochs(likelihood):
    """The whole GPU path of a conv pack (StackedVAE.loss, backward, and two epochs of
    PackEpochs with grouped convolutions) against the per-member path, on the CPU, to rounding."""
    from reconloss.training.step import PackEpochs

    shape = (1, 8, 8)
    ss = [{**member(b, s, likelihood=likelihood), "model": {"arch": "conv", "hidden": [16], "channels": [4, 8]}}
          for b, s in [(0.5, 0), (2.0, 1), (1.0, 2)]]
    g = torch.Generator().manual_seed(0)
    x = torch.randint(0, 17, (40, *shape), dtype=torch.uint8, generator=g)
    stacks = [StackedVAE(ss, shape, torch.device("cpu"), x.float() / 16, grouped=grouped) for grouped in (True, False)]
    assert stacks[0].grouped and not stacks[1].grouped
    xb, eps = torch.rand(3, 6, *shape, generator=g), torch.randn(3, 6, 4, generator=g)
    results = []
    for stack in stacks:
        loss, nll, kl = stack.loss(xb, eps)
        loss.sum().backward()
        results.append((loss.detach(), nll.detach(), kl.detach(), [p.grad for p in stack.parameters()]))
    (grouped, per_member) = results
    for a, b in zip(grouped[:3], per_member[:3]):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-5)
    assert all(g.abs().sum() > 0 for g in per_member[3])  # every parameter has a gradient to compare
    for name, a, b in zip(stacks[0].params, grouped[3], per_member[3]):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-5, msg=name)
    engines = [PackEpochs(stack, x, 16.0, [s["seed"] for s in ss], 16, 1e-3, grad_clip=5.0) for stack in stacks]
    for epoch in (1, 2):
        recs = [e.run_epoch(epoch) for e in engines]
        torch.testing.assert_close(recs[0]["losses"], recs[1]["losses"], rtol=1e-4, atol=1e-4)
    for name, a, b in zip(stacks[0].params, *(s.parameters() for s in stacks)):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-4, msg=name)


def test_a_diverging_member_does_not_disturb_the_others(digits, tmp_path):
    """beta = NaN makes one member's loss non-finite at its first step; the others train on
    exactly as in a pack without it, and it ends `diverged` holding its init."""
    good = [(0.5, 0), (2.0, 1)]
    with_bad = good + [(math.nan, 2)]
    runs = [(tmp_path / "with" / str(i), member(b, s, epochs=2)) for i, (b, s) in enumerate(with_bad)]
    statuses = train.train_pack(digits, runs)
    clean = [(tmp_path / "without" / str(i), member(b, s, epochs=2)) for i, (b, s) in enumerate(good)]
    train.train_pack(digits, clean)
    for (a, _), (b, _) in zip(runs[:2], clean):
        assert_same_run(a, b)
    bad = statuses[2]
    assert bad["status"] == "diverged" and bad["diverged_epoch"] == 1 and bad["diverged_step"] == 1
    assert bad["reason"] == "non-finite loss" and bad["epochs_completed"] == 0
    torch.manual_seed(2)
    init = build_vae(member(math.nan, 2), (1, 8, 8)).state_dict()
    assert all(torch.equal(v, init[k]) for k, v in model_state(runs[2][0]).items())


def test_a_pack_holds_one_runs_host_copy_at_a_time(digits, tmp_path, monkeypatch):
    """Checkpoints are written one member at a time and dropped (a pack of 21 categorical runs
    would hold 26 GB of host copies otherwise); resumed members are read back the same way."""
    made, held = [], []
    init, save = train.Member.__init__, train.Member.save_checkpoint

    def init_(self, *args, **kw):
        init(self, *args, **kw)
        made.append(self)

    def save_(self):
        held.append(sum(m.model is not None or m.optimizer is not None for m in made))
        save(self)

    monkeypatch.setattr(train.Member, "__init__", init_)
    monkeypatch.setattr(train.Member, "save_checkpoint", save_)
    runs = [(tmp_path / str(i), member(b, s, epochs=2)) for i, (b, s) in enumerate([(0.5, 0), (2.0, 1), (math.nan, 2)])]
    for _, s in runs:
        s["train"]["checkpoint_every"] = 0
    statuses = train.train_pack(digits, runs)
    assert [s["status"] for s in statuses] == ["ok", "ok", "diverged"]
    assert len(held) == 3 + 1 + 2 + 2 and max(held) == 1  # init, the divergence, two epochs of two
    assert all(m.model is None and m.optimizer is None for m in made)
    made.clear()
    for _, s in runs:
        s["train"]["epochs"] = 3
    train.train_pack(digits, runs)  # resumes the two, one more epoch
    assert max(held[8:]) == 1 and all(m.model is None for m in made)


@pytest.mark.parametrize("grad_clip", [None, 1.0])
def test_on_the_device_path_a_diverged_member_is_not_masked_and_disturbs_no_one(grad_clip):
    """The step a GPU runs (host_checks off) masks nothing: a member with beta NaN goes
    non-finite from its first step, and the others end bit-identical to a pack without it."""
    from reconloss.training.step import PackEpochs

    shape = (1, 8, 8)
    x = torch.randint(0, 17, (100, *shape), dtype=torch.uint8, generator=torch.Generator().manual_seed(0))
    good = [member(b, s, likelihood="gaussian_learned_pixel") for b, s in [(0.5, 0), (2.0, 1)]]
    engines = []
    for ss in (good + [member(math.nan, 2, likelihood="gaussian_learned_pixel")], good):
        e = PackEpochs(StackedVAE(ss, shape, torch.device("cpu"), x.float() / 16), x, 16.0,
                       [s["seed"] for s in ss], 32, 1e-3, grad_clip=grad_clip)
        e.host_checks = False
        # (on a CPU run_epoch's "host copies" are the engine's own tensors: clone them)
        engines.append((e, [{k: v.clone() for k, v in e.run_epoch(epoch).items()} for epoch in (1, 2)]))
    (bad, recs_bad), (clean, recs_clean) = engines
    assert recs_bad[0]["died_at"].tolist() == [-1, -1, 0] and recs_bad[1]["alive"].tolist() == [True, True, False]
    for r_bad, r_clean in zip(recs_bad, recs_clean):
        assert torch.equal(r_bad["losses"][:2], r_clean["losses"]) and torch.equal(r_bad["norms"][:2], r_clean["norms"])
    for p_bad, p_clean in zip(bad.stack.parameters(), clean.stack.parameters()):
        assert torch.equal(p_bad[:2], p_clean)


def test_members_that_diverge_mid_run_match_their_runs_alone(digits, tmp_path):
    """The per-pixel optimal sigma without a floor diverges after a few hundred steps, at a
    step that depends on the seed: each member must stop where it stops alone."""
    kw = dict(likelihood="gaussian_optimal_pixel", options={"floor": 0.0}, epochs=20)
    runs = []
    for seed in (0, 1):
        s = member(1.0, seed, **kw)
        s["train"]["latent_dim"], s["model"]["hidden"] = 8, [256, 128]
        runs.append((tmp_path / "pack" / str(seed), s))
    statuses = train.train_pack(digits, runs)
    assert {s["status"] for s in statuses} == {"diverged"}
    for run_dir, s in runs:
        train.train_run(digits, tmp_path / "alone" / run_dir.name, s)
        assert_same_run(run_dir, tmp_path / "alone" / run_dir.name)


def test_a_pack_that_gains_a_run_trains_only_the_new_one(digits, tmp_path, capsys):
    runs = [(tmp_path / str(b), member(b, 0, epochs=2)) for b in (0.5, 1.0)]
    train.train_pack(digits, runs)
    before = {r: model_state(r) for r, _ in runs}
    capsys.readouterr()
    more = runs + [(tmp_path / "4.0", member(4.0, 0, epochs=2))]
    statuses = train.train_pack(digits, more)
    err = capsys.readouterr().err
    assert err.count("resuming from") == 2 and "training 1 run(s)" in err
    assert [s["step_mode"] for s in statuses[:2]] == ["resumed", "resumed"]
    for r, _ in runs:
        assert all(torch.equal(v, before[r][k]) for k, v in model_state(r).items())
    train.train_run(digits, tmp_path / "alone", member(4.0, 0, epochs=2))
    assert_same_run(tmp_path / "4.0", tmp_path / "alone")


def test_members_resumed_at_different_epochs_end_as_if_uninterrupted(digits, tmp_path):
    a, b = member(0.5, 0, epochs=3), member(2.0, 1, epochs=3)
    train.train_run(digits, tmp_path / "a", {**a, "train": {**a["train"], "epochs": 1}})
    train.train_pack(digits, [(tmp_path / "a", a), (tmp_path / "b", b)])  # a resumes at 1, b starts at 0
    train.train_pack(digits, [(tmp_path / "ref-a", a), (tmp_path / "ref-b", b)])
    assert_same_run(tmp_path / "a", tmp_path / "ref-a")
    assert_same_run(tmp_path / "b", tmp_path / "ref-b")


def test_max_runs_splits_a_pack_into_stacks_with_the_same_numbers(digits, tmp_path, capsys):
    members = [(0.5, 0), (1.0, 0), (2.0, 0)]
    runs = [(tmp_path / "split" / str(b), member(b, s)) for b, s in members]
    train.train_pack(digits, runs, max_runs=2)
    assert capsys.readouterr().err.count("as one stack") == 2
    ref = [(tmp_path / "whole" / str(b), member(b, s)) for b, s in members]
    train.train_pack(digits, ref)
    for (x, _), (y, _) in zip(runs, ref):
        assert_same_run(x, y)


def test_runs_of_a_pack_may_differ_only_in_beta_and_seed(digits, tmp_path):
    with pytest.raises(ValueError, match="differ only in beta, seed.*likelihood"):
        train.train_pack(digits, [(tmp_path / "a", member(1.0, 0)),
                                  (tmp_path / "b", member(1.0, 1, likelihood="bernoulli"))])
    with pytest.raises(ValueError, match="same \\(beta, seed\\) twice"):
        train.train_pack(digits, [(tmp_path / "a", member(1.0, 0)), (tmp_path / "b", member(1.0, 0))])


def test_sigkilled_pack_resumes_to_the_same_numbers(digits, tmp_path):
    """A real `python -m reconloss train --runs` process, killed mid-run, then run again."""
    def runs(root):
        out = []
        for b, s in [(0.5, 0), (2.0, 1)]:
            m = member(b, s, epochs=12, batch_size=16)
            m["train"]["checkpoint_every"] = 0
            out.append({"run_dir": str(root / f"{b}_{s}"), "settings": m})
        return out

    def cli(root):
        cmd = [sys.executable, "-m", "reconloss", "--threads", "1", "train", "--data", str(digits),
               "--runs", json.dumps(runs(root))]
        return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    killed = tmp_path / "killed"
    ckpt = killed / "2.0_1" / "checkpoint.pt"
    sigkill_after_checkpoint(cli(killed), ckpt)
    assert not any((killed / r / "status.json").exists() for r in ("0.5_0", "2.0_1"))
    assert 1 <= torch.load(ckpt, weights_only=True)["epoch"] < 12

    proc = cli(killed)
    _, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err
    assert err.count("resuming from") == 2

    train.train_pack(digits, [(r["run_dir"], r["settings"]) for r in runs(tmp_path / "uninterrupted")])
    for name in ("0.5_0", "2.0_1"):
        assert_same_run(killed / name, tmp_path / "uninterrupted" / name)
        assert len(log_rows(killed / name)) == 12


def test_training_log_is_plain_lines(digits, tmp_path):
    """On a file (the workflow's logs) one line per epoch and no carriage returns."""
    runs = json.dumps([{"run_dir": str(tmp_path / "r"), "settings": member(1.0, 0, epochs=3)}])
    proc = subprocess.run([sys.executable, "-m", "reconloss", "--threads", "1", "train", "--data", str(digits),
                           "--runs", runs], capture_output=True, text=True, check=True)
    assert "\r" not in proc.stderr
    assert [line.split(":")[0] for line in proc.stderr.splitlines() if line.startswith("epoch ")] == \
        ["epoch 1/3", "epoch 2/3", "epoch 3/3"]


# --- the pieces, against independent references ---------------------------------------------

def test_stacked_loss_is_each_members_own_loss():
    """vmap over the stack against each member's own nn.Module, same batch and noise."""
    shape = (1, 8, 8)
    ss = [member(b, s, likelihood="gaussian_learned_global") for b, s in [(0.5, 0), (3.0, 1)]]
    x01 = torch.rand(50, *shape)
    stack = StackedVAE(ss, shape, torch.device("cpu"), x01)
    g = torch.Generator().manual_seed(0)
    x, eps = torch.rand(2, 7, *shape, generator=g), torch.randn(2, 7, 4, generator=g)
    loss, nll, kl = stack.loss(x, eps)
    for i, s in enumerate(ss):
        torch.manual_seed(s["seed"])
        vae = build_vae(s, shape)
        res = vae(x[i], eps=eps[i])
        torch.testing.assert_close(loss[i], (res["nll"] + s["beta"] * res["kl"]).mean(), rtol=1e-6, atol=1e-6)
        torch.testing.assert_close(nll[i], res["nll"].sum(), rtol=1e-6, atol=1e-6)
        torch.testing.assert_close(kl[i], res["kl"].sum(), rtol=1e-6, atol=1e-6)
        assert all(torch.equal(v, vae.state_dict()[k]) for k, v in stack.member_state(i).items())


def test_stacked_linear_gradients_are_each_members_linear_and_in_the_weights_layout():
    """The stacked Linear's own backward against F.linear per member (float64), its weight
    gradient contiguous like the weight (the copy it exists to avoid)."""
    g = torch.Generator().manual_seed(3)
    h = torch.randn(3, 9, 6, generator=g, dtype=torch.float64, requires_grad=True)
    w = torch.randn(3, 5, 6, generator=g, dtype=torch.float64, requires_grad=True)
    b = torch.randn(3, 5, generator=g, dtype=torch.float64, requires_grad=True)
    up = torch.randn(3, 9, 5, generator=g, dtype=torch.float64)
    out = _StackedLinear.apply(h, w, b)
    got = torch.autograd.grad((out * up).sum(), (h, w, b))
    ref_out = torch.stack([torch.nn.functional.linear(h[k], w[k], b[k]) for k in range(3)])
    want = torch.autograd.grad((ref_out * up).sum(), (h, w, b))
    torch.testing.assert_close(out, ref_out, rtol=1e-13, atol=0)
    for a, e in zip(got, want, strict=True):
        torch.testing.assert_close(a, e, rtol=1e-12, atol=1e-13)
    assert got[1].is_contiguous()
    w.grad = None  # as a training step leaves it: a fresh gradient, in the weight's own strides
    _StackedLinear.apply(h, w, b).sum().backward()
    assert w.grad.is_contiguous() and w.grad.stride() == w.stride()


def test_per_member_clipping_is_clip_grad_norm_of_each_member():
    g = torch.Generator().manual_seed(1)
    grads = [torch.randn(3, 5, 4, generator=g) * 10, torch.randn(3, 4, generator=g)]
    grads[0][1] *= 1e-3  # member 1 below the threshold: untouched
    ref = []
    for k in range(3):
        params = [torch.zeros(t.shape[1:], requires_grad=True) for t in grads]
        for p, t in zip(params, grads):
            p.grad = t[k].clone()
        norm = torch.nn.utils.clip_grad_norm_(params, 5.0)
        ref.append(([p.grad for p in params], norm))
    norms = member_grad_norms(grads)
    clip_and_mask(grads, norms, torch.tensor([True, True, False]), 5.0)
    for k in range(2):
        torch.testing.assert_close(norms[k], ref[k][1])
        for t, r in zip(grads, ref[k][0]):
            torch.testing.assert_close(t[k], r)
    assert all(torch.equal(t[2], torch.zeros_like(t[2])) for t in grads)


def test_a_masked_member_is_frozen_exactly():
    g = torch.Generator().manual_seed(2)
    p = torch.randn(3, 6, generator=g).requires_grad_()
    opt = Adam([p], lr=0.1)
    for step in range(5):
        p.grad = torch.randn(3, 6, generator=g)
        keep = torch.tensor([True, step < 2, True])
        if step == 2:
            frozen = p.detach()[1].clone()
            p.grad[1] = float("nan")
        clip_and_mask([p.grad], member_grad_norms([p.grad]), keep)
        opt.step(keep=keep)
    assert torch.equal(p.detach()[1], frozen)
    assert torch.isfinite(p).all()


def test_pack_job_imports_only_what_it_needs(digits, tmp_path):
    runs = json.dumps([{"run_dir": str(tmp_path / "r"), "settings": member(1.0, 0, epochs=1)}])
    assert_lean_job(["--threads", "1", "train", "--data", str(digits), "--runs", runs])
    assert read_json(tmp_path / "r" / "status.json")["status"] == "ok"
    assert np.isfinite(read_json(tmp_path / "r" / "status.json")["last_finite_loss"])


def test_a_pack_trains_with_denormals_flushed_and_clears_the_switch(digits, tmp_path, monkeypatch):
    """Trained weights drift into the denormal range, which a CPU steps many times slower
    (reconloss.training.device.denormals_flushed): a pack's training flushes them, and only it."""
    seen = []
    inner = train._train_stack

    def spy(*args, **kwargs):
        seen.append((torch.tensor([1e-39]) * 1.0).item() == 0.0)
        return inner(*args, **kwargs)

    monkeypatch.setattr(train, "_train_stack", spy)
    train.train_pack(digits, [(tmp_path / "run", member(likelihood="bernoulli", epochs=1))])
    if not torch.set_flush_denormal(False):
        pytest.skip("this CPU cannot flush denormals")
    assert seen == [True]
    assert (torch.tensor([1e-39]) * 1.0).item() != 0.0
