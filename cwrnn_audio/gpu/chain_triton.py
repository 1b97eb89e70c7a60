"""The project's chain kernel (imports ``triton``): ``h_s = tanh(U_s + h_{s-1} W^T)`` over a chain.

One program owns a tile of ``BLOCK_B`` sequences for the whole chain, with ``W`` (padded to a
``K x K`` tile) and the state in registers, so a tick costs one ``tl.dot``, one add and one tanh
and nothing leaves the program but the state it stores (``../shared/GPU.md`` budgets 0.05-0.25 us a
tick for k = 16-64). The backward kernel runs the chain in reverse: the error reaching ``h_s`` is
its output gradient plus ``g_{s+1} W``, and ``g_s`` is that times ``1 - h_s^2``; the weight
gradient is then one large product over all ticks, outside the recurrence.
"""

from __future__ import annotations

import torch
import triton
import triton.language as tl

from .function import BLOCK_B, _block, _precision
from .kernels import _tanh


@triton.jit
def chain_forward_kernel(
    U, W, H0, OUT, B, S, k, K: tl.constexpr, BLOCK: tl.constexpr, PRECISION: tl.constexpr
):
    rows = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    cols = tl.arange(0, K)
    rmask = rows < B
    cmask = cols < k
    tile = rmask[:, None] & cmask[None, :]
    # W^T as the dot's right operand: element (c, r) = W[r, c]; padding rows and columns are zero
    w_t = tl.load(W + cols[None, :] * k + cols[:, None], mask=cmask[None, :] & cmask[:, None], other=0.0)
    h = tl.load(H0 + rows[:, None] * k + cols[None, :], mask=tile, other=0.0)
    base = rows[:, None] * (S * k) + cols[None, :]
    for s in range(0, S):
        u = tl.load(U + base + s * k, mask=tile, other=0.0)
        h = _tanh(u + tl.dot(h, w_t, input_precision=PRECISION))
        tl.store(OUT + base + s * k, h, mask=tile)


@triton.jit
def chain_backward_kernel(
    OUT, DOUT, W, G, B, S, k, K: tl.constexpr, BLOCK: tl.constexpr, PRECISION: tl.constexpr
):
    rows = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    cols = tl.arange(0, K)
    rmask = rows < B
    cmask = cols < k
    tile = rmask[:, None] & cmask[None, :]
    w = tl.load(W + cols[:, None] * k + cols[None, :], mask=cmask[:, None] & cmask[None, :], other=0.0)
    g = tl.zeros((BLOCK, K), dtype=tl.float32)
    base = rows[:, None] * (S * k) + cols[None, :]
    for r in range(0, S):
        s = S - 1 - r
        h = tl.load(OUT + base + s * k, mask=tile, other=0.0)
        d = tl.load(DOUT + base + s * k, mask=tile, other=0.0) + tl.dot(g, w, input_precision=PRECISION)
        g = d * (1.0 - h * h)
        tl.store(G + base + s * k, g, mask=tile)


class TritonChain(torch.autograd.Function):
    @staticmethod
    def forward(ctx, U, W, h0):
        B, S, k = U.shape
        U, W, h0 = U.contiguous(), W.contiguous(), h0.contiguous()
        out = torch.empty_like(U)
        grid = (triton.cdiv(B, BLOCK_B),)
        chain_forward_kernel[grid](U, W, h0, out, B, S, k, K=_block(k), BLOCK=BLOCK_B, PRECISION=_precision())
        ctx.save_for_backward(W, h0, out)
        return out

    @staticmethod
    def backward(ctx, dout):
        W, h0, out = ctx.saved_tensors
        B, S, k = out.shape
        G = torch.empty_like(out)
        grid = (triton.cdiv(B, BLOCK_B),)
        chain_backward_kernel[grid](
            out, dout.contiguous(), W, G, B, S, k, K=_block(k), BLOCK=BLOCK_B, PRECISION=_precision()
        )
        before = torch.cat([h0[:, None], out[:, :-1]], 1)  # the state each tick read
        dW = G.reshape(-1, k).t() @ before.reshape(-1, k)
        return G, dW, G[:, 0] @ W


def triton_chain(U, W, h0):
    """As :func:`.chain.torch_chain`, by the Triton kernels; float32."""
    return TritonChain.apply(U, W, h0)
