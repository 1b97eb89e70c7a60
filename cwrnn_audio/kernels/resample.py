"""Numba polyphase FIR for streaming rational resampling (see ``runtime/resample.py``)."""

from __future__ import annotations

import numpy as np
from numba import njit

from .forward import FASTMATH


@njit(nogil=True, cache=True, fastmath=FASTMATH)
def resample_kernel(x, n, buf, hist, taps, L, M, s, n_in, k0, out, n_out):
    """Push ``x[:, :n]`` and write outputs ``k0 .. k0 + n_out`` into ``out[:, :n_out]``.

    Whole buffers and counts rather than slices: a slice's layout (contiguous or not) would
    change with its length and make Numba compile again inside a host's process call.

    Output ``k`` sits at ``u = k*M + s`` on the grid ``L`` times finer than the input; its newest
    input is ``j = u // L`` and its phase ``u % L``. ``taps`` (L, K) holds each phase's taps
    oldest-input first, so the dot product reads ``buf`` forwards. ``buf`` (C, hist + n_max)
    keeps the last ``hist`` inputs before ``x`` (input ``n_in - hist`` first) and is shifted
    on return. Each output's sum has the same length and order however the stream is cut.
    """
    C = x.shape[0]
    K = taps.shape[1]
    for c in range(C):
        b = buf[c]
        for i in range(n):
            b[hist + i] = x[c, i]
        for q in range(n_out):
            u = (k0 + q) * M + s
            j = u // L
            row = taps[u - j * L]
            start = j - n_in + hist - K + 1
            seg = b[start : start + K]  # indices from 0 carry no wrap-around check: LLVM vectorises
            acc = np.float32(0.0)
            for i in range(K):
                acc += row[i] * seg[i]
            out[c, q] = acc
        for i in range(hist):
            b[i] = b[n + i]
