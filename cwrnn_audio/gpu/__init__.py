"""Fused Triton kernels for the CW-RNN: when the torch path uses them, and what they refuse.

Importing this package does not import ``triton``; ``function.py`` (and through it ``kernels.py``)
is imported on the first fused call only, so ``import cwrnn_audio`` and the CPU path stay light.

- :func:`use_fused`: wanted for parameters on CUDA when triton is installed. The environment
  variable ``CWRNN_AUDIO_FUSED=1`` forces it on (the test switch: with ``TRITON_INTERPRET=1`` the
  CUDA call graph runs on CPU tensors); ``CWRNN_AUDIO_FUSED=0`` forces it off.
- ``population.py``: ``P`` networks of one structure (weights with a leading network axis) in one
  call; ``train.engine_torch.run_epochs`` trains CW-RNN and SRN populations through it.
- :func:`supports`: why the kernels cannot take a configuration, or None. A refused call runs the
  step loop after a one-line warning, never a wrong number.
"""

from __future__ import annotations

import functools
import importlib.util
import os
from typing import Sequence

ENV_SWITCH = "CWRNN_AUDIO_FUSED"
PATH_SWITCH = "CWRNN_AUDIO_CUDA_PATH"
#: what the torch path can run the recurrence with on a GPU
CUDA_PATHS = ("schedule", "fused", "loop")
# The fastest path per (modules, module size, batch), forward + backward, from H100 runs
# (benchmarks/gpu_notes.md; ../shared/GPU.md): M samples/s schedule vs fused kernels vs step loop.
MEASURED_FASTEST = {
    (8, 32, 64): "schedule",  # 5.7 vs 1.57 vs 0.105
    (8, 32, 256): "schedule",  # 20.7 vs 5.98 vs 0.46
    (8, 64, 64): "schedule",  # 9.0 vs 0.69 vs 0.112
}
UNMEASURED = "schedule"  # it led the fused kernels 3.6-13x wherever both ran
# A module's rows and each W_H block it reads are one padded (BLOCK_B x K) and (K x K) tile held in
# registers; past 128 rows a tile of float32 spills and tl.dot's operands outgrow shared memory.
MAX_MODULE_SIZE = 128
# The kernels index W_H and W_I as row * stride + column in int32; 16384**2 stays far below 2**31.
MAX_HIDDEN_SIZE = 16384


@functools.lru_cache(maxsize=None)
def triton_available() -> bool:
    """Whether ``triton`` can be imported (looked up without importing it)."""
    return importlib.util.find_spec("triton") is not None


def use_fused(tensor) -> bool:
    """Whether the fused kernels are wanted for parameters like ``tensor``."""
    flag = os.environ.get(ENV_SWITCH, "")
    if flag in ("0", "1"):
        return flag == "1"
    return bool(tensor.is_cuda) and triton_available()


def gpu_path(tensor, sizes: Sequence[int] = (), batch: int = 0) -> str | None:
    """Which of :data:`CUDA_PATHS` runs a recurrence on parameters like ``tensor``, or None for
    the CPU's own (the Numba kernels, else the step loop).

    On CUDA: :data:`MEASURED_FASTEST` for ``sizes`` and ``batch``, else :data:`UNMEASURED`.
    Switches, read on every call (and valid on CPU tensors, for tests and comparisons):
    ``CWRNN_AUDIO_FUSED=1`` the fused kernels, ``CWRNN_AUDIO_CUDA_PATH=schedule|fused|loop``.
    """
    fused = os.environ.get(ENV_SWITCH, "")
    if fused == "1":
        return "fused"  # where triton cannot run, the fused call's refusal warns and runs the loop
    forced = os.environ.get(PATH_SWITCH, "")
    if forced:
        if forced not in CUDA_PATHS:
            from ..errors import ParameterError

            raise ParameterError(f"{PATH_SWITCH} must be one of {list(CUDA_PATHS)}; got {forced!r}")
        return forced
    if not tensor.is_cuda:
        return None
    path = MEASURED_FASTEST.get(_key(sizes, batch), UNMEASURED)
    return UNMEASURED if path == "fused" and fused == "0" else path


def _key(sizes: Sequence[int], batch: int):
    equal = len(set(sizes)) == 1
    return (len(sizes), sizes[0] if equal else None, batch) if sizes else None


def refusal(periods: Sequence[int], offsets: Sequence[int], *tensors) -> str | None:
    """Why the fused kernels cannot run this structure on ``tensors``, or None."""
    sizes = [b - a for a, b in zip(offsets, offsets[1:])]
    reason = refusal_of_chain(sizes, *tensors)
    if reason is not None:
        return reason
    if offsets[-1] > MAX_HIDDEN_SIZE:
        return f"hidden size {offsets[-1]} exceeds the kernels' limit of {MAX_HIDDEN_SIZE}"
    return None


def refusal_of_chain(sizes: Sequence[int], *tensors) -> str | None:
    """Why the Triton kernels cannot take modules of ``sizes`` on ``tensors``, or None."""
    if not triton_available():
        return "triton is not installed"
    if max(sizes) > MAX_MODULE_SIZE:
        return f"a module of {max(sizes)} neurons exceeds the kernels' limit of {MAX_MODULE_SIZE}"
    for tensor in tensors:
        if str(tensor.dtype) != "torch.float32":
            return f"the kernels run float32 only; got {tensor.dtype}"
        if not tensor.is_cuda and os.environ.get("TRITON_INTERPRET") != "1":
            return f"tensors on {tensor.device} need a CUDA device or TRITON_INTERPRET=1"
    return None


def supports(config, *tensors) -> str | None:
    """Why the fused kernels cannot take ``config`` (a :class:`CWRNNConfig`), or None.

    Optional ``tensors`` (the parameters, the inputs) add their dtype and device to the check.
    """
    from ..core.config import CWRNNConfig
    from ..errors import ParameterTypeError

    if not isinstance(config, CWRNNConfig):
        raise ParameterTypeError(f"config must be a CWRNNConfig; got {type(config).__name__}")
    return refusal(config.periods, config.offsets, *tensors)


__all__ = ["ENV_SWITCH", "MAX_HIDDEN_SIZE", "MAX_MODULE_SIZE", "supports", "triton_available", "use_fused"]
