"""The pack engine on a CUDA GPU: captured graphs, their equality with eager steps, packs
against runs alone, capture failures, cuda:N, deterministic mode. Skipped without CUDA.

Runs in deterministic mode (reconloss.training.device.configure(deterministic=True): no TF32, cuDNN
benchmark off, deterministic algorithms only, fixed cuBLAS workspace), so that "equal
within float tolerance" tests the engine and not the GPU's choice of kernels. A graph
epoch and an eager epoch run the same kernels; a pack and its runs alone do not (a
batched matmul of K members is another kernel than one of 1), so those agree to rounding,
and Adam's first steps (lr * sign(g)) may move a few elements whose gradient is within
rounding of zero the other way: `mostly_close` allows that for a 1e-3 fraction.

    python -m pytest tests/test_cuda.py -q     (benchmarks/gpu_check.sh runs it)
"""

import os

os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")  # before cuBLAS starts: deterministic matmuls

import pytest  # noqa: E402
import torch  # noqa: E402

from reconloss.training.capture_hazards import CaptureHazards  # noqa: E402
from reconloss.training.device import configure  # noqa: E402
from reconloss.likelihoods import LIKELIHOODS  # noqa: E402
from reconloss.likelihoods.gaussian import GaussianFixed  # noqa: E402
from reconloss.training.stack import StackedVAE  # noqa: E402
from reconloss.training.step import PackEpochs  # noqa: E402

pytestmark = [pytest.mark.cuda, pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")]

SHAPE = (1, 16, 16)
ARCHS = {"mlp": {"arch": "mlp", "hidden": [64, 32]}, "conv": {"arch": "conv", "hidden": [32], "channels": [8, 16]}}
CUDA = torch.device("cuda")


@pytest.fixture(autouse=True)
def _deterministic():
    configure(CUDA, deterministic=True)
    yield
    torch.use_deterministic_algorithms(False)
    torch.backends.cudnn.deterministic = False


def members(likelihood, arch, pairs=((0.5, 0), (2.0, 1), (1.0, 2))):
    return [{"likelihood_name": likelihood, "beta": beta, "seed": seed, "train": {"latent_dim": 4},
             "model": ARCHS[arch]} for beta, seed in pairs]


def data(n=150, device=CUDA):
    g = torch.Generator().manual_seed(0)
    return torch.randint(0, 256, (n, *SHAPE), dtype=torch.uint8, generator=g).to(device)


def engine(settings, x, graphs=True, engine_class=PackEpochs, grad_clip=10.0):
    stack = StackedVAE(settings, SHAPE, x.device, x.float() / 255)
    return engine_class(stack, x, 255.0, [s["seed"] for s in settings], 64, 1e-3, grad_clip=grad_clip,
                        cuda_graphs=graphs)


def epochs(e, n=2):
    return [e.run_epoch(epoch) for epoch in range(1, n + 1)]


def mostly_close(a, b, rtol=1e-4, atol=1e-5, frac=1e-3):
    off = int((~torch.isclose(a, b, rtol=rtol, atol=atol)).sum())
    assert off <= frac * a.numel(), f"{off} of {a.numel()} elements differ"


@pytest.mark.parametrize("arch", ARCHS)
@pytest.mark.parametrize("likelihood", LIKELIHOODS)
def test_every_likelihood_trains_as_a_graph_equal_to_eager_steps(likelihood, arch):
    x = data()
    graph, eager = engine(members(likelihood, arch), x), engine(members(likelihood, arch), x, graphs=False)
    assert graph.mode == "cuda-graph" and eager.mode == "eager"
    for g, e in zip(epochs(graph), epochs(eager)):
        torch.testing.assert_close(g["losses"], e["losses"], rtol=1e-5, atol=1e-5, equal_nan=True)
        torch.testing.assert_close(g["sums"], e["sums"], rtol=1e-5, atol=1e-4)
        assert torch.equal(g["died_at"], e["died_at"])
    assert torch.isfinite(g["losses"]).all()
    for a, b in zip(graph.stack.parameters(), eager.stack.parameters()):
        mostly_close(a, b)


@pytest.mark.parametrize("arch", ARCHS)
@pytest.mark.parametrize("likelihood", ["bernoulli", "gaussian_learned_pixel", "categorical"])
def test_a_pack_equals_its_runs_alone(likelihood, arch):
    x = data()
    pack = engine(members(likelihood, arch), x)
    recs = epochs(pack)
    for i, s in enumerate(members(likelihood, arch)):
        alone = engine([s], x)
        assert alone.mode == pack.mode == "cuda-graph"
        for r_pack, r_alone in zip(recs, epochs(alone)):
            torch.testing.assert_close(r_pack["losses"][i], r_alone["losses"][0], rtol=1e-4, atol=1e-3)
        for a, b in zip(pack.stack.parameters(), alone.stack.parameters()):
            mostly_close(a[i], b[0], rtol=1e-3, atol=1e-4, frac=2e-3)


def test_deterministic_mode_repeats_a_pack_bit_for_bit():
    x = data()
    runs = [engine(members("continuous_bernoulli", "conv"), x) for _ in range(2)]
    a, b = (epochs(e) for e in runs)
    assert all(torch.equal(ra["losses"], rb["losses"]) for ra, rb in zip(a, b))
    assert all(torch.equal(p, q) for p, q in zip(*(e.stack.parameters() for e in runs)))


class HostCopyGaussian(GaussianFixed):
    """gaussian_fixed as it was: a host value copied to the device in the loss."""

    def _var(self, out, x=None):
        return out.new_tensor(self.sigma**2)


def test_a_failed_capture_trains_eagerly_and_leaves_no_capture_behind(monkeypatch, capfd):
    monkeypatch.setitem(LIKELIHOODS, "gaussian_fixed_host_copy", HostCopyGaussian)
    x = data()
    e = engine(members("gaussian_fixed_host_copy", "mlp"), x)
    assert e.mode == "eager" and "CUDA graphs off" in capfd.readouterr().err
    assert torch.cuda.current_stream() == torch.cuda.default_stream()
    assert not torch.cuda.is_current_stream_capturing()
    # it trains, with the numbers of the capturable gaussian_fixed, and a new capture works
    fixed = engine(members("gaussian_fixed", "mlp"), x)
    assert fixed.mode == "cuda-graph"
    for r_host, r_fixed in zip(epochs(e), epochs(fixed)):
        torch.testing.assert_close(r_host["losses"], r_fixed["losses"], rtol=1e-5, atol=1e-5)


class CapturesNothing(PackEpochs):
    """A step that does its work only outside a capture: its graph would be empty."""

    def _step(self, idx, eps):
        if not torch.cuda.is_current_stream_capturing():
            super()._step(idx, eps)


def test_a_graph_that_does_not_do_the_step_is_not_used(capfd):
    e = engine(members("bernoulli", "mlp"), data(), engine_class=CapturesNothing)
    assert e.mode == "eager" and "differ from an eager step" in capfd.readouterr().err
    assert torch.isfinite(epochs(e, 1)[0]["losses"]).all()


@pytest.mark.skipif(torch.cuda.device_count() < 2, reason="needs two GPUs")
def test_cuda_1_captures_on_its_own_device():
    x = data(device=torch.device("cuda:1"))
    before = torch.cuda.memory_allocated(0)
    configure(torch.device("cuda:1"), deterministic=True)
    try:
        graph, eager = engine(members("bernoulli", "mlp"), x), engine(members("bernoulli", "mlp"), x, graphs=False)
        assert graph.mode == "cuda-graph"
        for g, e in zip(epochs(graph), epochs(eager)):
            torch.testing.assert_close(g["losses"], e["losses"], rtol=1e-5, atol=1e-5)
        assert torch.cuda.memory_allocated(0) == before
    finally:
        torch.cuda.set_device(0)


@pytest.mark.parametrize("arch", ARCHS)
@pytest.mark.parametrize("likelihood", LIKELIHOODS)
def test_no_capture_hazard_on_the_gpu(likelihood, arch):
    """The CPU hazard test again where devices differ, so host tensors and copies show too."""
    e = engine(members(likelihood, arch), data(), graphs=False)
    e._draw(1)
    with CaptureHazards():
        e._full()
    assert torch.isfinite(e.losses[:, 0]).all()


def test_train_pack_on_the_gpu_resumes_to_the_same_numbers(tmp_path, monkeypatch):
    """The train command's path (checkpoints one run at a time, resume) on the GPU, graphs on,
    in the deterministic mode a verification run asks for (the command reads the variable)."""
    from reconloss.training import train

    monkeypatch.setenv("RECONLOSS_DETERMINISTIC", "1")

    x = data(300, device="cpu")
    path = tmp_path / "data.pt"
    torch.save({"name": "random", "train_x": x, "train_y": torch.zeros(300, dtype=torch.long), "test_x": x[:50],
                "test_y": torch.zeros(50, dtype=torch.long), "scale": 255.0, "classes": ["0"]}, path)

    def runs(root, epochs_):
        return [(root / str(s["seed"]), {**s, "dataset": "random", "likelihood": "bernoulli", "likelihood_options": {},
                                         "train": {"epochs": epochs_, "batch_size": 64, "lr": 1e-3, "latent_dim": 4,
                                                   "device": "cuda", "checkpoint_every": 0}})
                for s in members("bernoulli", "mlp", ((0.5, 0), (2.0, 1)))]

    whole = train.train_pack(path, runs(tmp_path / "whole", 3))
    assert [s["step_mode"] for s in whole] == ["cuda-graph"] * 2
    train.train_pack(path, runs(tmp_path / "parts", 2))
    parts = train.train_pack(path, runs(tmp_path / "parts", 3))
    assert [s["epochs_completed"] for s in parts] == [3, 3]
    for seed in ("0", "1"):
        a, b = (torch.load(tmp_path / d / seed / "model.pt", weights_only=True)["state_dict"] for d in ("whole", "parts"))
        assert all(torch.equal(a[k], b[k]) for k in a)


@pytest.mark.parametrize("likelihood", ["continuous_bernoulli", "categorical"])
def test_bits_per_dim_on_the_gpu_agrees_with_the_cpu(likelihood):
    """GPU batches sized by images x samples (one batch here), sums on the device: the same
    estimate as the CPU's batches of the configured size, up to the Monte Carlo noise."""
    from reconloss.evaluation.bits import bits_per_dim, images_per_batch
    from reconloss.training.vae import build_vae

    torch.manual_seed(0)
    vae = build_vae(members(likelihood, "mlp")[0], SHAPE).eval()
    x = data(200, device="cpu")
    assert images_per_batch(vae, 256, 20, 100, "cpu") == 5 and images_per_batch(vae, 256, 20, 100, "cuda") > 5
    got = {}
    for dev in ("cpu", "cuda"):
        v, xd = vae.to(dev), x.to(dev)
        got[dev] = bits_per_dim(v, xd, 255.0, 20, 100, torch.Generator(dev).manual_seed(1),
                                torch.Generator(dev).manual_seed(2))
    for key in ("iw_ll", "bpd", "iw_bpd"):
        assert got["cuda"][key] == pytest.approx(got["cpu"][key], rel=1e-2), key


def test_a_diverging_member_disturbs_no_one_in_a_graph():
    """beta NaN: that member goes non-finite at its first step (not masked on a GPU), the
    others train as in a pack without it."""
    x = data()
    good = members("gaussian_learned_pixel", "mlp", ((0.5, 0), (2.0, 1)))
    bad = engine(good + members("gaussian_learned_pixel", "mlp", ((float("nan"), 2),)), x)
    clean = engine(good, x)
    assert bad.mode == clean.mode == "cuda-graph"
    r_bad, r_clean = epochs(bad), epochs(clean)
    assert r_bad[0]["died_at"].tolist() == [-1, -1, 0] and r_bad[1]["alive"].tolist() == [True, True, False]
    for a, b in zip(r_bad, r_clean):
        torch.testing.assert_close(a["losses"][:2], b["losses"], rtol=1e-4, atol=1e-3)
    for a, b in zip(bad.stack.parameters(), clean.stack.parameters()):
        mostly_close(a[:2], b, rtol=1e-3, atol=1e-4, frac=2e-3)


class SnapshotDoesNotFit(PackEpochs):
    """A pack whose pre-capture snapshot does not fit in the device's memory."""

    def _snapshot(self):
        raise torch.cuda.OutOfMemoryError("CUDA out of memory (simulated)")


def test_a_snapshot_that_does_not_fit_means_eager_steps(capfd):
    e = engine(members("bernoulli", "mlp"), data(), engine_class=SnapshotDoesNotFit)
    assert e.mode == "eager" and "out of memory" in capfd.readouterr().err
    assert torch.isfinite(epochs(e, 1)[0]["losses"]).all()
