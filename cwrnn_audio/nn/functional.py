"""The torch path's step loop: autograd-capable, any device.

Each step computes only the rows of the active modules, as prefix/run slices
of the block rows (``W[lo:hi, lo:] @ h[lo:]``), never a masked dense product.
This is the reference, and the path for what no kernel takes. On CPU tensors (float32 or float64)
:func:`cwrnn_forward` runs the Numba kernels instead (``numba_function.py``; the environment variable
``CWRNN_AUDIO_CPU_KERNELS=0`` forces this loop). On CUDA it runs each group of voices on the path
:func:`cwrnn_audio.gpu.gpu_path` picks: the module schedule (``gpu/schedule.py``, the default), the
fused Triton kernels, or this loop; a path that refuses a call falls back here with a warning.
"""

from __future__ import annotations

import warnings
from typing import Sequence

import torch

from ..core.clock import active_runs
from ..gpu import gpu_path, refusal
from ..gpu.schedule import schedule_forward
from . import numba_function


def _step_loop(x, h, t0: int, W, W_I, b_H, periods: Sequence[int], offsets: Sequence[int]):
    """x (B, T, I), h (B, n), all voices at step ``t0``; returns H (B, T, n)."""
    n = h.shape[1]
    has_input = x.shape[2] > 0
    states = []
    for s in range(x.shape[1]):
        pieces, prev = [], 0
        for lo, hi in active_runs(t0 + s, periods, offsets):
            if lo > prev:
                pieces.append(h[:, prev:lo])
            pre = torch.addmm(b_H[lo:hi], h[:, lo:], W[lo:hi, lo:].t())
            if has_input:
                pre = pre + x[:, s] @ W_I[lo:hi].t()
            pieces.append(torch.tanh(pre))
            prev = hi
        if prev < n:
            pieces.append(h[:, prev:])
        h = pieces[0] if len(pieces) == 1 else torch.cat(pieces, dim=1)
        states.append(h)
    if not states:
        return h.new_zeros((h.shape[0], 0, n))
    return torch.stack(states, dim=1)


def cwrnn_forward(x, h, t, W, W_I, b_H, periods, offsets):
    """Run the recurrence for ``B`` voices, each with its own step counter.

    ``W`` must already be block-upper-triangular (the caller masks the
    parameter once per call, so structural zeros get no gradient). Voices that
    share a counter share each step's slices; voices at different counters
    are run as separate groups.
    """
    run = _runner(x, h, W, W_I, b_H, periods, offsets)
    t_values = torch.unique(t)
    if t_values.numel() == 1:
        return run(x, h, int(t_values[0]), W, W_I, b_H, periods, offsets)
    H = x.new_empty((x.shape[0], x.shape[1], h.shape[1]))
    for value in t_values.tolist():
        idx = (t == value).nonzero(as_tuple=True)[0]
        H = H.index_copy(0, idx, run(x[idx], h[idx], value, W, W_I, b_H, periods, offsets))
    return H


def cwrnn_readout(x, h, t, W, W_I, b_H, W_O, b_O, periods, offsets):
    """:func:`cwrnn_forward` and the linear read-out: ``(W_O h_t + b_O for every step, h_T)``.

    Where the CPU kernels run the recurrence and the read-out is narrow, both happen in the kernels
    (``numba_function.CWRNNReadout``): the states then never leave their layout. Otherwise the
    states come out of :func:`cwrnn_forward` and torch applies the read-out.
    """
    if (
        0 < x.shape[0]
        and 0 < x.shape[1]
        and W_O.shape[0] <= numba_function.READOUT_MAX
        and _numba_serves(x, h, W, W_I, b_H, W_O, b_O)
        and bool((t == t[0]).all())
    ):
        return numba_function.numba_readout(x, h, int(t[0]), W, W_I, b_H, W_O, b_O, periods, offsets)
    H = cwrnn_forward(x, h, t, W, W_I, b_H, periods, offsets)
    return torch.nn.functional.linear(H, W_O, b_O), (H[:, -1] if H.shape[1] else h)


def _numba_serves(*tensors) -> bool:
    """Whether the CPU kernels run these tensors' recurrence (where no GPU path is chosen:
    ``CWRNN_AUDIO_FUSED=1`` or ``CWRNN_AUDIO_CUDA_PATH`` on CPU tensors are the tests' switches)."""
    return (
        gpu_path(tensors[2]) is None and numba_function.wanted() and numba_function.refusal(*tensors) is None
    )


def _runner(x, h, W, W_I, b_H, periods, offsets):
    """On the CPU the Numba kernels where able; on CUDA the path :func:`~cwrnn_audio.gpu.gpu_path`
    picks (the module schedule, the fused kernels or the step loop); else the step loop (after a
    warning where a GPU path was wanted and cannot take the call)."""
    path = gpu_path(W, [b - a for a, b in zip(offsets, offsets[1:])], x.shape[0])
    if path is None:
        return numba_function.numba_forward if _numba_serves(x, h, W, W_I, b_H) else _step_loop
    if path == "loop" or torch._C._functorch.is_batchedtensor(W):
        # a population under torch.func.vmap: neither the schedule's chains nor the fused Function
        # has a batching rule, and falling back silently keeps the paper's populations working
        return _step_loop
    if path == "schedule":
        if W.dtype in (torch.float32, torch.float64):
            return schedule_forward
        warnings.warn(
            f"cwrnn_audio: module schedule not used: it runs float32 and float64; got {W.dtype}; "
            "running the step loop",
            stacklevel=3,
        )
        return _step_loop
    reason = refusal(periods, offsets, x, h, W, W_I, b_H)
    if reason is not None:
        warnings.warn(
            f"cwrnn_audio: fused CW-RNN kernels not used: {reason}; running the step loop", stacklevel=3
        )
        return _step_loop
    from ..gpu.function import fused_forward  # imports triton: only on this path

    return fused_forward
