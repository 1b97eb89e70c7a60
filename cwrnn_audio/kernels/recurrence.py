"""Numba forward and backward of the CW-RNN recurrence for a batch on one clock (the torch path on CPU).

The batch rides SIMD lanes: states are stored ``(n, T+1, Bp)``, neuron-major with the batch
contiguous, so every weight is one scalar broadcast against 8 sequences at a time (:mod:`.simd`); a
block of lanes ``[l0, l0 + L)`` is one thread's work, and lanes never interact. Only active modules
are computed, and of ``W_H`` only its non-zero blocks. Where torch needs the states (no fused
read-out), they go out, and their gradients come in, as torch's ``(B, T, n)``, transposed 8 x 8 in
registers inside the step loop while the step is in cache (a torch permute of the lane layout had
cost more than the kernels at batch 64).

A slower module ``j`` changes only at its ticks, so all work with it runs at its rate:

- forward: ``C[j]``, what ``j`` adds to every faster row, is computed once per tick of ``j``; a
  module sums the ``C`` of its slower modules only after one of them ticked. Each is the same
  number whenever it is computed, so windows cut anywhere give the same bits;
- backward: the faster rows' error meant for ``j``'s held state is summed while ``j`` holds still
  and sent through ``W_H`` once, at ``j``'s tick, before ``j``'s own step uses it ("flush");
- weight gradients (:func:`weight_grads`, a second pass once every lane block is done):
  ``dW_H``'s block of ``j``'s columns is those flushed sums times ``j``'s held states; a module's
  own block, ``dW_I`` and ``db_H`` sum its error over its ticks; all over every lane, in 4 x 2
  register tiles over ticks and lanes. The caller splits the modules between threads: each entry
  has one writer, and no sum depends on the split.

By count, for 8 modules of ``k`` with periods 1, 2, 4, ..., a sample costs about 12 k^2 multiply-adds
(forward, backward and weight gradients), against 42 k^2 when every tick recomputes the input from
the slower modules and sends its error back at once.
"""

from __future__ import annotations

import numpy as np
from numba import njit, types
from numba.extending import overload

from .forward import FASTMATH, fast_tanh_vec
from .simd import VEC, vadd, vfma, vload, vmul, vsplat, vstore, vsub, vtranspose8


def _tanh_lanes(src, s0, dst, d0, l0, l1):  # pragma: no cover - replaced by the overload in kernels
    """``dst[d0 + l] = tanh(src[s0 + l])`` for ``l0 <= l < l1``."""


@overload(_tanh_lanes, inline="always")
def _tanh_lanes_impl(src, s0, dst, d0, l0, l1):
    # float32: the streaming kernels' rational tanh (error 2.8e-7) on 8 lanes at once; float64:
    # libm's, so the float64 kernels match torch.tanh to rounding and tests can hold them to 1e-10
    if src.dtype == types.float32:

        def impl(src, s0, dst, d0, l0, l1):
            for lv in range(l0, l1, VEC):
                vstore(dst, d0 + lv, fast_tanh_vec(vload(src, s0 + lv), src))

        return impl

    def impl(src, s0, dst, d0, l0, l1):
        a = src.ravel()
        b = dst.ravel()
        for l in range(l0, l1):
            b[d0 + l] = np.tanh(a[s0 + l])

    return impl


@njit(inline="always")
def _copy(src, s0, dst, d0, l0, l1):
    """``dst[d0 + l] = src[s0 + l]`` over the lanes (flat indices, 8 at a time)."""
    for lv in range(l0, l1, VEC):
        vstore(dst, d0 + lv, vload(src, s0 + lv))


@njit(inline="always")
def _add(src, s0, dst, d0, l0, l1):
    """``dst[d0 + l] += src[s0 + l]`` over the lanes."""
    for lv in range(l0, l1, VEC):
        vstore(dst, d0 + lv, vadd(vload(dst, d0 + lv), vload(src, s0 + lv)))


@njit(inline="always")
def _fill(value, dst, d0, l0, l1):
    """``dst[d0 + l] = value`` over the lanes."""
    v = vsplat(value, dst)
    for lv in range(l0, l1, VEC):
        vstore(dst, d0 + lv, v)


@njit(inline="always")
def _mac(A, a0, aj, am, J, M, V, v0, vs, out, o0, os, l0, l1):
    """``out[o0 + j os + l] += sum_m A[a0 + j aj + m am] V[v0 + m vs + l]`` for ``j < J``, ``m < M``
    and the lanes ``l0 <= l < l1`` (a multiple of 8 apart).

    ``A`` is a flat weight array (``aj, am`` pick rows or columns, so one routine is both
    ``W h`` and ``W^T d``); ``V`` and ``out`` are lane-major with row strides ``vs`` and ``os``.
    A tile of 4 rows by 16 lanes keeps 8 sums in registers (as many as two FMA units with a
    4-cycle latency need) and loads each weight once per 16 lanes; each sum runs in order of ``m``.
    """
    lv = l0
    while lv + 2 * VEC <= l1:
        j = 0
        while j + 4 <= J:
            o = o0 + j * os + lv
            s0 = vload(out, o)
            s1 = vload(out, o + os)
            s2 = vload(out, o + 2 * os)
            s3 = vload(out, o + 3 * os)
            u0 = vload(out, o + VEC)
            u1 = vload(out, o + os + VEC)
            u2 = vload(out, o + 2 * os + VEC)
            u3 = vload(out, o + 3 * os + VEC)
            a = a0 + j * aj
            for m in range(M):
                q = v0 + m * vs + lv
                v = vload(V, q)
                u = vload(V, q + VEC)
                p = a + m * am
                w = vsplat(A[p], V)
                s0 = vfma(w, v, s0)
                u0 = vfma(w, u, u0)
                w = vsplat(A[p + aj], V)
                s1 = vfma(w, v, s1)
                u1 = vfma(w, u, u1)
                w = vsplat(A[p + 2 * aj], V)
                s2 = vfma(w, v, s2)
                u2 = vfma(w, u, u2)
                w = vsplat(A[p + 3 * aj], V)
                s3 = vfma(w, v, s3)
                u3 = vfma(w, u, u3)
            vstore(out, o, s0)
            vstore(out, o + os, s1)
            vstore(out, o + 2 * os, s2)
            vstore(out, o + 3 * os, s3)
            vstore(out, o + VEC, u0)
            vstore(out, o + os + VEC, u1)
            vstore(out, o + 2 * os + VEC, u2)
            vstore(out, o + 3 * os + VEC, u3)
            j += 4
        while j < J:
            o = o0 + j * os + lv
            s0 = vload(out, o)
            u0 = vload(out, o + VEC)
            a = a0 + j * aj
            for m in range(M):
                q = v0 + m * vs + lv
                w = vsplat(A[a + m * am], V)
                s0 = vfma(w, vload(V, q), s0)
                u0 = vfma(w, vload(V, q + VEC), u0)
            vstore(out, o, s0)
            vstore(out, o + VEC, u0)
            j += 1
        lv += 2 * VEC
    if lv < l1:
        j = 0
        while j + 4 <= J:
            o = o0 + j * os + lv
            s0 = vload(out, o)
            s1 = vload(out, o + os)
            s2 = vload(out, o + 2 * os)
            s3 = vload(out, o + 3 * os)
            a = a0 + j * aj
            for m in range(M):
                v = vload(V, v0 + m * vs + lv)
                p = a + m * am
                s0 = vfma(vsplat(A[p], V), v, s0)
                s1 = vfma(vsplat(A[p + aj], V), v, s1)
                s2 = vfma(vsplat(A[p + 2 * aj], V), v, s2)
                s3 = vfma(vsplat(A[p + 3 * aj], V), v, s3)
            vstore(out, o, s0)
            vstore(out, o + os, s1)
            vstore(out, o + 2 * os, s2)
            vstore(out, o + 3 * os, s3)
            j += 4
        while j < J:
            o = o0 + j * os + lv
            s = vload(out, o)
            a = a0 + j * aj
            for m in range(M):
                s = vfma(vsplat(A[a + m * am], V), vload(V, v0 + m * vs + lv), s)
            vstore(out, o, s)
            j += 1


@njit(inline="always")
def _transpose(src, s0, ss, dst, d0, ds, rows, lanes):
    """``dst[d0 + l ds + r] = src[s0 + r ss + l]`` for ``r < rows``, ``l < lanes``: 8 x 8 tiles in
    registers, scalar edges. Moves a step's states between the lane layout and torch's (B, T, n)."""
    r = 0
    while r + VEC <= rows:
        l = 0
        while l + VEC <= lanes:
            vtranspose8(src, s0 + r * ss + l, ss, dst, d0 + l * ds + r, ds)
            l += VEC
        for ll in range(l, lanes):
            for rr in range(r, r + VEC):
                dst[d0 + ll * ds + rr] = src[s0 + rr * ss + ll]
        r += VEC
    for rr in range(r, rows):
        for ll in range(lanes):
            dst[d0 + ll * ds + rr] = src[s0 + rr * ss + ll]


@njit(inline="always")
def _read_slow(W, C, Hs, j, col, offsets, n, RS, Bp, l0, l1):
    """``C[j, :lo_j] = W[:lo_j, j's columns] h_j``: what module ``j``'s state (column ``col`` of Hs)
    adds to every faster module's rows, computed once per tick of ``j``."""
    lo = offsets[j]
    for r in range(lo):
        _fill(0.0, C, (j * n + r) * Bp, l0, l1)
    _mac(W, lo, n, 1, lo, offsets[j + 1] - lo, Hs, lo * RS + col * Bp, RS, C, j * n * Bp, Bp, l0, l1)


@njit(nogil=True, cache=True, fastmath=FASTMATH, error_model="numpy")
def forward_block(X, Hs, H, Y, P, S, C, W, WI, bH, WO, bO, offsets, periods, t0, l0, L):
    """Run lanes ``[l0, l0 + L)`` through ``T`` steps from ``Hs[:, 0]``, clock at ``t0``.

    X (I, T, Bp) inputs; Hs (n, T+1, Bp) states, ``Hs[:, 0]`` given, the rest written; H (B, T, n)
    the same states for torch (lanes below ``B``; ``B = 0``: none); Y (O, T, Bp) the linear
    read-out ``W_O h + b_O`` of each step (``O = 0``: none); P, S (n, Bp) and C (g, n, Bp) work
    space. W (n*n,), WI (n*I,), WO (O*n,) flat row-major; bH (n,), bO (O,). ``L`` is a multiple
    of 8; every array C-contiguous and of one float dtype.

    ``C[j]`` holds slower module ``j``'s input to the faster rows, refreshed when ``j`` ticks;
    ``S`` a module's sum of them (``j`` ascending), refreshed when any slower module ticked.
    Both are the same numbers whenever they are computed, so windows cut anywhere give the
    same bits.
    """
    I = X.shape[0]
    n, T1, Bp = Hs.shape
    T = T1 - 1
    B = H.shape[0]
    O = Y.shape[0]
    RS = T1 * Bp
    XS = T * Bp
    g = periods.shape[0]
    l1 = l0 + L
    ok = np.zeros(g, np.bool_)
    for j in range(1, g):
        _read_slow(W, C, Hs, j, 0, offsets, n, RS, Bp, l0, l1)
    for s in range(T):
        t = t0 + s
        for r in range(n):
            _copy(Hs, r * RS + s * Bp, Hs, r * RS + (s + 1) * Bp, l0, l1)
        slowest = -1
        for i in range(g):
            if t % periods[i] != 0:
                continue
            slowest = i
            lo = offsets[i]
            hi = offsets[i + 1]
            k = hi - lo
            if not ok[i]:
                for r in range(lo, hi):
                    _fill(0.0, S, r * Bp, l0, l1)
                    for j in range(i + 1, g):
                        _add(C, (j * n + r) * Bp, S, r * Bp, l0, l1)
                ok[i] = True
            for r in range(lo, hi):
                _fill(bH[r], P, r * Bp, l0, l1)
                _add(S, r * Bp, P, r * Bp, l0, l1)
            if I > 0:
                _mac(WI, lo * I, I, 1, k, I, X, s * Bp, XS, P, lo * Bp, Bp, l0, l1)
            _mac(W, lo * n + lo, n, 1, k, k, Hs, lo * RS + s * Bp, RS, P, lo * Bp, Bp, l0, l1)
            for r in range(lo, hi):
                _tanh_lanes(P, r * Bp, Hs, r * RS + (s + 1) * Bp, l0, l1)
        # a module's sum reads every slower module: stale once any of them ticked
        for i in range(slowest):
            ok[i] = False
        for j in range(1, g):
            if t % periods[j] == 0:
                _read_slow(W, C, Hs, j, s + 1, offsets, n, RS, Bp, l0, l1)
        if l0 < B:
            _transpose(
                Hs.ravel(), (s + 1) * Bp + l0, RS, H.ravel(), (l0 * T + s) * n, T * n, n, min(l1, B) - l0
            )
        for o in range(O):
            _fill(bO[o], Y, (o * T + s) * Bp, l0, l1)
        if O > 0:
            _mac(WO, 0, n, 1, O, n, Hs, (s + 1) * Bp, RS, Y, s * Bp, T * Bp, l0, l1)


@njit(inline="always")
def _hsum(v, scratch):
    vstore(scratch, 0, v)
    acc = scratch[0]
    for e in range(1, VEC):
        acc += scratch[e]
    return acc


@njit(inline="always")
def _gemm_nt(A, a0, ars, R, Bm, b0, brs, C, steps, nslots, Bp, l0, l1, out, o0, ors, scratch):
    """``out[o0 + r ors + c] += sum A[a0 + r ars + slot Bp + l] Bm[b0 + c brs + steps[slot] Bp + l]``
    over ``slot < nslots`` and lanes ``l0 <= l < l1``, for ``r < R``, ``c < C``: a weight gradient
    (error rows times state rows, summed over time and this block's lanes). Tiles of 4 x 2 keep 8
    sums in registers; each is reduced across its vector once at the end."""
    r = 0
    while r < R:
        rn = 4 if r + 4 <= R else 1
        c = 0
        while c < C:
            if rn == 4 and c + 2 <= C:
                z = vsplat(0.0, A)
                s00, s01, s10, s11, s20, s21, s30, s31 = z, z, z, z, z, z, z, z
                for slot in range(nslots):
                    pa = a0 + r * ars + slot * Bp
                    pb = b0 + c * brs + steps[slot] * Bp
                    for lv in range(l0, l1, VEC):
                        h0 = vload(Bm, pb + lv)
                        h1 = vload(Bm, pb + brs + lv)
                        d = vload(A, pa + lv)
                        s00 = vfma(d, h0, s00)
                        s01 = vfma(d, h1, s01)
                        d = vload(A, pa + ars + lv)
                        s10 = vfma(d, h0, s10)
                        s11 = vfma(d, h1, s11)
                        d = vload(A, pa + 2 * ars + lv)
                        s20 = vfma(d, h0, s20)
                        s21 = vfma(d, h1, s21)
                        d = vload(A, pa + 3 * ars + lv)
                        s30 = vfma(d, h0, s30)
                        s31 = vfma(d, h1, s31)
                o = o0 + r * ors + c
                out[o] += _hsum(s00, scratch)
                out[o + 1] += _hsum(s01, scratch)
                out[o + ors] += _hsum(s10, scratch)
                out[o + ors + 1] += _hsum(s11, scratch)
                out[o + 2 * ors] += _hsum(s20, scratch)
                out[o + 2 * ors + 1] += _hsum(s21, scratch)
                out[o + 3 * ors] += _hsum(s30, scratch)
                out[o + 3 * ors + 1] += _hsum(s31, scratch)
                c += 2
            else:
                for rr in range(r, r + rn):
                    acc = vsplat(0.0, A)
                    for slot in range(nslots):
                        pa = a0 + rr * ars + slot * Bp
                        pb = b0 + c * brs + steps[slot] * Bp
                        for lv in range(l0, l1, VEC):
                            acc = vfma(vload(A, pa + lv), vload(Bm, pb + lv), acc)
                    out[o0 + rr * ors + c] += _hsum(acc, scratch)
                c += 1
        r += rn


@njit(inline="always")
def _tick_table(periods, t0, T):
    """Each module's first tick in the window ``[t0, t0 + T)`` (as a step from its start) and its
    number of ticks there (``numba_function._Plan`` lays out the buffers by the same numbers)."""
    g = periods.shape[0]
    first = np.empty(g, np.int64)
    ticks = np.empty(g, np.int64)
    for i in range(g):
        first[i] = (periods[i] - t0 % periods[i]) % periods[i]
        ticks[i] = 0 if first[i] >= T else (T - 1 - first[i]) // periods[i] + 1
    return first, ticks


@njit(inline="always")
def _flush(W, Acc, dh, F, f0, fs, j, offsets, n, Bp, l0, l1):
    """Send the faster rows' error summed while module ``j`` held still, ``Acc[j, :lo_j]``, to
    ``j``'s state (``dh_j += W[:lo_j, j's columns]^T Acc[j]``), keep it in ``F`` (rows ``f0 + r
    fs``) for the weight gradient, and zero it."""
    lo = offsets[j]
    _mac(W, lo, 1, n, offsets[j + 1] - lo, lo, Acc, j * n * Bp, Bp, dh, lo * Bp, Bp, l0, l1)
    for r in range(lo):
        _copy(Acc, (j * n + r) * Bp, F, f0 + r * fs, l0, l1)
        _fill(0.0, Acc, (j * n + r) * Bp, l0, l1)


@njit(nogil=True, cache=True, fastmath=FASTMATH, error_model="numpy")
def backward_block(
    dH,
    dY,
    Hs,
    X,
    D,
    dbase,
    F,
    fbase,
    fcap,
    dh,
    Acc,
    G,
    dX,
    fsteps,
    fcount,
    W,
    WI,
    WO,
    offsets,
    periods,
    t0,
    l0,
    L,
):
    """Backward through :func:`forward_block` for lanes ``[l0, l0 + L)``.

    dH (B, T, n): the loss's gradient with respect to each step's state (torch's layout; ``B = 0``:
    none); dY (O, T, Bp): the gradient with respect to the forward's read-out ``Y`` (``O = 0``:
    none); Hs (n, T+1, Bp), X (I, T, Bp): the forward's states and inputs; dX (I, T, Bp): written,
    the input gradient. dh (n, Bp): zero on entry, the initial state's gradient on return; Acc
    (g, n, Bp) zero and G (n, Bp) work space. fsteps (g, T+1) and fcount (g,): written by the block
    at lane 0, each flush's column of Hs and their number, for :func:`weight_grads`.

    Two flat work buffers, ``Bp`` lanes per entry: D, module ``i``'s pre-activation error at each
    of its ticks, ``(k_i, ticks_i, Bp)`` at ``dbase[i]``; F, the error of all rows faster than
    module ``j`` summed over each stretch where ``j`` held still, ``(lo_j, fcap[j], Bp)`` at
    ``fbase[j]``, whose product with ``j``'s held state is the gradient of the weights reading it.
    """
    I = dX.shape[0]
    n, T1, Bp = Hs.shape
    T = T1 - 1
    B = dH.shape[0]
    O = dY.shape[0]
    g = periods.shape[0]
    l1 = l0 + L
    RS = T1 * Bp
    first, ticks = _tick_table(periods, t0, T)
    count = np.zeros(g, np.int64)
    fstep = np.zeros((g, T + 1), np.int64)  # each flush's held state: a column of Hs
    pending = np.zeros(g, np.bool_)
    for s in range(T - 1, -1, -1):
        t = t0 + s
        if l0 < B:
            _transpose(dH.ravel(), (l0 * T + s) * n, T * n, G.ravel(), l0, Bp, min(l1, B) - l0, n)
            for r in range(n):
                _add(G, r * Bp, dh, r * Bp, l0, l1)  # lanes from B on: G's zeros
        if O > 0:  # the read-out's error: dh += W_O^T dY[:, s]
            _mac(WO, 0, 1, n, n, O, dY, s * Bp, T * Bp, dh, 0, Bp, l0, l1)
        # module j ticks here: the error its held state got from faster rows goes in first
        for j in range(1, g):
            if pending[j] and t % periods[j] == 0:
                c = count[j]
                _flush(W, Acc, dh, F, fbase[j] + c * Bp, fcap[j] * Bp, j, offsets, n, Bp, l0, l1)
                fstep[j, c] = s + 1
                count[j] = c + 1
                pending[j] = False
        for i in range(g):
            if t % periods[i] != 0:
                continue
            lo = offsets[i]
            d0 = dbase[i] + (s - first[i]) // periods[i] * Bp
            ds = ticks[i] * Bp
            one = vsplat(1.0, D)
            for r in range(lo, offsets[i + 1]):
                d = d0 + (r - lo) * ds
                for lv in range(l0, l1, VEC):
                    h = vload(Hs, r * RS + (s + 1) * Bp + lv)
                    vstore(D, d + lv, vmul(vload(dh, r * Bp + lv), vsub(one, vmul(h, h))))
                _fill(0.0, dh, r * Bp, l0, l1)
        for q in range(I):
            _fill(0.0, dX, (q * T + s) * Bp, l0, l1)
        for i in range(g):
            if t % periods[i] != 0:
                continue
            lo = offsets[i]
            hi = offsets[i + 1]
            k = hi - lo
            d0 = dbase[i] + (s - first[i]) // periods[i] * Bp
            ds = ticks[i] * Bp
            _mac(W, lo * n + lo, 1, n, k, k, D, d0, ds, dh, lo * Bp, Bp, l0, l1)
            if I > 0:
                _mac(WI, lo * I, 1, I, I, k, D, d0, ds, dX, s * Bp, T * Bp, l0, l1)
            for j in range(i + 1, g):
                for r in range(lo, hi):
                    _add(D, d0 + (r - lo) * ds, Acc, (j * n + r) * Bp, l0, l1)
                pending[j] = True
    for j in range(1, g):
        if pending[j]:
            c = count[j]
            _flush(W, Acc, dh, F, fbase[j] + c * Bp, fcap[j] * Bp, j, offsets, n, Bp, l0, l1)
            fstep[j, c] = 0
            count[j] = c + 1
    if l0 == 0:  # every block's are the same; the weight gradients read these
        fcount[:] = count
        fsteps[:, :] = fstep


@njit(nogil=True, cache=True, fastmath=FASTMATH, error_model="numpy")
def weight_grads(
    D,
    dbase,
    F,
    fbase,
    fcap,
    fsteps,
    fcount,
    Hs,
    X,
    dY,
    offsets,
    periods,
    t0,
    owned,
    readout,
    dW,
    dWI,
    db,
    dWO,
    dbO,
):
    """The weight gradients from :func:`backward_block`'s buffers, over every lane, for the modules
    with ``owned[i]`` (and ``W_O``'s if ``readout``): ``dW_H[i, i] = sum D h^T`` over module ``i``'s
    ticks, ``dW_H[faster rows, i] = sum F h_held^T``, ``dW_I[i] = sum D x^T``, ``db_H[i] = sum D``,
    ``dW_O = sum dY h^T``, ``db_O = sum dY``. Each module's blocks belong to one call, so calls on
    threads write disjoint entries, and every sum runs over all lanes in one order whatever the
    thread count. dW (n, n), dWI (n, I), db (n,), dWO (O, n), dbO (O,): zero on entry.
    """
    I = X.shape[0]
    n, T1, Bp = Hs.shape
    T = T1 - 1
    O = dY.shape[0]
    g = periods.shape[0]
    l0 = 0
    l1 = Bp
    RS = T1 * Bp
    first, ticks = _tick_table(periods, t0, T)
    scratch = np.empty(VEC, Hs.dtype)
    steps = np.empty(T, np.int64)
    for i in range(g):
        if not owned[i]:
            continue
        lo = offsets[i]
        hi = offsets[i + 1]
        k = hi - lo
        if fcount[i] > 0:  # every faster row against module i's held states (also if i never ticks)
            _gemm_nt(
                F,
                fbase[i],
                fcap[i] * Bp,
                lo,
                Hs,
                lo * RS,
                RS,
                k,
                fsteps[i],
                fcount[i],
                Bp,
                l0,
                l1,
                dW.ravel(),
                lo,
                n,
                scratch,
            )
        S = ticks[i]
        if S == 0:
            continue
        for q in range(S):
            steps[q] = first[i] + q * periods[i]
        ds = S * Bp
        _gemm_nt(
            D, dbase[i], ds, k, Hs, lo * RS, RS, k, steps, S, Bp, l0, l1, dW.ravel(), lo * n + lo, n, scratch
        )
        if I > 0:
            _gemm_nt(
                D, dbase[i], ds, k, X, 0, T * Bp, I, steps, S, Bp, l0, l1, dWI.ravel(), lo * I, I, scratch
            )
        for r in range(lo, hi):
            acc = vsplat(0.0, D)
            for q in range(S):
                d = dbase[i] + ((r - lo) * S + q) * Bp
                for lv in range(l0, l1, VEC):
                    acc = vfma(vload(D, d + lv), vsplat(1.0, D), acc)
            db[r] += _hsum(acc, scratch)
    if readout and O > 0:  # dW_O = sum dY h^T over every step, db_O = sum dY
        for q in range(T):
            steps[q] = q + 1
        _gemm_nt(dY, 0, T * Bp, O, Hs, 0, RS, n, steps, T, Bp, l0, l1, dWO.ravel(), 0, n, scratch)
        for o in range(O):
            acc = vsplat(0.0, dY)
            for q in range(T):
                for lv in range(l0, l1, VEC):
                    acc = vadd(acc, vload(dY, (o * T + q) * Bp + lv))
            dbO[o] += _hsum(acc, scratch)
