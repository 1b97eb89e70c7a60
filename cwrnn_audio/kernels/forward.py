"""Numba forward kernel: many independent voices, per-sample stepping.

Only the rows of active modules are computed, and of those only the
block-upper-triangular part of ``W_H``. Nothing is allocated inside the
kernel; it releases the GIL.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from .simd import vdiv, vfma, vmax, vmin, vmul, vsplat

ACT_LINEAR = 0
ACT_TANH = 1

# libm's tanhf is a scalar call and took half the per-sample time of the M
# config here. This is Eigen's rational approximation (odd degree 13 over
# even degree 6, clamped where tanh rounds to +-1 in float32); its largest
# error against float64 tanh is 2.8e-7, far inside the engines' 1e-5 agreement.
_CLAMP = np.float32(7.99881172180175781)
# numerator (in x^2, highest power first) and denominator coefficients, shared with fast_tanh_vec
_P6, _P5, _P4 = (
    np.float32(-2.76076847742355e-16),
    np.float32(2.00018790482477e-13),
    np.float32(-8.60467152213735e-11),
)
_P3, _P2, _P1 = (
    np.float32(5.12229709037114e-08),
    np.float32(1.48572235717979e-05),
    np.float32(6.37261928875436e-04),
)
_P0 = np.float32(4.89352455891786e-03)
_Q3, _Q2, _Q1 = (
    np.float32(1.19825839466702e-06),
    np.float32(1.18534705686654e-04),
    np.float32(2.26843463243900e-03),
)
_Q0 = np.float32(4.89352518554385e-03)


@njit(inline="always", fastmath={"contract"})
def fast_tanh(x):
    x = min(max(x, -_CLAMP), _CLAMP)
    x2 = x * x
    p = _P6
    p = p * x2 + _P5
    p = p * x2 + _P4
    p = p * x2 + _P3
    p = p * x2 + _P2
    p = p * x2 + _P1
    p = p * x2 + _P0
    q = _Q3
    q = q * x2 + _Q2
    q = q * x2 + _Q1
    q = q * x2 + _Q0
    return x * p / q


@njit(inline="always")
def fast_tanh_vec(x, like):
    """:func:`fast_tanh` on a float32 vector of :mod:`.simd` (``like``: an array of its dtype)."""
    x = vmin(vmax(x, vsplat(-_CLAMP, like)), vsplat(_CLAMP, like))
    x2 = vmul(x, x)
    p = vsplat(_P6, like)
    p = vfma(p, x2, vsplat(_P5, like))
    p = vfma(p, x2, vsplat(_P4, like))
    p = vfma(p, x2, vsplat(_P3, like))
    p = vfma(p, x2, vsplat(_P2, like))
    p = vfma(p, x2, vsplat(_P1, like))
    p = vfma(p, x2, vsplat(_P0, like))
    q = vsplat(_Q3, like)
    q = vfma(q, x2, vsplat(_Q2, like))
    q = vfma(q, x2, vsplat(_Q1, like))
    q = vfma(q, x2, vsplat(_Q0, like))
    return vdiv(vmul(x, p), q)


# Reassociation lets LLVM vectorise the dot products (measured 8-10x over the
# strict-order loop and 3x over column-major axpy here); no nnan/ninf, so NaN
# and inf semantics stay IEEE. Results depend only on each dot's length, so
# any split of a sequence into blocks gives bit-identical outputs.
FASTMATH = {"reassoc", "contract"}

# Kernels that inline fast_tanh compile with error_model="numpy": Python's
# model puts a ZeroDivisionError branch on its division, which stopped LLVM
# vectorising the activation loops (1.3x per sample here). Its denominator is
# a polynomial >= 0.0049, so nothing is lost.


@njit(inline="always", fastmath=FASTMATH)
def activate(h, pre, lo, hi):
    """``h[lo:hi] = tanh(pre[lo:hi])``, vectorised (slices starting at 0 let LLVM do it)."""
    dst = h[lo:hi]
    src = pre[lo:hi]
    for r in range(hi - lo):
        dst[r] = fast_tanh(src[r])


@njit(inline="always")
def init_phase(phase, t, periods):
    """Each module's position in its period at step ``t``."""
    for i in range(periods.shape[0]):
        phase[i] = t % periods[i]


@njit(inline="always", fastmath=FASTMATH)
def step_state(xs, hb, Sb, ok, phase, WH, WI, bH, offsets, periods, scratch):
    """Advance one voice's hidden state ``hb`` by one step with input ``xs``.

    ``phase[i]`` is ``t % periods[i]`` on entry and is advanced. ``Sb``/``ok``
    cache, per row of module ``i``, the recurrent input from the slower
    modules (columns past module ``i``) and whether it is current. Slower
    modules change rarely, so a step mostly computes only the diagonal
    blocks; a stale cache is recomputed the same way every time, so results
    do not depend on where blocks start.
    """
    n = hb.shape[0]
    g = periods.shape[0]
    I = xs.shape[0]
    slowest = -1
    for i in range(g):
        if phase[i] != 0:
            continue
        slowest = i
        lo = offsets[i]
        hi = offsets[i + 1]
        if ok[i] == 0:
            tail = hb[hi:]
            for r in range(lo, hi):
                w = WH[r, hi:]
                acc = np.float32(0.0)
                for c in range(n - hi):
                    acc += w[c] * tail[c]
                Sb[r] = acc
            ok[i] = 1
        own = hb[lo:hi]
        for r in range(lo, hi):
            w = WH[r, lo:hi]
            acc = bH[r] + Sb[r]
            for k in range(I):
                acc += WI[r, k] * xs[k]
            for c in range(hi - lo):
                acc += w[c] * own[c]
            scratch[r] = acc
    # written only after every active row has read the old state
    for i in range(g):
        if phase[i] == 0:
            activate(hb, scratch, offsets[i], offsets[i + 1])
    advance_clock(phase, periods, ok, slowest)


@njit(inline="always")
def advance_clock(phase, periods, ok, slowest):
    """Move every module's phase on one step; invalidate the caches of modules
    faster than ``slowest`` (the slowest that ticked), which read it."""
    for i in range(periods.shape[0]):
        phase[i] += 1
        if phase[i] == periods[i]:
            phase[i] = 0
    for i in range(slowest):
        ok[i] = 0


@njit(inline="always", fastmath=FASTMATH)
def step_pair(x0, x1, h0, h1, S0, S1, ok, phase, WH, WI, bH, offsets, periods, s0, s1):
    """:func:`step_state` for two voices on the same clock step.

    Each weight is loaded once for both voices and the two dot products per
    row interleave, which hides the latency of the reductions (1.4-1.7x per
    voice here). Each voice's sums are taken in the same order as alone.
    """
    n = h0.shape[0]
    g = periods.shape[0]
    I = x0.shape[0]
    slowest = -1
    for i in range(g):
        if phase[i] != 0:
            continue
        slowest = i
        lo = offsets[i]
        hi = offsets[i + 1]
        if ok[i] == 0:
            t0 = h0[hi:]
            t1 = h1[hi:]
            for r in range(lo, hi):
                w = WH[r, hi:]
                a0 = np.float32(0.0)
                a1 = np.float32(0.0)
                for c in range(n - hi):
                    a0 += w[c] * t0[c]
                    a1 += w[c] * t1[c]
                S0[r] = a0
                S1[r] = a1
            ok[i] = 1
        own0 = h0[lo:hi]
        own1 = h1[lo:hi]
        for r in range(lo, hi):
            w = WH[r, lo:hi]
            a0 = bH[r] + S0[r]
            a1 = bH[r] + S1[r]
            for k in range(I):
                a0 += WI[r, k] * x0[k]
                a1 += WI[r, k] * x1[k]
            for c in range(hi - lo):
                a0 += w[c] * own0[c]
                a1 += w[c] * own1[c]
            s0[r] = a0
            s1[r] = a1
    for i in range(g):
        if phase[i] == 0:
            activate(h0, s0, offsets[i], offsets[i + 1])
            activate(h1, s1, offsets[i], offsets[i + 1])
    advance_clock(phase, periods, ok, slowest)


@njit(inline="always", fastmath=FASTMATH)
def read_out(hb, WO, bO, act, out):
    """``out = f_O(W_O h + b_O)`` for one voice."""
    n = hb.shape[0]
    for o in range(bO.shape[0]):
        w = WO[o]
        acc = bO[o]
        for c in range(n):
            acc += w[c] * hb[c]
        if act == ACT_TANH:
            acc = fast_tanh(acc)
        out[o] = acc


@njit(inline="always", fastmath=FASTMATH)
def read_pair(h0, h1, WO, bO, act, out0, out1):
    """:func:`read_out` for two voices, each weight loaded once."""
    n = h0.shape[0]
    for o in range(bO.shape[0]):
        w = WO[o]
        a0 = bO[o]
        a1 = bO[o]
        for c in range(n):
            a0 += w[c] * h0[c]
            a1 += w[c] * h1[c]
        if act == ACT_TANH:
            a0 = fast_tanh(a0)
            a1 = fast_tanh(a1)
        out0[o] = a0
        out1[o] = a1


@njit(nogil=True, cache=True, fastmath=FASTMATH, error_model="numpy")
def forward_kernel(x, h, t, S, S_ok, WH, WI, bH, WO, bO, offsets, periods, act, y, scratch, phase):
    """Advance ``B`` voices by ``T`` steps, in place.

    x (B, T, I) float32 inputs; h (B, n) float32 and t (B,) int64 state, updated;
    y (B, T, O) float32 outputs, written. WH (n, n), WI (n, I), WO (O, n) row-major.
    S (B, n) float32 and S_ok (B, g) uint8: the slow-input caches of
    :func:`step_state`; callers set S_ok to 0 whenever they replace ``h``.
    scratch (2, n) float32 and phase (g,) int64 are work space. Neighbouring
    voices at the same step (stereo channels, voices started together) run
    as pairs through :func:`step_pair`.
    """
    B, T, _ = x.shape
    g = periods.shape[0]
    b = 0
    while b < B:
        init_phase(phase, t[b], periods)
        if b + 1 < B and t[b + 1] == t[b]:
            ok = S_ok[b]
            for i in range(g):
                ok[i] &= S_ok[b + 1, i]
            x0, x1, h0, h1, y0, y1 = x[b], x[b + 1], h[b], h[b + 1], y[b], y[b + 1]
            S0, S1, s0, s1 = S[b], S[b + 1], scratch[0], scratch[1]
            for s in range(T):
                step_pair(x0[s], x1[s], h0, h1, S0, S1, ok, phase, WH, WI, bH, offsets, periods, s0, s1)
                read_pair(h0, h1, WO, bO, act, y0[s], y1[s])
            S_ok[b + 1, :] = ok
            t[b] += T
            t[b + 1] += T
            b += 2
            continue
        xb, hb, Sb, okb, yb = x[b], h[b], S[b], S_ok[b], y[b]  # views made once, not per sample
        for s in range(T):
            step_state(xb[s], hb, Sb, okb, phase, WH, WI, bH, offsets, periods, scratch[0])
            read_out(hb, WO, bO, act, yb[s])
        t[b] += T
        b += 1
