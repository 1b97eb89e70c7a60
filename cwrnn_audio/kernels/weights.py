"""Weights laid out for the Numba kernels (float32, the layouts the loops want)."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from ..core.config import CWRNNConfig
from .forward import ACT_LINEAR, ACT_TANH


class KernelWeights(NamedTuple):
    WH: np.ndarray  # (n, n) row-major: each active row is one dot product
    WI: np.ndarray  # (n, I)
    bH: np.ndarray  # (n,)
    WO: np.ndarray  # (O, n) row-major: output rows are dot products over n
    bO: np.ndarray  # (O,)
    offsets: np.ndarray  # (g+1,) int64 module row offsets
    periods: np.ndarray  # (g,) int64
    act: int  # ACT_LINEAR or ACT_TANH


def pack(config: CWRNNConfig, W_H, W_I, b_H, W_O, b_O) -> KernelWeights:
    """Copy NumPy weights (the file layout) into the kernels' layout."""
    f32 = lambda a: np.ascontiguousarray(np.asarray(a, dtype=np.float32))  # noqa: E731
    offsets = np.asarray(config.offsets, dtype=np.int64)
    return KernelWeights(
        WH=f32(W_H),
        WI=f32(W_I),
        bH=f32(b_H),
        WO=f32(W_O),
        bO=f32(b_O),
        offsets=offsets,
        periods=np.asarray(config.periods, dtype=np.int64),
        act=ACT_TANH if config.output_activation == "tanh" else ACT_LINEAR,
    )
