"""Validation at public entry points (NumPy side)."""

from __future__ import annotations

import numpy as np

from .errors import ParameterError
from .kernels.forward import all_finite


def _shape_str(shape) -> str:
    return "(" + ", ".join(str(s) for s in shape) + ")"


def valid_sequence(x, *, features: int, name: str = "inputs", ndims=(2, 3)) -> np.ndarray:
    """Check a float sequence ``(time, features)`` or ``(batch, time, features)``.

    Returns it as a C-contiguous float32 array (a copy only when needed).
    Kept lean: streams call it on every block.
    """
    if not isinstance(x, np.ndarray):
        try:
            x = np.asarray(x)
        except Exception as exc:  # ragged lists and the like
            raise ParameterError(f"{name} must be an array; could not convert ({exc})") from None
    if x.dtype.kind != "f":
        raise ParameterError(f"{name} must have a floating-point dtype; got dtype {x.dtype}")
    if x.ndim not in ndims or x.shape[-1] != features:
        want = " or ".join({2: f"(time, {features})", 3: f"(batch, time, {features})"}[d] for d in ndims)
        raise ParameterError(f"{name} must have shape {want}; got {_shape_str(x.shape)}")
    if x.dtype != np.float32 or not x.flags.c_contiguous:
        x = np.ascontiguousarray(x, dtype=np.float32)
    if x.size and not all_finite(x):
        raise ParameterError(f"{name} contains NaN or infinite values")
    return x


def valid_steps(steps, *, name: str = "steps") -> int:
    if isinstance(steps, bool) or not isinstance(steps, (int, np.integer)) or steps < 0:
        raise ParameterError(f"{name} must be a non-negative integer; got {steps!r}")
    return int(steps)


def valid_choice(value, choices, *, name: str):
    if value not in choices:
        raise ParameterError(f"{name} must be one of {tuple(choices)!r}; got {value!r}")
    return value
