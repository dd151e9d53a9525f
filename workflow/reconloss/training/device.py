"""The torch device a job runs on, and how a GPU is set up for it.

`auto` is the GPU when one is visible, else the CPU. `configure` makes a CUDA device the
current one (so that streams, graphs and kernels of `cuda:1` go to device 1, not 0) and
sets the numerics: TF32 as the run's settings say, cuDNN's benchmark on (a training
repeats one shape thousands of times, so timing the algorithms once pays), or, with
RECONLOSS_DETERMINISTIC=1 (verification runs, the CUDA tests), deterministic
algorithms only. What stays reproducible on a GPU either way: docs/packs.md. On a CPU it
keeps freed memory in the process (`keep_freed_memory`); training flushes denormal floats to
zero (`denormals_flushed`).
"""

import contextlib
import ctypes
import os

import torch


def resolve_device(name="auto") -> torch.device:
    if name in (None, "auto"):
        name = "cuda" if torch.cuda.is_available() else "cpu"
    return torch.device(name)


def deterministic_requested() -> bool:
    return os.environ.get("RECONLOSS_DETERMINISTIC", "0") not in ("", "0")


#: glibc's mallopt parameters (malloc.h)
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3


def keep_freed_memory() -> bool:
    """Keep the memory a CPU training step frees for the next step; False where libc is not glibc.

    Why: glibc serves blocks above its mmap threshold with fresh mappings and gives freed memory
    above its trim threshold back to the kernel, and a training step frees and re-allocates the same
    few-MB activations every step, so each step's come back as new pages the kernel must fault in
    and zero: a pack of 15 MNIST MLPs took about 80,000 page faults a second, 15 % of its CPU time
    in the kernel. With both thresholds raised (32 MiB, the largest mmap threshold glibc accepts;
    1 GiB) the heap keeps them: that pack's median step about 9 % faster, its page faults and kernel
    time more than halved (benchmarks/bench_likelihood_step.py's worker, docs/measured.md). The numbers
    computed do not change, only where their memory comes from.
    """
    try:
        libc = ctypes.CDLL("libc.so.6")
        return bool(libc.mallopt(_M_MMAP_THRESHOLD, 32 * 2**20)) and bool(libc.mallopt(_M_TRIM_THRESHOLD, 2**30))
    except (OSError, AttributeError):
        return False


@contextlib.contextmanager
def denormals_flushed():
    """CPU arithmetic inside the block reads and writes denormal floats (below 1.2e-38 in float32) as zero.

    Why: as a VAE trains, some of its weights, gradients and Adam moments drift into the denormal
    range, where each x86 operation on them takes a microcode assist many times slower than a normal
    one. Without this, every CPU pack of the MNIST claims run stepped 30-90 % slower in its last
    epochs than in its first; six Bernoulli runs restored from their epoch-12 checkpoints step at
    15.8-17.6 ms per run, 11.4-12.0 with denormals flushed, like their fresh init (docs/measured.md).
    A value that small is 0 to every quantity the study reports; nothing else changes. The switch is
    global to the process (and has no getter), so it is set for the block and cleared after: tests
    train in the same process as other tests. A no-op where the CPU cannot flush.
    """
    supported = torch.set_flush_denormal(True)
    try:
        yield supported
    finally:
        if supported:
            torch.set_flush_denormal(False)


def configure(device, tf32=False, deterministic=None) -> None:
    """Set up `device` for a job; `deterministic` None: RECONLOSS_DETERMINISTIC. On a CPU: the allocator
    keeps freed memory (`keep_freed_memory`)."""
    device = torch.device(device)
    if device.type != "cuda":
        keep_freed_memory()
        return
    if deterministic is None:
        deterministic = deterministic_requested()
    if device.index is not None:  # "cuda" alone is the current device (set_device needs an index)
        torch.cuda.set_device(device)
    # cuDNN's own default is TF32 on: set both explicitly.
    torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = bool(tf32) and not deterministic
    torch.backends.cudnn.benchmark = not deterministic
    torch.backends.cudnn.deterministic = bool(deterministic)
    if deterministic:
        # cuBLAS is deterministic per stream only with a fixed workspace (CUDA docs, "Results reproducibility").
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    torch.use_deterministic_algorithms(bool(deterministic), warn_only=False)
