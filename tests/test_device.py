"""reconloss.training.device.configure, run on any machine with torch's CUDA calls recorded."""

import os

import pytest
import torch

from reconloss.training import device


@pytest.fixture
def calls(monkeypatch):
    """torch.cuda.set_device and use_deterministic_algorithms recorded; backend flags restored after."""
    made = []
    monkeypatch.setattr(torch.cuda, "set_device", lambda d: made.append(("set_device", d)))
    monkeypatch.setattr(torch, "use_deterministic_algorithms", lambda on, **kw: made.append(("deterministic", on)))
    monkeypatch.delenv("RECONLOSS_DETERMINISTIC", raising=False)
    flags = ((torch.backends.cudnn, "benchmark"), (torch.backends.cudnn, "deterministic"),
             (torch.backends.cudnn, "allow_tf32"), (torch.backends.cuda.matmul, "allow_tf32"))
    saved = [getattr(mod, name) for mod, name in flags]
    yield made
    for (mod, name), value in zip(flags, saved):  # plain setattr: torch.backends.cuda.matmul is no module
        setattr(mod, name, value)


def test_cuda_n_becomes_the_current_device_and_plain_cuda_stays_as_it_is(calls):
    device.configure(torch.device("cuda"))  # torch.cuda.set_device("cuda") would raise: no index
    device.configure(torch.device("cuda:1"))
    assert [c for c in calls if c[0] == "set_device"] == [("set_device", torch.device("cuda:1"))]


def test_training_mode_benchmarks_cudnn_and_takes_tf32_as_asked(calls):
    device.configure(torch.device("cuda:0"), tf32=True)
    assert torch.backends.cudnn.benchmark and not torch.backends.cudnn.deterministic
    assert torch.backends.cuda.matmul.allow_tf32 and torch.backends.cudnn.allow_tf32
    assert ("deterministic", False) in calls


def test_deterministic_mode_from_the_environment(calls, monkeypatch):
    monkeypatch.setenv("RECONLOSS_DETERMINISTIC", "1")
    monkeypatch.delenv("CUBLAS_WORKSPACE_CONFIG", raising=False)
    device.configure(torch.device("cuda:0"), tf32=True)
    assert not torch.backends.cudnn.benchmark and torch.backends.cudnn.deterministic
    assert not torch.backends.cuda.matmul.allow_tf32 and not torch.backends.cudnn.allow_tf32
    assert ("deterministic", True) in calls
    assert os.environ["CUBLAS_WORKSPACE_CONFIG"] == ":4096:8"


def test_a_cpu_is_left_alone(calls):
    device.configure(torch.device("cpu"), tf32=True)
    assert calls == []


FAULTS = """
import resource, sys, torch
from reconloss.training.device import configure
if sys.argv[1] == "keep":
    configure(torch.device("cpu"))
def step():  # a training step's activations: many few-MB tensors alive at once, all freed at its end
    kept = [torch.empty(2**20).fill_(1.0) for _ in range(40)]
    del kept
for _ in range(3):
    step()
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(20):
    step()
print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
"""


def test_a_cpu_job_keeps_freed_memory_instead_of_faulting_it_in_again():
    """After configure(cpu), repeating a step's allocations takes (almost) no page faults: glibc reuses
    the freed heap instead of handing it back to the kernel and faulting fresh pages in."""
    import subprocess
    import sys

    if not device.keep_freed_memory():
        pytest.skip("libc is not glibc: mallopt unavailable")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}

    def faults(mode):
        out = subprocess.run([sys.executable, "-c", FAULTS, mode], capture_output=True, text=True, env=env,
                             check=True)
        return int(out.stdout.split()[-1])

    plain, keep = faults("plain"), faults("keep")
    assert keep <= max(16, plain // 4), (plain, keep)


def _flushes() -> bool:
    """Whether the CPU reads a denormal float32 as zero right now."""
    return (torch.tensor([1e-39], dtype=torch.float32) * 1.0).item() == 0.0


def test_denormals_are_flushed_inside_the_block_and_kept_outside():
    assert not _flushes()  # IEEE arithmetic: 1e-39 * 1 is 1e-39, a denormal
    with device.denormals_flushed() as supported:
        if not supported:
            pytest.skip("this CPU cannot flush denormals")
        assert _flushes()
        assert (torch.tensor([3e-39]) * torch.tensor([2.0])).item() == 0.0
        assert (torch.tensor([3e-38]) * torch.tensor([2.0])).item() == pytest.approx(6e-38)  # normal: untouched
    assert not _flushes()  # global switch cleared: other work in the process keeps IEEE denormals
