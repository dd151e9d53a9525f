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
