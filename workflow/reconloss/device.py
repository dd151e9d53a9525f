"""The torch device a job runs on: `auto` is the GPU when one is visible, else the CPU."""

import torch


def resolve_device(name="auto") -> torch.device:
    if name in (None, "auto"):
        name = "cuda" if torch.cuda.is_available() else "cpu"
    return torch.device(name)
