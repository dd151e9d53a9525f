"""Helpers shared by the tests that train small networks in-process."""

import contextlib

import torch


@contextlib.contextmanager
def one_thread():
    """The workflow's jobs run one thread each; CPU results are bit-reproducible for a fixed
    thread count, and on a busy 2-core machine spinning threads cost minutes."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(n)


HEAVY = ("torchvision", "pytorch_fid", "matplotlib", "pandas", "sklearn", "scipy", "torch._dynamo")


def heavy_imports(code: str) -> set[str]:
    """Which of HEAVY a fresh interpreter has imported after running `code`."""
    import subprocess
    import sys

    probe = f"{code}\nimport sys; print(sorted(m for m in {HEAVY!r} if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout
    return set(eval(out.strip().splitlines()[-1]))


def assert_lean_job(argv: list[str]) -> None:
    """`python -m reconloss ARGV` imports none of HEAVY beyond what a bare torch.func.vmap call
    imports in this torch (torch 2.6's vmap imports torch._dynamo; 2.14's does not)."""
    vmap_needs = heavy_imports("import torch; torch.func.vmap(lambda t: t * 2)(torch.ones(2, 3))")
    job = heavy_imports(f"from reconloss.cli import main; main({argv!r})")
    assert job <= vmap_needs, job - vmap_needs


def sigkill_after_checkpoint(proc, checkpoint, timeout=120.0) -> None:
    """SIGKILL the training process `proc` once `checkpoint` holds at least one epoch, and check
    that it was still running then (a kill that came too late would test nothing)."""
    import signal
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and proc.poll() is None:
        if checkpoint.exists() and torch.load(checkpoint, weights_only=True)["epoch"] >= 1:
            break
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.communicate()
    assert proc.returncode == -signal.SIGKILL, "training ended before it could be killed"
