"""The recurrence on CPU tensors as one ``torch.autograd.Function``, forward and backward in Numba.

``functional.cwrnn_forward`` runs each clock group through :func:`numba_forward` where
:func:`refusal` allows (CPU tensors, float32 or float64, not under ``torch.func`` transforms);
``CWRNN_AUDIO_CPU_KERNELS=0`` forces the step loop instead (the reference, and for comparison).

Everything around the recurrence (read-out, losses, optimisers) stays in torch: the Function takes
``(x, h0, W_H, W_I, b_H)`` and returns all states ``H``; its backward takes ``dH`` and returns
``dx, dh0, dW_H, dW_I, db_H``. The batch is split into blocks of lanes, one per torch thread
(``torch.get_num_threads()``), run on threads with the GIL released; the weight gradients are
sums of products formed by torch's BLAS, one per module over its ticks. For a given thread count
every number is computed in the same order, so a run repeats bit for bit.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from typing import Sequence

import numpy as np
import torch
from torch.autograd import forward_ad

ENV_SWITCH = "CWRNN_AUDIO_CPU_KERNELS"
DTYPES = (torch.float32, torch.float64)
LANE = 8  # the kernels' vector width: blocks of lanes are multiples of it

_pool: ThreadPoolExecutor | None = None


def wanted() -> bool:
    """Whether the kernels are wanted at all (``CWRNN_AUDIO_CPU_KERNELS=0`` turns them off)."""
    return os.environ.get(ENV_SWITCH, "") != "0"


def refusal(*tensors) -> str | None:
    """Why the kernels cannot take these tensors (they then run the step loop), or None."""
    if torch._C._are_functorch_transforms_active():
        # apply() inside vmap/grad needs setup_context and batching rules this Function lacks
        return "a torch.func transform (vmap, grad) is active"
    dtype = tensors[0].dtype
    for tensor in tensors:
        if tensor.device.type != "cpu":
            return f"tensors on {tensor.device}"
        if tensor.dtype != dtype or dtype not in DTYPES:
            return f"dtype {tensor.dtype} (the kernels take float32 or float64, all alike)"
        if torch._C._functorch.is_functorch_wrapped_tensor(tensor):
            return "a torch.func transform (vmap, grad) is active"
        if forward_ad.unpack_dual(tensor).tangent is not None:
            return "forward-mode AD (the Function has no jvp)"
    return None


def _blocks(B: int, threads: int) -> list[tuple[int, int]]:
    """Lane blocks ``(l0, L)`` covering ``B`` padded to a multiple of 8: as even as vectors allow,
    at most one per thread. Fixed by ``B`` and ``threads`` alone, so results are too."""
    vectors = -(-B // LANE)
    count = max(1, min(threads, vectors))
    base, extra = divmod(vectors, count)
    out, l0 = [], 0
    for b in range(count):
        L = (base + (b < extra)) * LANE
        out.append((l0, L))
        l0 += L
    return out


def _run_blocks(kernel, blocks, *args):
    global _pool
    if len(blocks) == 1:
        kernel(*args, *blocks[0])
        return
    if _pool is None or _pool._max_workers < len(blocks):
        _pool = ThreadPoolExecutor(max_workers=len(blocks), thread_name_prefix="cwrnn_cpu")
    for future in [_pool.submit(kernel, *args, *block) for block in blocks]:
        future.result()


def _clock(periods: Sequence[int], offsets: Sequence[int]):
    return np.asarray(periods, dtype=np.int64), np.asarray(offsets, dtype=np.int64)


class CWRNNRecurrence(torch.autograd.Function):
    """``(x (B,T,I), h0 (B,n), W_H, W_I, b_H) -> H (B,T,n)`` for ``B`` sequences at clock ``t0``."""

    @staticmethod
    def forward(ctx, x, h0, W, W_I, b_H, t0: int, periods, offsets):
        from ..kernels.recurrence import forward_block

        B, T, I = x.shape
        n = h0.shape[1]
        Bp = -(-B // LANE) * LANE
        dtype = W.dtype
        with torch.no_grad():
            X = torch.zeros((I, T, Bp), dtype=dtype)
            X[:, :, :B] = x.permute(2, 1, 0)
            Hs = torch.empty((n, T + 1, Bp), dtype=dtype)
            Hs[:, 0, :B] = h0.t()
            Hs[:, 0, B:] = 0.0
            H = torch.empty((B, T, n), dtype=dtype)
            P = torch.empty((n, Bp), dtype=dtype)
            S = torch.zeros((n, Bp), dtype=dtype)
            Wf = W.detach().contiguous().reshape(-1).numpy()
            WIf = W_I.detach().contiguous().reshape(-1).numpy()
            bH = b_H.detach().contiguous().numpy()
        per, off = _clock(periods, offsets)
        blocks = _blocks(B, torch.get_num_threads())
        arrays = (X.numpy(), Hs.numpy(), H.numpy(), P.numpy(), S.numpy(), Wf, WIf, bH)
        _run_blocks(forward_block, blocks, *arrays, off, per, int(t0))
        # W and W_I through save_for_backward: torch then refuses a backward after either was
        # changed in place (the step loop's behaviour), instead of using the new values
        ctx.save_for_backward(W, W_I)
        ctx.saved = (X, Hs, per, off, int(t0), blocks)
        return H

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, dH):
        from ..kernels.recurrence import backward_block

        X, Hs, per, off, t0, blocks = ctx.saved
        W, W_I = ctx.saved_tensors
        Wf = W.detach().contiguous().reshape(-1).numpy()
        WIf = W_I.detach().contiguous().reshape(-1).numpy()
        I, T, Bp = X.shape
        n = Hs.shape[0]
        dtype = Hs.dtype
        B = dH.shape[0]
        dH = dH.to(dtype).contiguous()
        D = torch.empty((n, T, Bp), dtype=dtype)  # read only where written: active rows, their steps
        dh = torch.zeros((n, Bp), dtype=dtype)
        Acc = torch.zeros((n, Bp), dtype=dtype)
        G = torch.empty((n, Bp), dtype=dtype)
        dX = torch.empty((I, T, Bp), dtype=dtype)
        arrays = (dH.numpy(), Hs.numpy(), D.numpy(), dh.numpy(), Acc.numpy(), G.numpy(), dX.numpy(), Wf, WIf)
        _run_blocks(backward_block, blocks, *arrays, off, per, t0)
        need = ctx.needs_input_grad
        dW = dWI = db = None
        if need[2] or need[3] or need[4]:
            dW, dWI, db = _weight_grads(D, Hs, X, per, off, t0, need)
        dx = dX[:, :, :B].permute(2, 1, 0) if need[0] else None
        dh0 = dh[:, :B].t() if need[1] else None
        return dx, dh0, dW, dWI, db, None, None, None


def _weight_grads(D, Hs, X, periods, offsets, t0: int, need):
    """``dW_H = sum D h_prev^T``, ``dW_I = sum D x^T``, ``db_H = sum D`` per module over its ticks
    and all lanes (padding lanes have ``D = 0``); zero off the block pattern. With the neuron-major
    layout a period-1 module's operands are plain strided matrices; slower ones gather their ticks."""
    I, T, Bp = X.shape
    n = Hs.shape[0]
    dW = D.new_zeros((n, n)) if need[2] else None
    dWI = D.new_zeros((n, I)) if need[3] else None
    db = D.new_zeros((n,)) if need[4] else None
    for i, p in enumerate(periods.tolist()):
        lo, hi = int(offsets[i]), int(offsets[i + 1])
        first = (-t0) % p
        if first >= T:
            continue
        Di = D[lo:hi, first::p].reshape(hi - lo, -1)  # (k, ticks * Bp)
        if dW is not None:
            dW[lo:hi, lo:] = Di @ Hs[lo:, first:T:p].reshape(n - lo, -1).t()
        if dWI is not None and I:
            dWI[lo:hi] = Di @ X[:, first::p].reshape(I, -1).t()
        if db is not None:
            db[lo:hi] = Di.sum(1)
    return dW, dWI, db


def numba_forward(x, h, t0: int, W, W_I, b_H, periods, offsets):
    """The step loop's signature (``functional._step_loop``), run by the Numba kernels."""
    return CWRNNRecurrence.apply(x, h, W, W_I, b_H, int(t0), tuple(periods), tuple(offsets))
