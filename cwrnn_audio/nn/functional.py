"""The torch path's step loop: autograd-capable, any device.

Each step computes only the rows of the active modules, as prefix/run slices
of the block rows (``W[lo:hi, lo:] @ h[lo:]``), never a masked dense product.
This is the reference, and the path for what no kernel takes. On CPU tensors (float32 or float64)
:func:`cwrnn_forward` runs the Numba kernels instead (``numba_function.py``; the environment variable
``CWRNN_AUDIO_CPU_KERNELS=0`` forces this loop). Where :func:`cwrnn_audio.gpu.use_fused` says so
(parameters on CUDA with triton installed), :func:`cwrnn_forward` runs each group of voices through
the fused Triton kernels instead, and falls back here, with a warning, where they refuse.
"""

from __future__ import annotations

import warnings
from typing import Sequence

import torch

from ..core.clock import active_runs
from ..gpu import refusal, use_fused
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
    """Whether the CPU kernels run these tensors' recurrence (where the fused GPU kernels are not
    wanted: ``CWRNN_AUDIO_FUSED=1`` on CPU tensors is the interpreter tests' switch)."""
    return not use_fused(tensors[2]) and numba_function.wanted() and numba_function.refusal(*tensors) is None


def _runner(x, h, W, W_I, b_H, periods, offsets):
    """The fused kernels where wanted and able; on the CPU the Numba kernels where able; else the
    step loop (after a warning where fused kernels were wanted)."""
    if not use_fused(W):
        return numba_function.numba_forward if _numba_serves(x, h, W, W_I, b_H) else _step_loop
    if torch._C._functorch.is_batchedtensor(W):
        # a population under torch.func.vmap: the fused Function has no batching rule (yet), and
        # falling back silently keeps fit and the paper's populations working on CUDA
        return _step_loop
    reason = refusal(periods, offsets, x, h, W, W_I, b_H)
    if reason is not None:
        warnings.warn(
            f"cwrnn_audio: fused CW-RNN kernels not used: {reason}; running the step loop", stacklevel=3
        )
        return _step_loop
    from ..gpu.function import fused_forward  # imports triton: only on this path

    return fused_forward
