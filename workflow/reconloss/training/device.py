"""The torch device a job runs on, and how a GPU is set up for it.

`auto` is the GPU when one is visible, else the CPU. `configure` makes a CUDA device the
current one (so that streams, graphs and kernels of `cuda:1` go to device 1, not 0) and
sets the numerics: TF32 as the run's settings say, cuDNN's benchmark on (a training
repeats one shape thousands of times, so timing the algorithms once pays), or, with
RECONLOSS_DETERMINISTIC=1 (verification runs, the CUDA tests), deterministic
algorithms only. What stays reproducible on a GPU either way: docs/packs.md.
"""

import os

import torch


def resolve_device(name="auto") -> torch.device:
    if name in (None, "auto"):
        name = "cuda" if torch.cuda.is_available() else "cpu"
    return torch.device(name)


def deterministic_requested() -> bool:
    return os.environ.get("RECONLOSS_DETERMINISTIC", "0") not in ("", "0")


def configure(device, tf32=False, deterministic=None) -> None:
    """Set up `device` for a job (a no-op off CUDA); `deterministic` None: RECONLOSS_DETERMINISTIC."""
    device = torch.device(device)
    if device.type != "cuda":
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
