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
        dH = dH.to(dtype).contiguous()
        plan = _Plan(per, off, t0, T, Bp)
        # D and F are read only where written (each module's ticks, each flush): no zeroing
        D = torch.empty(plan.dsize, dtype=dtype)
        F = torch.empty(max(plan.fsize, 1), dtype=dtype)
        fstep = np.zeros((len(per), max(plan.fcap.max(), 1)), dtype=np.int64)
        fcount = np.zeros(len(per), dtype=np.int64)
        dh = torch.zeros((n, Bp), dtype=dtype)
        Acc = torch.zeros((n, Bp), dtype=dtype)
        G = torch.empty((n, Bp), dtype=dtype)
        dX = torch.empty((I, T, Bp), dtype=dtype)
        arrays = (
            dH.numpy(),
            Hs.numpy(),
            D.numpy(),
            plan.dbase,
            F.numpy(),
            plan.fbase,
            plan.fcap,
            fstep,
            fcount,
        )
        _run_blocks(
            backward_block,
            blocks,
            *arrays,
            dh.numpy(),
            Acc.numpy(),
            G.numpy(),
            dX.numpy(),
            Wf,
            WIf,
            off,
            per,
            t0,
        )
        need = ctx.needs_input_grad
        dW = dWI = db = None
        if need[2] or need[3] or need[4]:
            dW, dWI, db = _weight_grads(plan, D, F, fstep, fcount, Hs, X, need)
        B = dH.shape[0]
        dx = dX[:, :, :B].permute(2, 1, 0) if need[0] else None
        dh0 = dh[:, :B].t() if need[1] else None
        return dx, dh0, dW, dWI, db, None, None, None


class _Plan:
    """Where each module's rows sit in the backward's flat buffers (see ``backward_block``): its
    ticks in the window (``first``, ``ticks``), ``D`` at ``dbase``, ``F`` at ``fbase`` with room
    for ``fcap`` flushes (the steps where a slower module ticks, and the window's start)."""

    def __init__(self, periods, offsets, t0: int, T: int, Bp: int):
        g = len(periods)
        sizes = np.diff(offsets)
        self.periods, self.offsets, self.Bp = periods, offsets, Bp
        self.first = (-t0) % periods
        self.ticks = np.where(self.first < T, (T - 1 - self.first) // periods + 1, 0)
        fires = (t0 + np.arange(T))[None, :] % periods[:, None] == 0  # (g, T)
        slower = np.logical_or.accumulate(fires[::-1], axis=0)[::-1]  # slower[i]: module >= i ticks
        self.fcap = np.zeros(g, dtype=np.int64)
        for i in range(g - 1):
            self.fcap[i] = slower[i + 1].sum() + 1
        self.dbase = np.concatenate([[0], np.cumsum(sizes * self.ticks * Bp)]).astype(np.int64)
        self.fbase = np.concatenate([[0], np.cumsum(sizes * self.fcap * Bp)]).astype(np.int64)
        self.dsize, self.fsize = int(self.dbase[-1]), int(self.fbase[-1])


def _weight_grads(plan, D, F, fstep, fcount, Hs, X, need):
    """``dW_H = sum D h_prev^T``, ``dW_I = sum D x^T``, ``db_H = sum D``, summed over each module's
    ticks and all lanes (padding lanes have ``D = 0``) as one matrix product per block (BLAS);
    zero off the block pattern. A module's products with the slower modules use ``F``, the error
    summed while they held still: half the ticks or fewer."""
    I, T, Bp = X.shape
    n = Hs.shape[0]
    dW = D.new_zeros((n, n)) if need[2] else None
    dWI = D.new_zeros((n, I)) if need[3] else None
    db = D.new_zeros((n,)) if need[4] else None
    for i, p in enumerate(plan.periods.tolist()):
        lo, hi = int(plan.offsets[i]), int(plan.offsets[i + 1])
        k, first, ticks = hi - lo, int(plan.first[i]), int(plan.ticks[i])
        if ticks == 0:
            continue
        Di = D[plan.dbase[i] : plan.dbase[i + 1]].view(k, ticks * Bp)
        if dW is not None:
            dW[lo:hi, lo:hi] = Di @ Hs[lo:hi, first:T:p].reshape(k, -1).t()
            c = int(fcount[i])
            if hi < n and c:
                Fi = F[plan.fbase[i] : plan.fbase[i + 1]].view(k, int(plan.fcap[i]), Bp)[:, :c]
                held = Hs[hi:].index_select(1, torch.from_numpy(fstep[i, :c]))
                dW[lo:hi, hi:] = Fi.reshape(k, -1) @ held.reshape(n - hi, -1).t()
        if dWI is not None and I:
            dWI[lo:hi] = Di @ X[:, first::p].reshape(I, -1).t()
        if db is not None:
            db[lo:hi] = Di.sum(1)
    return dW, dWI, db


def numba_forward(x, h, t0: int, W, W_I, b_H, periods, offsets):
    """The step loop's signature (``functional._step_loop``), run by the Numba kernels."""
    return CWRNNRecurrence.apply(x, h, W, W_I, b_H, int(t0), tuple(periods), tuple(offsets))
