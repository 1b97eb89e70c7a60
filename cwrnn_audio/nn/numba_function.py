"""The recurrence on CPU tensors as a ``torch.autograd.Function``, forward and backward in Numba.

``functional.cwrnn_forward`` runs each clock group through :func:`numba_forward` where
:func:`refusal` allows (CPU tensors, float32 or float64, not under ``torch.func`` transforms or
forward-mode AD); ``CWRNN_AUDIO_CPU_KERNELS=0`` forces the step loop instead (the reference, and
for comparison). ``functional.cwrnn_readout`` adds the module's linear read-out inside the kernels
(:func:`numba_readout`) where it has at most ``READOUT_MAX`` outputs and the voices share a clock.

Everything else (losses, optimisers, a wide read-out) stays in torch: :class:`CWRNNRecurrence`
takes ``(x, h0, W_H, W_I, b_H)`` and returns all states ``H``; its backward takes ``dH`` and
returns ``dx, dh0, dW_H, dW_I, db_H`` (the kernels in ``kernels/recurrence.py``). The batch is split
into blocks of lanes, at most one per torch thread (``torch.get_num_threads()``), run on threads
with the GIL released; then the weight gradients, split by module between the threads, each sum
over all lanes in one order: a run repeats bit for bit, and the weight gradients do not depend on
the thread count. Large arrays come
from :mod:`.buffers` (reused memory).
"""

from __future__ import annotations

import functools
import os
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import torch
from torch.autograd import forward_ad

from . import buffers

ENV_SWITCH = "CWRNN_AUDIO_CPU_KERNELS"
DTYPES = (torch.float32, torch.float64)
LANE = 8  # the kernels' vector width: blocks of lanes are multiples of it
# Read-outs up to this many outputs run in the kernels (CWRNNReadout). A training step, one thread,
# in the kernels vs torch's: 8 x 16, batch 16: 1.25x faster at 1 output, even at 16, 0.84x at 32;
# 8 x 32, batch 64: 1.41x at 1, 1.19x at 16, 0.96x at 32 (torch's BLAS wins on wide products).
READOUT_MAX = 16
# A lane block's least work, n^2 x lanes: at batch 64, two blocks of 32 lanes on 2 threads ran
# 0.9-1.1x one block at 128 hidden units (2^19), 1.3-1.4x at 256 (2^21) and 1.6x at 512.
MIN_BLOCK_WORK = 2**20

_pool: ThreadPoolExecutor | None = None


def _forget_pool() -> None:
    # a forked child (DataLoader workers, multiprocessing) inherits the pool object but not its
    # threads: work submitted there would wait forever
    global _pool
    _pool = None


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_pool)


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


def _blocks(B: int, threads: int, n: int) -> list[tuple[int, int]]:
    """Lane blocks ``(l0, L)`` covering ``B`` padded to a multiple of 8, as even as vectors allow:
    at most one per thread, at least 16 lanes each (the kernels' widest tile: two blocks of 8 lanes
    at batch 16 ran slower than one of 16), and each at least ``MIN_BLOCK_WORK`` in ``n^2 L`` (``n``
    hidden units). Blocks never change a result, only which thread computes it."""
    vectors = -(-B // LANE)
    count = max(1, min(threads, vectors // 2, n * n * vectors * LANE // max(MIN_BLOCK_WORK, 1)))
    base, extra = divmod(vectors, count)
    out, l0 = [], 0
    for b in range(count):
        L = (base + (b < extra)) * LANE
        out.append((l0, L))
        l0 += L
    return out


def _run_blocks(kernel, blocks, *args):
    _run_jobs(kernel, [(*args, *block) for block in blocks])


def _run_jobs(kernel, jobs):
    """``kernel(*job)`` for each job, the first on this thread and the rest on the pool (the
    kernels release the GIL)."""
    global _pool
    if len(jobs) > 1 and (_pool is None or _pool._max_workers < len(jobs) - 1):
        _pool = ThreadPoolExecutor(max_workers=len(jobs) - 1, thread_name_prefix="cwrnn_cpu")
    futures = [_pool.submit(kernel, *job) for job in jobs[1:]]
    kernel(*jobs[0])
    for future in futures:
        future.result()


@functools.lru_cache(maxsize=64)
def _clock(periods: tuple, offsets: tuple):
    return np.asarray(periods, dtype=np.int64), np.asarray(offsets, dtype=np.int64)


class CWRNNRecurrence(torch.autograd.Function):
    """``(x (B,T,I), h0 (B,n), W_H, W_I, b_H) -> H (B,T,n)`` for ``B`` sequences at clock ``t0``."""

    @staticmethod
    def forward(ctx, x, h0, W, W_I, b_H, t0: int, periods, offsets):
        H, _, _ = _forward(ctx, x, h0, W, W_I, b_H, None, None, t0, periods, offsets)
        return H

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, dH):
        dx, dh0, dW, dWI, db, _, _ = _backward(ctx, dH, None, None)
        return dx, dh0, dW, dWI, db, None, None, None


class CWRNNReadout(torch.autograd.Function):
    """``(x, h0, W_H, W_I, b_H, W_O, b_O) -> (W_O h_t + b_O for every step (B,T,O), h_T (B,n))``: the
    recurrence and a linear read-out in one pass, so the states never leave the kernels' layout.

    For a few outputs (a waveform, a control signal) the states are most of the memory a step
    moves: at CW-RNN 8 x 32, batch 64 x 256, one output, writing them out for torch, its read-out
    and the gradient coming back cost about as much as the recurrence itself (see the Speed section
    of the README for the training step this gives).
    """

    @staticmethod
    def forward(ctx, x, h0, W, W_I, b_H, W_O, b_O, t0: int, periods, offsets):
        _, Y, h_n = _forward(ctx, x, h0, W, W_I, b_H, W_O, b_O, t0, periods, offsets)
        return Y, h_n

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, dY, dh_n):
        return (*_backward(ctx, None, dY, dh_n), None, None, None)


def _forward(ctx, x, h0, W, W_I, b_H, W_O, b_O, t0: int, periods, offsets):
    """Run the forward kernel; returns ``(H or None, Y or None, h_T or None)`` (H without a
    read-out, Y and h_T with one) and keeps what the backward needs on ``ctx``."""
    from ..kernels.recurrence import forward_block

    B, T, I = x.shape
    n = h0.shape[1]
    Bp = -(-B // LANE) * LANE
    dtype = W.dtype
    readout = W_O is not None
    O = W_O.shape[0] if readout else 0
    with torch.no_grad():
        X = buffers.zeros((I, T, Bp), dtype)
        X[:, :, :B] = x.permute(2, 1, 0)
        Hs = buffers.empty((n, T + 1, Bp), dtype)
        Hs[:, 0, :B] = h0.t()
        Hs[:, 0, B:] = 0.0
        H = buffers.empty((0 if readout else B, T, n), dtype)
        Y = buffers.empty((O, T, Bp), dtype)
        P = torch.empty((n, Bp), dtype=dtype)
        S = torch.empty((n, Bp), dtype=dtype)
        C = buffers.empty((len(periods), n, Bp), dtype)
        flat = [_flat(w) for w in (W, W_I, b_H)] + [
            _flat(w) if readout else np.zeros(0, Hs.numpy().dtype) for w in (W_O, b_O)
        ]
    per, off = _clock(periods, offsets)
    blocks = _blocks(B, torch.get_num_threads(), n)
    Wf, WIf, bH, WOf, bOf = flat
    arrays = (
        X.numpy(),
        Hs.numpy(),
        H.numpy(),
        Y.numpy(),
        P.numpy(),
        S.numpy(),
        C.numpy(),
        Wf,
        WIf,
        bH,
        WOf,
        bOf,
    )
    _run_blocks(forward_block, blocks, *arrays, off, per, int(t0))
    # the weights through save_for_backward: torch then refuses a backward after one was changed
    # in place (the step loop's behaviour), instead of using the new values
    ctx.save_for_backward(W, W_I, *((W_O,) if readout else ()))
    ctx.saved = (X, Hs, periods, offsets, int(t0), blocks, B)
    if not readout:
        return H, None, None
    # h_T a copy: a view would let a caller's in-place change of the state alter Hs, which the
    # backward reads (the step loop raises there; a copy keeps the gradients right)
    return None, Y[:, :, :B].permute(2, 1, 0), Hs[:, T, :B].t().clone()


def _flat(w):
    return w.detach().contiguous().reshape(-1).numpy()


def _backward(ctx, dH, dY, dh_n):
    """The backward kernel for ``dH`` (no read-out) or ``dY, dh_n`` (with one); returns the
    gradients ``dx, dh0, dW_H, dW_I, db_H, dW_O, db_O`` (None where not needed)."""
    from ..kernels.recurrence import backward_block, weight_grads

    X, Hs, periods, offsets, t0, blocks, B = ctx.saved
    per, off = _clock(periods, offsets)
    W, W_I, *rest = ctx.saved_tensors
    I, T, Bp = X.shape
    n = Hs.shape[0]
    dtype = Hs.dtype
    empty = np.zeros(0, Hs.numpy().dtype)
    if dY is None:
        O, WOf = 0, empty
        dH = dH.to(dtype).contiguous()
        dYl = buffers.empty((0, T, Bp), dtype)
    else:
        O, WOf = rest[0].shape[0], _flat(rest[0])
        dH = buffers.empty((0, T, n), dtype)
        dYl = buffers.zeros((O, T, Bp), dtype)
        dYl[:, :, :B] = dY.permute(2, 1, 0)
    plan = _plan(periods, offsets, tuple(t0 % p for p in periods), T, Bp)
    # D and F are read only where written (each module's ticks, each flush): no zeroing
    D = buffers.empty((plan.dsize,), dtype)
    F = buffers.empty((max(plan.fsize, 1),), dtype)
    dh = buffers.zeros((n, Bp), dtype)  # the final state's gradient, then the initial state's
    if dh_n is not None:
        dh[:, :B] = dh_n.t()
    Acc = buffers.zeros((len(per), n, Bp), dtype)
    G = buffers.zeros((len(blocks), n, Bp), dtype)  # lanes from B on stay zero
    dX = buffers.empty((I, T, Bp), dtype)
    fsteps = np.zeros((len(per), T + 1), dtype=np.int64)
    fcount = np.zeros(len(per), dtype=np.int64)
    shared = (
        dH.numpy(),
        dYl.numpy(),
        Hs.numpy(),
        X.numpy(),
        D.numpy(),
        plan.dbase,
        F.numpy(),
        plan.fbase,
        plan.fcap,
    )
    weights = (_flat(W), _flat(W_I), WOf, off, per, t0)
    jobs = [
        (*shared, dh.numpy(), Acc.numpy(), G[b].numpy(), dX.numpy(), fsteps, fcount, *weights, l0, L)
        for b, (l0, L) in enumerate(blocks)
    ]
    _run_jobs(backward_block, jobs)
    need = list(ctx.needs_input_grad[:5]) + (list(ctx.needs_input_grad[5:7]) if O else [False, False])
    grads = [None] * 5
    if any(need[2:]):
        grads = [torch.zeros(shape, dtype=dtype) for shape in ((n, n), (n, I), (n,), (O, n), (O,))]
        arrays = (D.numpy(), plan.dbase, F.numpy(), plan.fbase, plan.fcap, fsteps, fcount, Hs.numpy())
        arrays += (X.numpy(), dYl.numpy(), off, per, t0)
        outputs = tuple(a.numpy() for a in grads)
        _run_jobs(
            weight_grads,
            [(*arrays, owned, readout, *outputs) for owned, readout in _share(plan, len(blocks), O)],
        )
    dW, dWI, db, dWO, dbO = (a if want else None for a, want in zip(grads, need[2:]))
    dx = dX[:, :, :B].permute(2, 1, 0) if need[0] else None
    dh0 = dh[:, :B].t() if need[1] else None
    return dx, dh0, dW, dWI, db, dWO, dbO


class _Plan:
    """Where each module's rows sit in the backward's flat buffers (see ``backward_block``): ``D``
    at ``dbase`` (one entry per tick in the window); ``F`` at ``fbase``, the rows faster than
    module ``j`` with room for ``fcap[j]`` flushes (its ticks in the window, and the start).
    Depends on ``t0`` only through each module's phase ``t0 % T_i`` (:func:`_plan` caches it)."""

    def __init__(self, periods: tuple, offsets: tuple, phases: tuple, T: int, Bp: int):
        periods, offsets = _clock(periods, offsets)
        g = len(periods)
        sizes = np.diff(offsets)
        self.first = (-np.asarray(phases, dtype=np.int64)) % periods
        self.ticks = np.where(self.first < T, (T - 1 - self.first) // periods + 1, 0)
        # module j's flushes: one per tick in the window, and the window's start
        self.fcap = np.where(np.arange(g) > 0, self.ticks + 1, 0).astype(np.int64)
        self.dbase = np.concatenate([[0], np.cumsum(sizes * self.ticks * Bp)]).astype(np.int64)
        self.fbase = np.concatenate([[0], np.cumsum(offsets[:-1] * self.fcap * Bp)]).astype(np.int64)
        self.dsize, self.fsize = int(self.dbase[-1]), int(self.fbase[-1])
        self.sizes, self.offsets, self.T = sizes, offsets, T


_plan = functools.lru_cache(maxsize=256)(_Plan)


def _share(plan, threads: int, O: int) -> list[tuple[np.ndarray, bool]]:
    """Split the weight gradients between up to ``threads`` calls of ``weight_grads``: each module
    (its diagonal block, its columns' block from the faster rows, its ``W_I`` and ``b_H`` rows) to
    one call, the read-out to another, by estimated multiply-adds, largest first onto the least
    loaded. Each entry has one writer, and no sum depends on the split."""
    work = plan.sizes * (plan.sizes + plan.offsets[:-1]) * np.maximum(plan.ticks, 1)
    items = [(float(w), i) for i, w in enumerate(work)] + [(float(O * plan.offsets[-1] * plan.T), -1)]
    load = [0.0] * max(1, threads)
    owned = [np.zeros(len(work), dtype=np.bool_) for _ in load]
    readout = [False] * len(load)
    for w, i in sorted(items, reverse=True):
        t = load.index(min(load))
        load[t] += w
        if i < 0:
            readout[t] = True
        else:
            owned[t][i] = True
    return [(o, r) for o, r in zip(owned, readout) if o.any() or r]


def numba_forward(x, h, t0: int, W, W_I, b_H, periods, offsets):
    """The step loop's signature (``functional._step_loop``), run by the Numba kernels."""
    return CWRNNRecurrence.apply(x, h, W, W_I, b_H, int(t0), tuple(periods), tuple(offsets))


def numba_readout(x, h, t0: int, W, W_I, b_H, W_O, b_O, periods, offsets):
    """:func:`numba_forward` followed by the linear read-out, in the kernels: ``(y, h_T)``."""
    return CWRNNReadout.apply(x, h, W, W_I, b_H, W_O, b_O, int(t0), tuple(periods), tuple(offsets))
