"""``CWRNNFused``: the autograd Function around the Triton kernels (imports ``triton``).

Forward: one persistent kernel runs all steps. Backward: a reverse-time kernel produces the
pre-activation errors ``Delta`` (zero on rows that did not fire) and dL/dh0; the weight gradients are
then a few large products over all steps at once, outside the recurrence, where cuBLAS is at full
speed. Every tensor is made on the inputs' device, so the same lines run on CUDA and, under
``TRITON_INTERPRET=1``, on CPU tensors.
"""

from __future__ import annotations

from typing import Sequence

import torch
import triton
from torch.autograd.function import once_differentiable

from ..errors import ParameterError
from .kernels import cwrnn_backward_kernel, cwrnn_forward_kernel

BLOCK_B = 16  # sequences per program: the smallest M dimension tl.dot takes


def _block(size: int) -> int:
    """A power of two >= 16 (tl.dot's smallest K and N) holding ``size``."""
    return max(16, triton.next_power_of_2(size))


def _precision() -> str:
    # follow torch's own float32 matmul setting, so the fused path rounds as the step loop does
    return "ieee" if torch.get_float32_matmul_precision() == "highest" else "tf32"


def _check(x, h0, t0, W_H, W_I, b_H, periods, offsets, *, networks: bool = False) -> int:
    """Shapes, dtypes and devices of a fused call (with ``networks``: a leading network axis on
    every tensor); returns ``t0`` as an int."""
    M = len(periods)
    if M == 0 or len(offsets) != M + 1:
        raise ParameterError(f"offsets must have len(periods) + 1 = {M + 1} entries; got {list(offsets)!r}")
    lead = int(networks)
    if x.dim() != 3 + lead:
        axes = "(networks, batch, time, input_size)" if networks else "(batch, time, input_size)"
        raise ParameterError(f"x must have shape {axes}; got {tuple(x.shape)}")
    P, B, I, n = tuple(x.shape[:lead]), x.shape[lead], x.shape[-1], int(offsets[-1])
    want = {"h0": (*P, B, n), "W_H": (*P, n, n), "W_I": (*P, n, I), "b_H": (*P, n)}
    for (name, shape), tensor in zip(want.items(), (h0, W_H, W_I, b_H)):
        if tuple(tensor.shape) != shape:
            raise ParameterError(f"{name} must have shape {shape}; got {tuple(tensor.shape)}")
    for name, tensor in zip(("x", *want), (x, h0, W_H, W_I, b_H)):
        if tensor.dtype != torch.float32 or tensor.device != x.device:
            raise ParameterError(
                f"{name} must be float32 on {x.device}; got {tensor.dtype} on {tensor.device}"
            )
    if int(t0) < 0:
        raise ParameterError(f"t0 must be non-negative; got {t0}")
    return int(t0)


def _clock(t0: int, periods: Sequence[int], offsets: Sequence[int], device):
    """The kernels' clock tables: each module's phase at ``t0``, its period, the row offsets."""
    phase = torch.tensor([t0 % p for p in periods], dtype=torch.int64, device=device)
    period = torch.tensor(list(periods), dtype=torch.int64, device=device)
    return phase, period, torch.tensor(list(offsets), dtype=torch.int32, device=device)


class CWRNNFused(torch.autograd.Function):
    """``H = CWRNNFused.apply(x, h0, t0, W_H, W_I, b_H, periods, offsets)``.

    x ``(B, T, I)``, h0 ``(B, n)``, all ``B`` sequences at clock value ``t0`` (an int); ``W_H``
    already block-upper-triangular (only its blocks ``j >= k`` are read); float32. Returns H
    ``(B, T, n)`` (a view of the time-major state buffer). Gradients flow to x, h0, W_H, W_I, b_H;
    ``W_H``'s gradient is zero below the blocks, as the step loop's is.
    """

    @staticmethod
    def forward(ctx, x, h0, t0, W_H, W_I, b_H, periods, offsets):
        t0 = _check(x, h0, t0, W_H, W_I, b_H, periods, offsets)
        B, T, I = x.shape
        n = h0.shape[1]
        W, WI = W_H.contiguous(), W_I.contiguous()
        HS = h0.new_empty((T + 1, B, n))  # slot 0 = h0, slot s + 1 = the state after step s
        HS[0] = h0
        ctx.clock = (t0, tuple(int(p) for p in periods), tuple(int(o) for o in offsets))
        ctx.precision = _precision()
        ctx.block_k = _block(max(b - a for a, b in zip(offsets, offsets[1:])))
        if B and T:
            phase, period, offs = _clock(*ctx.clock, x.device)
            # without input, X and WI are never read (HAS_INPUT=False): any valid tensor stands in
            cwrnn_forward_kernel[(triton.cdiv(B, BLOCK_B),)](
                x if I else HS, 0, *x.stride(),
                HS, 0, HS.stride(0), HS.stride(1),
                W, 0, W.stride(0),
                WI if I else W, 0, WI.stride(0),
                b_H.contiguous(), 0,
                phase, period, offs,
                B, T, I, len(periods),
                HAS_INPUT=I > 0, BLOCK_B=BLOCK_B, BLOCK_K=ctx.block_k,
                BLOCK_I=_block(I), PRECISION=ctx.precision,
            )  # fmt: skip
        ctx.save_for_backward(x, W, WI, HS)
        return HS[1:].transpose(0, 1)

    @staticmethod
    @once_differentiable
    def backward(ctx, dH):
        x, W, WI, HS = ctx.saved_tensors
        T, B, n = HS.shape[0] - 1, HS.shape[1], HS.shape[2]
        I = x.shape[2]
        need_x, need_h0, _, need_W, need_WI, need_b = ctx.needs_input_grad[:6]
        if not (B and T):
            return (None,) * 8
        t0, periods, offsets = ctx.clock
        Delta = HS.new_empty((T, B, n))  # pre-activation errors, time-major like HS
        dh = HS.new_zeros((B, n))  # the carried dL/dh; dL/dh0 when the kernel returns
        cwrnn_backward_kernel[(triton.cdiv(B, BLOCK_B),)](
            dH, 0, *dH.stride(),
            HS, 0, HS.stride(0), HS.stride(1),
            W, 0, W.stride(0),
            Delta, 0, Delta.stride(0), Delta.stride(1),
            HS.new_empty((B, n)), dh, 0,
            *_clock(t0, periods, offsets, HS.device),
            B, T, len(periods),
            BLOCK_B=BLOCK_B, BLOCK_K=ctx.block_k, PRECISION=ctx.precision,
        )  # fmt: skip
        D = Delta.reshape(T * B, n)
        dx = dW = dWI = db = None
        if need_x:
            dx = (D @ WI).reshape(T, B, I).transpose(0, 1)
        if need_W:
            # module k's rows read only the columns from its own offset on: one product per block row
            H_prev = HS[:-1].reshape(T * B, n)
            dW = D.new_zeros((n, n))
            for lo, hi in zip(offsets, offsets[1:]):
                dW[lo:hi, lo:] = D[:, lo:hi].t() @ H_prev[:, lo:]
        if need_WI:
            dWI = D.t() @ x.transpose(0, 1).reshape(T * B, I)
        if need_b:
            db = D.sum(0)
        return dx, dh if need_h0 else None, None, dW, dWI, db, None, None


def fused_forward(x, h, t0: int, W, W_I, b_H, periods, offsets):
    """The step loop's signature (``functional._step_loop``), run by the fused kernels."""
    return CWRNNFused.apply(x, h, t0, W, W_I, b_H, periods, offsets)
