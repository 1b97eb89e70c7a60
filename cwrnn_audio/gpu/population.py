"""``CWRNNPopulationFused``: ``P`` networks of one structure through the fused kernels in one call.

The weights carry a leading network axis; the grid is ``(tiles, P)`` and each program offsets its
pointers by its network's strides (``kernels.py``). All networks share one clock ``t0``. Backward:
the same reverse-time kernel per network, then the weight gradients as batched products over all
steps (``torch.bmm``), outside the recurrence. Imports ``triton``: imported on the first fused
population call only.
"""

from __future__ import annotations

import torch
import triton
from torch.autograd.function import once_differentiable

from .function import BLOCK_B, _block, _check, _clock, _num_warps, _precision
from .kernels import cwrnn_backward_kernel, cwrnn_forward_kernel


class CWRNNPopulationFused(torch.autograd.Function):
    """``H = CWRNNPopulationFused.apply(x, h0, t0, W_H, W_I, b_H, periods, offsets)``.

    x ``(P, B, T, I)``, h0 ``(P, B, n)``, W_H ``(P, n, n)`` (already block-upper-triangular),
    W_I ``(P, n, I)``, b_H ``(P, n)``; every sequence of every network at clock value ``t0``;
    float32. Returns H ``(P, B, T, n)`` (a view of the state buffer). Network ``p`` computes exactly
    what :func:`~cwrnn_audio.gpu.function.fused_forward` computes with the ``p``-th slices.
    """

    @staticmethod
    def forward(ctx, x, h0, t0, W_H, W_I, b_H, periods, offsets):
        t0 = _check(x, h0, t0, W_H, W_I, b_H, periods, offsets, networks=True)
        P, B, T, I = x.shape
        n = h0.shape[2]
        W, WI, bH = W_H.contiguous(), W_I.contiguous(), b_H.contiguous()
        HS = h0.new_empty((P, T + 1, B, n))  # per network: slot 0 = h0, slot s + 1 = after step s
        HS[:, 0] = h0
        ctx.clock = (t0, tuple(int(p) for p in periods), tuple(int(o) for o in offsets))
        ctx.precision = _precision()
        ctx.block_k = _block(max(b - a for a, b in zip(offsets, offsets[1:])))
        if P and B and T:
            phase, period, offs = _clock(*ctx.clock, x.device)
            # without input, X and WI are never read (HAS_INPUT=False): any valid tensor stands in
            cwrnn_forward_kernel[(triton.cdiv(B, BLOCK_B), P)](
                x if I else HS, *(x.stride() if I else (0, 0, 0, 0)),
                HS, HS.stride(0), HS.stride(1), HS.stride(2),
                W, W.stride(0), W.stride(1),
                WI if I else W, *(WI.stride()[:2] if I else (0, 0)),
                bH, bH.stride(0),
                phase, period, offs,
                B, T, I, len(periods),
                HAS_INPUT=I > 0, BLOCK_B=BLOCK_B, BLOCK_K=ctx.block_k,
                BLOCK_I=_block(I), PRECISION=ctx.precision, num_warps=_num_warps(ctx.block_k),
            )  # fmt: skip
        ctx.save_for_backward(x, W, WI, HS)
        return HS[:, 1:].transpose(1, 2)

    @staticmethod
    @once_differentiable
    def backward(ctx, dH):
        x, W, WI, HS = ctx.saved_tensors
        P, T, B, n = HS.shape[0], HS.shape[1] - 1, HS.shape[2], HS.shape[3]
        I = x.shape[3]
        need_x, need_h0, _, need_W, need_WI, need_b = ctx.needs_input_grad[:6]
        if not (P and B and T):
            return (None,) * 8
        t0, periods, offsets = ctx.clock
        Delta = HS.new_empty((P, T, B, n))  # pre-activation errors, time-major per network
        dh = HS.new_zeros((P, B, n))  # the carried dL/dh; dL/dh0 when the kernel returns
        cwrnn_backward_kernel[(triton.cdiv(B, BLOCK_B), P)](
            dH, *dH.stride(),
            HS, HS.stride(0), HS.stride(1), HS.stride(2),
            W, W.stride(0), W.stride(1),
            Delta, Delta.stride(0), Delta.stride(1), Delta.stride(2),
            HS.new_empty((P, B, n)), dh, B * n,
            *_clock(t0, periods, offsets, HS.device),
            B, T, len(periods),
            BLOCK_B=BLOCK_B, BLOCK_K=ctx.block_k, PRECISION=ctx.precision, num_warps=_num_warps(ctx.block_k),
        )  # fmt: skip
        D = Delta.reshape(P, T * B, n)
        dx = dW = dWI = db = None
        if need_x:
            dx = torch.bmm(D, WI).reshape(P, T, B, I).transpose(1, 2)
        if need_W:
            # module k's rows read only the columns from its own offset on: one product per block row
            H_prev = HS[:, :-1].reshape(P, T * B, n)
            dW = D.new_zeros((P, n, n))
            for lo, hi in zip(offsets, offsets[1:]):
                dW[:, lo:hi, lo:] = torch.bmm(D[:, :, lo:hi].transpose(1, 2), H_prev[:, :, lo:])
        if need_WI:
            dWI = torch.bmm(D.transpose(1, 2), x.transpose(1, 2).reshape(P, T * B, I))
        if need_b:
            db = D.sum(1)
        return dx, dh if need_h0 else None, None, dW, dWI, db, None, None


def population_forward(x, h0, t0: int, W_H, W_I, b_H, periods, offsets):
    """``P`` networks' states ``(P, B, T, n)`` from x ``(P, B, T, I)`` and h0 ``(P, B, n)``."""
    return CWRNNPopulationFused.apply(x, h0, t0, W_H, W_I, b_H, periods, offsets)


__all__ = ["CWRNNPopulationFused", "population_forward"]
