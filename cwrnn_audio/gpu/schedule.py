"""The module schedule: the CW-RNN as one chain per module over its own ticks, slowest first.

Module ``i`` reads only modules ``j >= i``, so the slowest module's trajectory depends on nobody,
and once the slower modules are known for the whole window, module ``i`` is a tanh RNN of ``k_i``
units over its ``L / T_i`` ticks whose addend is known:

    U_i[s] = b_i + W_I[i] x_s + sum_{j > i} W[i, j] h_j(s - 1)       at the ticks s of module i
    h_i(s) = tanh(U_i[s] + W[i, i] h_i(previous tick))

Each slower module's contribution ``W[:, j] h_j`` is one matrix product at module ``j``'s own
rate (its state changes only at its ticks), gathered by index at the faster module's ticks; no
``(B, L, n)`` tensor is built but the output. The critical path is the fastest module's own
``k x k`` recurrence (:mod:`.chain`), and the rest are large matrix products. Plain torch, autograd
through it: every line runs on the CPU (the tests hold it to the step loop in float64); on an H100
it ran 8 x 32 at 3.6x and 8 x 64 at 13x the fused kernels untuned (``../shared/GPU.md``).

Same signature and result as the step loop (``nn.functional._step_loop``): any strictly
increasing periods, any ``t0``, any window length.
"""

from __future__ import annotations

from typing import Sequence

import torch

from ..errors import ParameterError
from .chain import chain_for, chosen_chain


def _ticks(t0: int, L: int, period: int, device: torch.device):
    """The steps ``s`` in ``[0, L)`` where a module of ``period`` fires at clock ``t0 + s``."""
    first = (-t0) % period
    return torch.arange(min(first, L), L, period, device=device)


def _held(steps: torch.Tensor, t0: int, period: int):
    """For each of ``steps``: how many ticks of the module fall before it (``s' < s``), which is
    the index of its held state in ``[h0, state at tick 1, ...]``. Scriptable, as :func:`_ticks`:
    the exported streams (``export/recurrence.py``) index a block the same way."""
    first = (-t0) % period
    return torch.clamp(steps - first + period - 1, min=0).div(period, rounding_mode="floor")


def schedule_forward(x, h, t0: int, W, W_I, b_H, periods: Sequence[int], offsets: Sequence[int], chain=None):
    """x ``(B, L, I)``, h ``(B, n)``, all voices at clock ``t0``; ``W`` block-upper-triangular.
    Returns H ``(B, L, n)``, the state after every step, as the step loop does.

    ``chain``: a chain kernel's name (:data:`~.chain.CHAINS`); default ``CWRNN_AUDIO_CHAIN`` or cudnn.
    """
    B, L, I = x.shape
    M = len(periods)
    if L == 0:
        return h.new_zeros((B, 0, h.shape[1]))
    sizes = [b - a for a, b in zip(offsets, offsets[1:])]
    run_chain = chain_for(chain or chosen_chain(), sizes, x, h, W, W_I, b_H)
    try:
        held = [None] * M  # module i: (B, 1 + ticks, k_i), its initial state then its state at each tick
        sent = [None] * M  # module j: (B, 1 + ticks, offsets[j]), W[:o_j, j] h_j at j's own rate
        for i in reversed(range(M)):
            lo, hi = offsets[i], offsets[i + 1]
            ticks = _ticks(t0, L, periods[i], x.device)
            U = b_H[lo:hi].expand(B, ticks.numel(), hi - lo)
            if I > 0:
                U = U + x.index_select(1, ticks) @ W_I[lo:hi].t()
            for j in range(i + 1, M):
                U = U + sent[j][:, :, lo:hi].index_select(1, _held(ticks, t0, periods[j]))
            h0 = h[:, lo:hi]
            states = run_chain(U.contiguous(), W[lo:hi, lo:hi], h0) if ticks.numel() else U
            held[i] = torch.cat([h0[:, None], states], 1)
            if i > 0:
                sent[i] = held[i] @ W[:lo, lo:hi].t()
        after = torch.arange(1, L + 1, device=x.device)  # the state after step s holds ticks <= s
        return torch.cat([held[i].index_select(1, _held(after, t0, periods[i])) for i in range(M)], 2)
    except torch.OutOfMemoryError:
        raise ParameterError(
            f"out of GPU memory for a batch of {B} sequences x a window of {L} steps "
            f"({offsets[-1]} units); lower the batch (--batch) or the window (--window)"
        ) from None
