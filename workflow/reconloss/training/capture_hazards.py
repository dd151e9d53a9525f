"""What CUDA-graph capture forbids, found on any device: a TorchDispatchMode that watches every op.

A training step (reconloss.training.step) is captured once as a CUDA graph and replayed; capture
fails, or silently records the wrong thing, on ops that need the host mid-step. Those ops
are visible below autograd and vmap, at the ATen level, whatever device the step runs on,
so a CPU run of one step under `CaptureHazards` finds them before any GPU does:

- reading a tensor's value on the host (`.item()`, `bool(t)`, `torch.equal`: ops tagged
  data_dependent_output, such as `_local_scalar_dense`): a sync, illegal while capturing;
- data-dependent output shapes (`nonzero`, `masked_select`, boolean indexing): a sync, and
  a shape a graph cannot replay;
- tensors made from Python values (`torch.tensor`, `t.new_tensor`, `t[mask] = 0`: the
  `lift_fresh` ops): a host-to-device copy on a GPU, not allowed while capturing;
- copies between devices, and host tensors used in a device op (checked on a GPU only,
  where devices differ);
- random numbers (ops tagged nondeterministic_seeded): the step takes its noise from
  buffers drawn per epoch, so each replay would otherwise draw from RNG state the graph
  froze at capture.

Why a dispatch mode and not a capture on a GPU: it runs in every CPU test run, names the
op and the hazard, and needs no GPU. It cannot see Python-level state baked into a graph
(a Python float that changes between steps); reconloss.training.step compares a replay with an
eager step for that.
"""

import torch
from torch.utils._python_dispatch import TorchDispatchMode

aten = torch.ops.aten

#: Ops that make a tensor out of host data (torch.tensor, new_tensor, a Python scalar assigned by mask).
_LIFTS = {aten.lift_fresh.default, aten.lift_fresh_copy.default, aten.lift.default}
#: Indexing ops whose output shape is static unless an index is a boolean mask.
_INDEXING = {aten.index.Tensor, aten.index_put.default, aten.index_put_.default, aten._unsafe_index.Tensor,
             aten._unsafe_index_put.default}
_COPIES = {aten.copy_.default, aten._copy_from.default, aten._copy_from_and_resize.default}


class CaptureHazard(RuntimeError):
    """An op that CUDA-graph capture forbids, met inside code meant to be captured."""


def _tensors(obj):
    if isinstance(obj, torch.Tensor):
        yield obj
    elif isinstance(obj, (list, tuple)):
        for o in obj:
            yield from _tensors(o)
    elif isinstance(obj, dict):
        for o in obj.values():
            yield from _tensors(o)


def hazard(func, args, kwargs) -> str | None:
    """Why `func(*args, **kwargs)` cannot run inside a CUDA-graph capture, or None."""
    tags = func.tags
    if func in _INDEXING:
        indices = args[1] if len(args) > 1 else kwargs.get("indices", ())
        if any(t.dtype in (torch.bool, torch.uint8) for t in _tensors(indices)):
            return "boolean-mask indexing: a data-dependent shape (a host sync)"
    elif torch.Tag.dynamic_output_shape in tags:
        return "data-dependent output shape (a host sync)"
    if torch.Tag.data_dependent_output in tags:
        return "reads a tensor's value on the host (a sync)"
    if func in _LIFTS:
        return "a tensor made from host values (a host-to-device copy on a GPU)"
    if torch.Tag.nondeterministic_seeded in tags:
        return "random numbers drawn inside the step (a replay would repeat the captured draw)"
    if func == aten._to_copy.default:
        dev = kwargs.get("device")
        if dev is not None and torch.device(dev) != args[0].device:
            return f"copy from {args[0].device} to {dev}"
    if func in _COPIES and len(args) > 1 and isinstance(args[1], torch.Tensor) and args[1].device != args[0].device:
        return f"copy from {args[1].device} to {args[0].device}"
    devices = {t.device for t in _tensors((args, kwargs))}
    if len(devices) > 1 and func not in _COPIES:
        return f"tensors of several devices in one op ({sorted(map(str, devices))}): a host value read at launch"
    return None


class CaptureHazards(TorchDispatchMode):
    """Raise CaptureHazard at the first op that capture forbids (`raise_=False`: collect them in
    `found` as (op name, why) instead)."""

    def __init__(self, raise_=True):
        super().__init__()
        self.raise_, self.found = raise_, []

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        why = hazard(func, args, kwargs)
        if why:
            if self.raise_:
                raise CaptureHazard(f"{func}: {why}")
            self.found.append((str(func), why))
        return func(*args, **kwargs)
