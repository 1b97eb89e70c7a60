"""Validation at public entry points (NumPy side)."""

from __future__ import annotations

import math

import numpy as np

from .errors import ParameterError, ParameterTypeError


def all_finite(x: np.ndarray) -> bool:
    """No NaN or infinity in ``x``, with no Numba to load for torch-only users.

    Streams call this on every block, so it must be cheap and allocate nothing that grows with
    the block: a host's tiny blocks as Python floats (a NumPy reduction costs microseconds however
    small its input); else one sum in the array's own dtype, which NaN and infinity always reach.
    Only where that sum is not finite (bad values, or finite ones that overflow it) do min and
    max, which propagate NaN and see any infinity, decide.
    """
    if x.size <= 32:
        return all(map(math.isfinite, x.ravel().tolist()))
    if math.isfinite(np.add.reduce(x, axis=None)):
        return True
    return bool(np.isfinite(x.min()) and np.isfinite(x.max()))


def _shape_str(shape) -> str:
    return "(" + ", ".join(str(s) for s in shape) + ")"


def float_array(x, *, name: str) -> np.ndarray:
    """``x`` as a NumPy array of a floating-point dtype (converted from a list; not copied
    otherwise): ParameterTypeError naming ``name`` for anything else."""
    if not isinstance(x, np.ndarray):
        try:
            x = np.asarray(x)
        except Exception as exc:  # ragged lists and the like
            raise ParameterTypeError(f"{name} must be an array; could not convert ({exc})") from None
    if x.dtype.kind != "f":
        raise ParameterTypeError(f"{name} must have a floating-point dtype; got dtype {x.dtype}")
    return x


def valid_sequence(x, *, features: int, name: str = "inputs", ndims=(2, 3)) -> np.ndarray:
    """Check a float sequence ``(time, features)`` or ``(batch, time, features)``.

    Returns it as a C-contiguous float32 array (a copy only when needed).
    Kept lean: streams call it on every block.
    """
    x = float_array(x, name=name)
    if x.ndim not in ndims or x.shape[-1] != features:
        want = " or ".join({2: f"(time, {features})", 3: f"(batch, time, {features})"}[d] for d in ndims)
        raise ParameterError(f"{name} must have shape {want}; got {_shape_str(x.shape)}")
    if x.dtype != np.float32 or not x.flags.c_contiguous:
        x = np.ascontiguousarray(x, dtype=np.float32)
    if x.size and not all_finite(x):  # streams call this on every block
        raise ParameterError(f"{name} contains NaN or infinite values")
    return x


def valid_out(out, shape, *, name: str = "out") -> np.ndarray:
    """A caller's output buffer (C-contiguous float32 of ``shape``), or a new one when ``out`` is None."""
    shape = tuple(shape)
    if out is None:
        return np.empty(shape, np.float32)
    want = f"{name} must be a C-contiguous float32 array of shape {shape}"
    if not isinstance(out, np.ndarray) or out.dtype != np.float32:
        got = getattr(out, "dtype", type(out).__name__)
        raise ParameterTypeError(f"{want}; got {got}")
    if out.shape != shape or not out.flags.c_contiguous:
        raise ParameterError(f"{want}; got shape {out.shape}, C-contiguous {out.flags.c_contiguous}")
    return out


def valid_int(value, *, name: str, minimum: int = 0) -> int:
    """An integer (not a bool) >= ``minimum``: ParameterTypeError for another type, ParameterError below."""
    kind = {0: "a non-negative integer", 1: "a positive integer"}.get(minimum, f"an integer >= {minimum}")
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise ParameterTypeError(f"{name} must be {kind}; got {value!r}")
    if value < minimum:
        raise ParameterError(f"{name} must be {kind}; got {value!r}")
    return int(value)


def valid_bool(value, *, name: str) -> bool:
    """True or False (a NumPy bool too): ParameterTypeError for anything else, 0 and 1 included."""
    if not isinstance(value, (bool, np.bool_)):
        raise ParameterTypeError(f"{name} must be True or False; got {value!r}")
    return bool(value)


def valid_number(value, *, name: str, lo: float = -math.inf, hi: float = math.inf) -> float:
    """A finite real number (not a bool) from ``lo`` to ``hi``: ParameterTypeError for another type."""
    want = f"{name} must be a number from {lo:g} to {hi:g}; got {value!r}"
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise ParameterTypeError(want)
    try:
        ok = math.isfinite(value) and lo <= value <= hi
    except OverflowError:  # an int beyond any float
        ok = False
    if not ok:
        raise ParameterError(want)
    return float(value)


def valid_rate(rate, *, name: str = "sample_rate", lo: int, hi: int) -> int:
    """A sample rate: a whole number of Hz (an int, or a whole float as hosts and JSON give) from
    ``lo`` to ``hi``."""
    want = f"{name} must be a whole number of Hz from {lo} to {hi}; got {rate!r}"
    if isinstance(rate, bool) or not isinstance(rate, (int, float, np.integer, np.floating)):
        raise ParameterTypeError(want)
    if isinstance(rate, (float, np.floating)) and not (math.isfinite(rate) and float(rate).is_integer()):
        raise ParameterError(want)
    if not lo <= rate <= hi:
        raise ParameterError(want)
    return int(rate)


def valid_steps(steps, *, name: str = "steps") -> int:
    return valid_int(steps, name=name, minimum=0)


def valid_choice(value, choices, *, name: str):
    if not isinstance(value, str) and all(isinstance(c, str) for c in choices):
        raise ParameterTypeError(f"{name} must be one of {tuple(choices)!r}; got {value!r}")
    if value not in choices:
        raise ParameterError(f"{name} must be one of {tuple(choices)!r}; got {value!r}")
    return value


def valid_device(value, *, name: str = "device") -> str:
    """A torch device the machine has: 'cpu', 'cuda' or 'cuda:N'. Checked before any work starts, so
    that a CUDA request on a machine without CUDA fails at once, naming the option, not after an
    epoch deep in torch."""
    import torch

    want = f"{name} must be 'cpu', 'cuda' or 'cuda:N'; got {value!r}"
    if not isinstance(value, (str, torch.device)):
        raise ParameterTypeError(want)
    try:
        dev = torch.device(value)
    except RuntimeError:
        raise ParameterError(want) from None
    if dev.type not in ("cpu", "cuda"):
        raise ParameterError(want)
    if dev.type == "cuda" and not torch.cuda.is_available():
        why = "was built without CUDA" if torch.version.cuda is None else "finds no CUDA device"
        option = "--" + name.replace("_", "-")
        raise ParameterError(
            f"{name}={value!r} but CUDA is not available (torch {torch.__version__} {why}); use {option} cpu"
        )
    if dev.type == "cuda" and dev.index is not None and dev.index >= torch.cuda.device_count():
        raise ParameterError(
            f"{name}={value!r} but this machine has {torch.cuda.device_count()} CUDA device(s)"
        )
    return value if isinstance(value, str) else str(dev)
