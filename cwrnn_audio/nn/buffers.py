"""Reused memory for the CPU kernels' large arrays (states, their copy for torch, the backward's
error buffers).

A freshly allocated array of many megabytes is new pages to the kernel, and the first write to
each page faults: measured on this project's 2-core VM, a training step of CW-RNN 8 x 32 at batch
64 x 256 spent 7 of its 16 ms forward faulting in the fresh 16 MB state buffers (the kernel alone,
on warm memory, took 8.4 ms), and the faults serialise two threads. glibc returns such buffers to
the system on ``free``, so every step paid again.

:func:`empty` hands out an array over a block of raw memory that goes back to the pool when the
last tensor or array viewing it is gone (a finalizer on the NumPy array that every view keeps
alive), so a tensor returned to the user (the states, a gradient) is never reused while anyone
holds it. The pool keeps at most ``PER_SIZE`` blocks per size and ``LIMIT_BYTES`` in all.
"""

from __future__ import annotations

import math
import threading
import weakref

import numpy as np

PER_SIZE = 4
LIMIT_BYTES = 512 * 2**20

# re-entrant: a garbage collection started inside _give can run another array's finalizer, which
# calls _give again on the same thread
_lock = threading.RLock()
_free: dict[int, list[np.ndarray]] = {}
_held = 0  # bytes kept in _free
_NUMPY: dict = {}  # torch dtype -> NumPy dtype


def _give(raw: np.ndarray) -> None:
    global _held
    fresh = []  # allocated outside the lock
    with _lock:
        stack = _free.setdefault(raw.nbytes, fresh)
        if len(stack) < PER_SIZE and _held + raw.nbytes <= LIMIT_BYTES:
            stack.append(raw)
            _held += raw.nbytes


def empty(shape, dtype):
    """An uninitialised C-contiguous ``torch.Tensor`` of ``shape`` and ``dtype`` (a torch float
    dtype), on reused memory where the pool has a block of that size."""
    import torch

    global _held
    np_dtype = _NUMPY.get(dtype) or _NUMPY.setdefault(dtype, np.dtype(str(dtype).removeprefix("torch.")))
    count = math.prod(shape)
    nbytes = max(count, 1) * np_dtype.itemsize
    with _lock:
        stack = _free.get(nbytes)
        raw = stack.pop() if stack else None
        if raw is not None:
            _held -= nbytes
    if raw is None:
        raw = np.empty(nbytes, dtype=np.uint8)
    arr = raw.view(np_dtype)[:count].reshape(shape)
    weakref.finalize(arr, _give, raw)
    return torch.from_numpy(arr)


def zeros(shape, dtype):
    """:func:`empty`, zeroed."""
    return empty(shape, dtype).zero_()
