"""The step a GPU captures as a CUDA graph, run on a CPU under reconloss.training.capture_hazards.

Every likelihood, on the MLP and on the conv model (grouped convolutions, the GPU path),
trains one step of a pack of two with clipping and the masking path on, and evaluates
one importance-weighted batch, with every ATen op checked for what capture forbids. The
mode itself is tested against the hazards it must catch, and against a likelihood that
brings back the host copy that gaussian_fixed once had (`new_tensor` in its loss).
"""

import pytest
import torch
from torch_helpers import one_thread

from reconloss.evaluation.bits import iw_from_noise
from reconloss.training.capture_hazards import CaptureHazard, CaptureHazards
from reconloss.likelihoods import LIKELIHOODS
from reconloss.likelihoods.gaussian import GaussianFixed
from reconloss.training.stack import StackedVAE
from reconloss.training.step import PackEpochs
from reconloss.training.vae import build_vae

SHAPE = (1, 8, 8)
ARCHS = {"mlp": {"arch": "mlp", "hidden": [16]}, "conv": {"arch": "conv", "hidden": [16], "channels": [4, 8]}}


@pytest.fixture(autouse=True)
def _one_thread():
    with one_thread():
        yield


def members(likelihood, arch):
    return [{"likelihood_name": likelihood, "beta": beta, "seed": seed, "train": {"latent_dim": 4},
             "model": ARCHS[arch]} for beta, seed in ((0.5, 0), (2.0, 1))]


def device_step(likelihood, arch, n=20, batch=8):
    """A PackEpochs on the CPU set up as a GPU runs it: grouped convolutions, no host checks,
    clipping on; its data order and noise drawn for epoch 1. n % batch != 0: both step shapes."""
    g = torch.Generator().manual_seed(0)
    x = torch.randint(0, 17, (n, *SHAPE), dtype=torch.uint8, generator=g)
    stack = StackedVAE(members(likelihood, arch), SHAPE, torch.device("cpu"), x.float() / 16, grouped=True)
    engine = PackEpochs(stack, x, 16.0, [0, 1], batch, 1e-3, grad_clip=1.0)
    engine.host_checks = False
    engine._draw(1)
    return engine


@pytest.mark.parametrize("arch", ARCHS)
@pytest.mark.parametrize("likelihood", LIKELIHOODS)
def test_a_training_step_has_no_capture_hazard(likelihood, arch):
    engine = device_step(likelihood, arch)
    before = [p.detach().clone() for p in engine.opt.params]
    with CaptureHazards():
        engine._full()
        engine._full()
        engine._rest()
    assert int(engine.step_t) == engine.steps == 3
    # the step did train, every member (not a mode that skipped the work)
    assert all(not torch.equal(a[m], p[m]) for a, p in zip(before, engine.opt.params) for m in range(2))
    assert torch.isfinite(engine.losses).all()


@pytest.mark.parametrize("arch", ARCHS)
@pytest.mark.parametrize("likelihood", LIKELIHOODS)
def test_an_evaluation_batch_has_no_capture_hazard(likelihood, arch):
    torch.manual_seed(0)
    vae = build_vae(members(likelihood, arch)[0], SHAPE).eval()
    g = torch.Generator().manual_seed(1)
    y = torch.randint(0, 256, (3, *SHAPE), generator=g).float() / 255
    eps = torch.randn(3, 5, 4, generator=g)
    with torch.no_grad(), CaptureHazards():
        elbo, iw = iw_from_noise(vae, y, eps)
        total = torch.zeros(2, dtype=torch.float64).add_(torch.stack([elbo.sum(), iw.sum()]))
    assert torch.isfinite(total).all() and (iw >= elbo - 1e-9).all()


class HostCopyGaussian(GaussianFixed):
    """gaussian_fixed as it was: its variance copied from the host inside the loss."""

    def _var(self, out, x=None):
        return out.new_tensor(self.sigma**2)


def test_a_likelihood_with_a_host_copy_in_its_loss_is_caught(monkeypatch):
    monkeypatch.setitem(LIKELIHOODS, "gaussian_fixed_host_copy", HostCopyGaussian)
    engine = device_step("gaussian_fixed_host_copy", "mlp")
    with pytest.raises(CaptureHazard, match="lift_fresh.*host"):
        with CaptureHazards():
            engine._full()
    # the shipped gaussian_fixed has no hazard, and the same numbers as the host-copy form
    host, fixed = device_step("gaussian_fixed_host_copy", "mlp"), device_step("gaussian_fixed", "mlp")
    host._full()
    with CaptureHazards():
        fixed._full()
    assert torch.equal(fixed.losses[:, 0], host.losses[:, 0]) and torch.equal(fixed.norms[:, 0], host.norms[:, 0])


@pytest.mark.parametrize("what, fn, pattern", [
    ("item", lambda t: t.sum().item(), "_local_scalar_dense.*host"),
    ("bool", lambda t: bool(t.sum() > 0), "_local_scalar_dense"),
    ("torch.equal", lambda t: torch.equal(t, t), "equal"),
    ("nonzero", lambda t: t.nonzero(), "nonzero.*shape"),
    ("boolean index", lambda t: t[t > 0.5], "index.*boolean"),
    ("masked assignment of a number", lambda t: t.clone().__setitem__(t > 0.5, 0.0), "lift_fresh|boolean"),
    ("torch.tensor", lambda t: t * torch.tensor(2.0), "lift_fresh"),
    ("randn", lambda t: torch.randn_like(t), "random"),
    ("dropout", lambda t: torch.nn.functional.dropout(t, 0.5, training=True), "random"),
])
def test_the_mode_catches_each_hazard(what, fn, pattern):
    t = torch.rand(4, 3)
    with pytest.raises(CaptureHazard, match=pattern):
        with CaptureHazards():
            fn(t)
    found = CaptureHazards(raise_=False)
    with found:
        fn(t)
    assert found.found, what


def test_the_mode_lets_capturable_ops_pass():
    """Long-index gathers, scalar arithmetic, fills, where and in-place updates: what the step does."""
    t, idx = torch.rand(6, 3), torch.tensor([4, 0, 2])
    with CaptureHazards():
        u = t[idx] * 2.0 + t.new_full((), 0.5)
        u.index_copy_(0, torch.zeros(1, dtype=torch.long), t[:1])
        v = torch.where(u > 1, u, torch.zeros_like(u)).sum(dim=1)
    assert v.shape == (3,)


# --- the check a captured graph must pass before it is used (reconloss.training.step) ----------------

def test_a_replay_that_does_the_step_passes_the_check():
    engine = device_step("bernoulli", "mlp")
    saved = engine._snapshot()
    assert engine._verify(engine._full, engine._full, 0, saved) is None
    assert engine._verify(engine._rest, engine._rest, engine.full, saved) is None
    engine._restore(saved)  # and the check left the weights as they were
    assert all(torch.equal(p, s) for p, s in zip(engine.opt.params, saved[0]))


@pytest.mark.parametrize("bad, why", [
    ("nothing", "losses differ"),            # a graph that captured no kernels
    ("other batch", "losses differ"),        # a graph bound to stale inputs
    ("records only", "parameters differ"),   # a graph whose optimizer step is missing
    ("raises", "replay failed"),
])
def test_a_replay_that_differs_from_an_eager_step_fails_the_check(bad, why):
    engine = device_step("bernoulli", "conv")
    saved = engine._snapshot()

    def replay():
        if bad == "raises":
            raise RuntimeError("CUDA error: operation not permitted when stream is capturing")
        if bad == "other batch":
            engine.step_t.add_(1)
            engine._full()
            engine.step_t.sub_(1)
            engine.losses[:, 0] = engine.losses[:, 1]
        if bad == "records only":
            engine._full()
            engine._restore((saved[0], saved[1], engine.alive.clone()))

    assert why in engine._verify(replay, engine._full, 0, saved)
