"""Population training with the networks in SIMD lanes.

Same signatures and semantics as :func:`population.train_cwrnn_population`
and :func:`population.train_lstm_population`, but the networks of a
population advance together: each block of ``L`` networks is transposed
to a lane-major layout (parameters ``(D, L)``, states ``(T+1, n, L)``)
so every inner arithmetic loop runs over the lane index on contiguous memory,
in vector instructions (explicit 8-float vectors for the matrix products,
LLVM's loop vectoriser for the rest; parameters are float32). Blocks run on
threads (the block kernels release the GIL). The clock (periods) is shared by the population,
so the active-module test is too; clipping and the optimiser step are per
lane (per network, each with its own hyper-parameters), with the formulas of
optim.py. The last block is padded with zero networks whose results are
dropped; lanes never interact, so padding changes nothing.

Results agree with the one-network-per-thread kernels to float32 rounding
(sums are taken in another order), not necessarily bit for bit. ``lanes=``
picks the block width; the default is :func:`lane_width`.
"""

from concurrent.futures import ThreadPoolExecutor

import numpy as np
from llvmlite import ir
from numba import get_num_threads, njit, types
from numba.core import cgutils
from numba.extending import intrinsic, models, register_model

from ..errors import ParameterError, ParameterTypeError
from .forward import ACT_TANH, FASTMATH, fast_tanh
from .optim import HP_BETA1, HP_BETA2, HP_CLIP, HP_EPS, HP_LR, HP_MOMENTUM, HP_NESTEROV, SGD

# The O(n^2) loops (recurrent matrix-vector products, their backward) use explicit
# 8-float vectors: LLVM's loop vectoriser gave each short lane loop its own
# set-up (alias checks, a remainder loop) and kept the running sum in memory,
# so blocks ran at about 20 GFLOP/s per core and a width that was not a
# multiple of 32 paid for its remainder (100 lanes cost as much as 128). With
# the sums in vector registers the same loops run at about 30 GFLOP/s (limited
# by streaming the block's weights from L2), and any multiple of 8 lanes costs
# in proportion to its width. The remaining O(n) lane loops stay with LLVM.
VEC = 8  # float32 per vector (AVX2 ymm)
_LV = ir.VectorType(ir.FloatType(), VEC)


class _F32Vec(types.Type):
    def __init__(self):
        super().__init__(name="cwrnn_f32x8")


_F32VEC = _F32Vec()


@register_model(_F32Vec)
class _F32VecModel(models.PrimitiveModel):
    def __init__(self, dmm, fe_type):
        super().__init__(dmm, fe_type, _LV)


def _lanes_array(a):
    return isinstance(a, types.Array) and a.dtype == types.float32 and a.layout == "C"


def _vec_pointer(context, builder, aty, arr, k):
    data = context.make_array(aty)(context, builder, arr).data
    return builder.bitcast(builder.gep(data, [k]), _LV.as_pointer())


@intrinsic
def _vload(typingctx, arr, k):
    """The 8 floats at flat index ``k`` of a C-contiguous float32 array, as one vector.

    No bounds check (like Numba's own indexing): the callers' indices come from
    the block's shapes."""
    if not (_lanes_array(arr) and isinstance(k, types.Integer)):
        return None

    def codegen(context, builder, sig, args):
        return builder.load(_vec_pointer(context, builder, sig.args[0], args[0], args[1]), align=4)

    return _F32VEC(arr, k), codegen


@intrinsic
def _vstore(typingctx, arr, k, v):
    """Store vector ``v`` at flat index ``k`` of a C-contiguous float32 array."""
    if not (_lanes_array(arr) and isinstance(k, types.Integer) and v == _F32VEC):
        return None

    def codegen(context, builder, sig, args):
        builder.store(args[2], _vec_pointer(context, builder, sig.args[0], args[0], args[1]), align=4)
        return context.get_dummy_value()

    return types.void(arr, k, v), codegen


@intrinsic
def _vfma(typingctx, a, b, c):
    """``a * b + c``, fused, lane by lane."""
    if not (a == b == c == _F32VEC):
        return None

    def codegen(context, builder, sig, args):
        fma = cgutils.get_or_insert_function(
            builder.module, ir.FunctionType(_LV, [_LV] * 3), "llvm.fma.v8f32"
        )
        return builder.call(fma, list(args))

    return _F32VEC(a, b, c), codegen


@njit(inline="always")
def _dot_rows(A, a0, B, b0, count, out, o0, L):
    """``out[o0 + l] += sum_i A[a0 + i L + l] * B[b0 + i L + l]`` over ``i < count``, for ``l < L``.

    Flat indices into C-contiguous float32 arrays whose rows are ``L`` lanes
    (a multiple of VEC): lane by lane, the dot product of ``count``
    consecutive rows of A and B, summed in order of ``i`` (so a lane's bits do
    not depend on where it sits in the block). Four vectors at a time keep
    four independent sums in flight.
    """
    l0 = 0
    while l0 + 4 * VEC <= L:
        o = o0 + l0
        s0 = _vload(out, o)
        s1 = _vload(out, o + VEC)
        s2 = _vload(out, o + 2 * VEC)
        s3 = _vload(out, o + 3 * VEC)
        for i in range(count):
            p = a0 + i * L + l0
            q = b0 + i * L + l0
            s0 = _vfma(_vload(A, p), _vload(B, q), s0)
            s1 = _vfma(_vload(A, p + VEC), _vload(B, q + VEC), s1)
            s2 = _vfma(_vload(A, p + 2 * VEC), _vload(B, q + 2 * VEC), s2)
            s3 = _vfma(_vload(A, p + 3 * VEC), _vload(B, q + 3 * VEC), s3)
        _vstore(out, o, s0)
        _vstore(out, o + VEC, s1)
        _vstore(out, o + 2 * VEC, s2)
        _vstore(out, o + 3 * VEC, s3)
        l0 += 4 * VEC
    while l0 < L:
        s = _vload(out, o0 + l0)
        for i in range(count):
            s = _vfma(_vload(A, a0 + i * L + l0), _vload(B, b0 + i * L + l0), s)
        _vstore(out, o0 + l0, s)
        l0 += VEC


@njit(inline="always")
def _row_backward(W, WG, w0, H, h0, D, d0, dh, e0, count, L):
    """One weight row's backward, for ``c < count`` and ``l < L`` with ``d = D[d0 + l]``:
    ``WG[w0 + c L + l] += d * H[h0 + c L + l]`` (its gradient) and
    ``dh[e0 + c L + l] += W[w0 + c L + l] * d`` (the error sent back to the state).
    Flat indices as in :func:`_dot_rows`; ``d`` stays in registers."""
    l0 = 0
    while l0 + 4 * VEC <= L:
        d0v = _vload(D, d0 + l0)
        d1v = _vload(D, d0 + l0 + VEC)
        d2v = _vload(D, d0 + l0 + 2 * VEC)
        d3v = _vload(D, d0 + l0 + 3 * VEC)
        for c in range(count):
            w = w0 + c * L + l0
            h = h0 + c * L + l0
            e = e0 + c * L + l0
            _vstore(WG, w, _vfma(d0v, _vload(H, h), _vload(WG, w)))
            _vstore(WG, w + VEC, _vfma(d1v, _vload(H, h + VEC), _vload(WG, w + VEC)))
            _vstore(WG, w + 2 * VEC, _vfma(d2v, _vload(H, h + 2 * VEC), _vload(WG, w + 2 * VEC)))
            _vstore(WG, w + 3 * VEC, _vfma(d3v, _vload(H, h + 3 * VEC), _vload(WG, w + 3 * VEC)))
            _vstore(dh, e, _vfma(_vload(W, w), d0v, _vload(dh, e)))
            _vstore(dh, e + VEC, _vfma(_vload(W, w + VEC), d1v, _vload(dh, e + VEC)))
            _vstore(dh, e + 2 * VEC, _vfma(_vload(W, w + 2 * VEC), d2v, _vload(dh, e + 2 * VEC)))
            _vstore(dh, e + 3 * VEC, _vfma(_vload(W, w + 3 * VEC), d3v, _vload(dh, e + 3 * VEC)))
        l0 += 4 * VEC
    while l0 < L:
        dv = _vload(D, d0 + l0)
        for c in range(count):
            w = w0 + c * L + l0
            h = h0 + c * L + l0
            e = e0 + c * L + l0
            _vstore(WG, w, _vfma(dv, _vload(H, h), _vload(WG, w)))
            _vstore(dh, e, _vfma(_vload(W, w), dv, _vload(dh, e)))
        l0 += VEC


# Networks per block (lanes): by default the population split evenly over the
# threads, rounded up to a multiple of the vector width, at most MAX_LANES.
# The width is a run-time value: with a compile-time constant LLVM fully
# unrolled the remaining short lane loops before vectorising them, and Numba
# leaves the SLP vectoriser off, so they stayed scalar. Up to 64 lanes a
# block's weights and gradients stay in L2; beyond, the cost per network rose
# by 40 % (the 1000-parameter SRN, one core: 0.059 ms a network-epoch at 56-64
# lanes, 0.064 at 32, 0.081 at 96, 0.086 at 128).
LANE_ALIGN = VEC
MAX_LANES = 64


@njit(nogil=True)
def _gather(src, dst, p0):
    """dst (D, L) <- src[p0 : p0 + L] (P, D) transposed; missing networks are zeros."""
    L = dst.shape[1]
    P = src.shape[0]
    dst[:, :] = 0.0
    for l in range(L):
        p = p0 + l
        if p < P:
            row = src[p]
            for i in range(row.shape[0]):
                dst[i, l] = row[i]


@njit(nogil=True)
def _scatter(src, dst, p0):
    """dst[p0 : p0 + L] (P, D) <- src (D, L) transposed, real networks only."""
    L = src.shape[1]
    P = dst.shape[0]
    for l in range(L):
        p = p0 + l
        if p < P:
            row = dst[p]
            for i in range(row.shape[0]):
                row[i] = src[i, l]


@njit(nogil=True)
def _gather_seq(src, dst, p0):
    """dst (S, T, K, L) <- src[p0 : p0 + L] (P, S, T, K); missing networks are zeros."""
    L = dst.shape[3]
    P, S, T, K = src.shape
    dst[:, :, :, :] = 0.0
    for l in range(L):
        p = p0 + l
        if p < P:
            for s in range(S):
                for t in range(T):
                    for k in range(K):
                        dst[s, t, k, l] = src[p, s, t, k]


# The lane loops index the 2-D / 3-D arrays directly rather than through row
# views (``w = th[i]``); both measured the same here, direct indexing keeps
# reference counting out of the hot loops.


@njit(nogil=True, fastmath=FASTMATH, error_model="numpy")
def _readout_loss(H, t, th, oWO, obO, n, O, act, tgt, loss_scale, dy, acc, loss):
    """Lane version of readout_grad.readout_loss for state ``H[t]``; adds each lane's loss to ``loss`` (L,) float64."""
    L = acc.shape[0]
    for q in range(O):
        for l in range(L):
            acc[l] = th[obO + q, l]
        for c in range(n):
            i = oWO + q * n + c
            for l in range(L):
                acc[l] += th[i, l] * H[t, c, l]
        for l in range(L):
            a = acc[l]
            if act == ACT_TANH:
                a = fast_tanh(a)
            err = a - tgt[t - 1, q, l]
            loss[l] += loss_scale * err * err
            dd = 2.0 * loss_scale * err
            if act == ACT_TANH:
                dd *= 1.0 - a * a
            dy[t - 1, q, l] = dd


@njit(nogil=True, fastmath=FASTMATH, error_model="numpy")
def _readout_backward(H, t, th, gr, oWO, obO, n, O, dy, dh):
    """Lane version of readout_grad.readout_backward for state ``H[t]`` and error ``dy[t - 1]``."""
    L = dh.shape[1]
    for q in range(O):
        for l in range(L):
            gr[obO + q, l] += dy[t - 1, q, l]
        for c in range(n):
            i = oWO + q * n + c
            for l in range(L):
                d = dy[t - 1, q, l]
                gr[i, l] += d * H[t, c, l]
                dh[c, l] += th[i, l] * d


@njit(nogil=True, fastmath=FASTMATH, error_model="numpy")
def _cwrnn_loss_grad(th, gr, x, tgt, n, offsets, periods, act, loss_scale, H, dy, dh, dpre, acc, loss):
    """Lane version of bptt_cwrnn.cwrnn_loss_grad from the zero state at step 0.

    th, gr (D, L); x (T, I, L); tgt (T, O, L); H (T+1, n, L); dy (T, O, L);
    dh, dpre (n, L); acc (L,). Adds each lane's loss to ``loss`` (L,).
    """
    L = th.shape[1]
    T, I = x.shape[0], x.shape[1]
    O = tgt.shape[1]
    g = periods.shape[0]
    oWI = n * n
    obH = oWI + n * I
    oWO = obH + n
    obO = oWO + O * n
    gr[:, :] = 0.0
    H[0, :, :] = 0.0
    for t in range(T):
        for r in range(n):
            for l in range(L):
                H[t + 1, r, l] = H[t, r, l]
        for i in range(g):
            if t % periods[i] != 0:
                continue
            lo = offsets[i]
            for r in range(lo, offsets[i + 1]):
                for l in range(L):
                    acc[l] = th[obH + r, l]
                for k in range(I):
                    j = oWI + r * I + k
                    for l in range(L):
                        acc[l] += th[j, l] * x[t, k, l]
                _dot_rows(th, (r * n + lo) * L, H, (t * n + lo) * L, n - lo, acc, 0, L)
                for l in range(L):
                    H[t + 1, r, l] = fast_tanh(acc[l])
        _readout_loss(H, t + 1, th, oWO, obO, n, O, act, tgt, loss_scale, dy, acc, loss)

    dh[:, :] = 0.0
    for t in range(T - 1, -1, -1):
        _readout_backward(H, t + 1, th, gr, oWO, obO, n, O, dy, dh)
        for i in range(g):
            if t % periods[i] != 0:
                continue
            for r in range(offsets[i], offsets[i + 1]):
                for l in range(L):
                    h = H[t + 1, r, l]
                    dpre[r, l] = dh[r, l] * (1.0 - h * h)
                    dh[r, l] = 0.0
        for i in range(g):
            if t % periods[i] != 0:
                continue
            lo = offsets[i]
            for r in range(lo, offsets[i + 1]):
                for l in range(L):
                    gr[obH + r, l] += dpre[r, l]
                for k in range(I):
                    j = oWI + r * I + k
                    for l in range(L):
                        gr[j, l] += dpre[r, l] * x[t, k, l]
                _row_backward(
                    th, gr, (r * n + lo) * L, H, (t * n + lo) * L, dpre, r * L, dh, lo * L, n - lo, L
                )


@njit(inline="always")
def _sigmoid(x):
    return 0.5 + 0.5 * fast_tanh(0.5 * x)


@njit(nogil=True, fastmath=FASTMATH, error_model="numpy")
def _lstm_loss_grad(th, gr, x, tgt, Hn, act, loss_scale, Hs, Cs, G, TC, dy, dh, dc, dz, acc, loss):
    """Lane version of bptt_lstm.lstm_loss_grad from the zero state.

    th, gr (D, L); x (T, I, L); tgt (T, O, L); Hs, Cs (T+1, Hn, L);
    G (T, 4Hn, L); TC (T, Hn, L); dy (T, O, L); dh, dc (Hn, L); dz (4Hn, L).
    """
    L = th.shape[1]
    T, I = x.shape[0], x.shape[1]
    O = tgt.shape[1]
    G4 = 4 * Hn
    o1 = G4 * I
    o2 = o1 + G4 * Hn
    oWO = o2 + G4
    obO = oWO + O * Hn
    gr[:, :] = 0.0
    Hs[0, :, :] = 0.0
    Cs[0, :, :] = 0.0
    for t in range(T):
        for r in range(G4):
            for l in range(L):
                G[t, r, l] = th[o2 + r, l]
            for k in range(I):
                j = r * I + k
                for l in range(L):
                    G[t, r, l] += th[j, l] * x[t, k, l]
            _dot_rows(th, (o1 + r * Hn) * L, Hs, t * Hn * L, Hn, G, (t * G4 + r) * L, L)
        for q in range(Hn):
            for l in range(L):
                ig = _sigmoid(G[t, q, l])
                fg = _sigmoid(G[t, Hn + q, l])
                gg = fast_tanh(G[t, 2 * Hn + q, l])
                og = _sigmoid(G[t, 3 * Hn + q, l])
                G[t, q, l] = ig
                G[t, Hn + q, l] = fg
                G[t, 2 * Hn + q, l] = gg
                G[t, 3 * Hn + q, l] = og
                cc = fg * Cs[t, q, l] + ig * gg
                Cs[t + 1, q, l] = cc
                tt = fast_tanh(cc)
                TC[t, q, l] = tt
                Hs[t + 1, q, l] = og * tt
        _readout_loss(Hs, t + 1, th, oWO, obO, Hn, O, act, tgt, loss_scale, dy, acc, loss)

    dh[:, :] = 0.0
    dc[:, :] = 0.0
    for t in range(T - 1, -1, -1):
        _readout_backward(Hs, t + 1, th, gr, oWO, obO, Hn, O, dy, dh)
        for q in range(Hn):
            for l in range(L):
                ig = G[t, q, l]
                fg = G[t, Hn + q, l]
                gg = G[t, 2 * Hn + q, l]
                og = G[t, 3 * Hn + q, l]
                tt = TC[t, q, l]
                d = dc[q, l] + dh[q, l] * og * (1.0 - tt * tt)
                dz[q, l] = d * gg * ig * (1.0 - ig)
                dz[Hn + q, l] = d * Cs[t, q, l] * fg * (1.0 - fg)
                dz[2 * Hn + q, l] = d * ig * (1.0 - gg * gg)
                dz[3 * Hn + q, l] = dh[q, l] * tt * og * (1.0 - og)
                dc[q, l] = d * fg
        dh[:, :] = 0.0
        for r in range(G4):
            for l in range(L):
                gr[o2 + r, l] += dz[r, l]
            for k in range(I):
                j = r * I + k
                for l in range(L):
                    gr[j, l] += dz[r, l] * x[t, k, l]
            _row_backward(th, gr, (o1 + r * Hn) * L, Hs, t * Hn * L, dz, r * L, dh, 0, Hn, L)


@njit(nogil=True, error_model="numpy")
def _clip_update(th, gr, m1, m2, st, kind, hp, norm, coef):
    """optim.clip_grad_norm then optim.apply_update, per lane; every lane has its own
    hyper-parameters ``hp`` (7, L) (a search trains many settings in one population);
    ``st`` (L,) counts steps."""
    D, L = th.shape
    for l in range(L):
        st[l] += 1
    norm[:] = 0.0
    for i in range(D):
        for l in range(L):
            g = gr[i, l]
            norm[l] += g * g
    for l in range(L):
        max_norm = hp[HP_CLIP, l]
        c = max_norm / (np.sqrt(norm[l]) + 1e-6)
        coef[l] = c if max_norm > 0.0 and c < 1.0 else 1.0
    for i in range(D):
        for l in range(L):
            gr[i, l] *= coef[l]
    if kind == SGD:
        for i in range(D):
            for l in range(L):
                g = gr[i, l]
                mu = hp[HP_MOMENTUM, l]
                if mu != 0.0:
                    m1[i, l] = g if st[l] == 1 else mu * m1[i, l] + g
                    g = g + mu * m1[i, l] if hp[HP_NESTEROV, l] != 0.0 else m1[i, l]
                th[i, l] -= hp[HP_LR, l] * g
    else:
        for l in range(L):
            norm[l] = hp[HP_LR, l] / (1.0 - hp[HP_BETA1, l] ** st[l])  # lr / c1
            coef[l] = np.sqrt(1.0 - hp[HP_BETA2, l] ** st[l])  # c2
        for i in range(D):
            for l in range(L):
                b1, b2, g = hp[HP_BETA1, l], hp[HP_BETA2, l], gr[i, l]
                m1[i, l] = b1 * m1[i, l] + (1.0 - b1) * g
                m2[i, l] = b2 * m2[i, l] + (1.0 - b2) * g * g
                th[i, l] -= norm[l] * m1[i, l] / (np.sqrt(m2[i, l]) / coef[l] + hp[HP_EPS, l])


@njit(nogil=True, cache=True)
def _load_block(theta, m1, m2, steps, x, target, hp, p0, L):
    """Networks ``p0 .. p0 + L - 1`` in lane-major copies: parameters, moments, steps, sequences
    and hyper-parameters (padding lanes take the first network's, so they stay finite)."""
    P, D = theta.shape
    S, T, I = x.shape[1], x.shape[2], x.shape[3]
    th = np.empty((D, L), theta.dtype)
    a1 = np.empty((D, L), theta.dtype)
    a2 = np.empty((D, L), theta.dtype)
    _gather(theta, th, p0)
    _gather(m1, a1, p0)
    _gather(m2, a2, p0)
    st = np.zeros(L, np.int64)
    for l in range(L):
        if p0 + l < P:
            st[l] = steps[p0 + l]
    xb = np.empty((S, T, I, L), x.dtype)
    tb = np.empty((S, T, target.shape[3], L), target.dtype)
    _gather_seq(x, xb, p0)
    _gather_seq(target, tb, p0)
    hb = np.empty((hp.shape[1], L), hp.dtype)
    for l in range(L):
        row = hp[min(p0 + l, P - 1)]
        for k in range(hp.shape[1]):
            hb[k, l] = row[k]
    return th, a1, a2, st, xb, tb, hb


@njit(nogil=True, cache=True)
def _store_block(th, a1, a2, st, theta, m1, m2, steps, p0):
    """The trained lanes back into the networks that exist (the padding is dropped)."""
    _scatter(th, theta, p0)
    _scatter(a1, m1, p0)
    _scatter(a2, m2, p0)
    for l in range(st.shape[0]):
        if p0 + l < theta.shape[0]:
            steps[p0 + l] = st[l]


@njit(nogil=True, cache=True, fastmath=FASTMATH, error_model="numpy")
def _cwrnn_block(
    theta, m1, m2, steps, x, target, epochs, n, offsets, periods, act, loss_scale, kind, hp, losses, p0, L
):
    """Train networks ``p0 .. p0 + L - 1`` (those that exist) for ``epochs``, in ``L`` lanes."""
    P, D = theta.shape
    S, T = x.shape[1], x.shape[2]
    O = target.shape[3]
    dt = theta.dtype
    th, a1, a2, st, xb, tb, hb = _load_block(theta, m1, m2, steps, x, target, hp, p0, L)
    grad = np.zeros((D, L), dt)
    total = np.zeros((D, L), dt)
    H = np.zeros((T + 1, n, L), dt)
    dy = np.zeros((T, O, L), dt)
    dh = np.zeros((n, L), dt)
    dpre = np.zeros((n, L), dt)
    acc = np.zeros(L, dt)
    loss = np.zeros(L)
    seq = np.zeros(L)
    norm = np.zeros(L)
    coef = np.zeros(L)
    for e in range(epochs):
        total[:, :] = 0.0
        loss[:] = 0.0
        for s in range(S):
            seq[:] = 0.0
            _cwrnn_loss_grad(
                th, grad, xb[s], tb[s], n, offsets, periods, act, loss_scale, H, dy, dh, dpre, acc, seq
            )
            _add_lanes(total, grad, loss, seq)
        for l in range(L):
            if p0 + l < P:
                losses[p0 + l, e] = loss[l]
        _clip_update(th, total, a1, a2, st, kind, hb, norm, coef)
    _store_block(th, a1, a2, st, theta, m1, m2, steps, p0)


@njit(nogil=True, cache=True, fastmath=FASTMATH, error_model="numpy")
def _lstm_block(theta, m1, m2, steps, x, target, epochs, Hn, act, loss_scale, kind, hp, losses, p0, L):
    """As :func:`_cwrnn_block`, for LSTMs of ``Hn`` cells."""
    P, D = theta.shape
    S, T = x.shape[1], x.shape[2]
    O = target.shape[3]
    dt = theta.dtype
    th, a1, a2, st, xb, tb, hb = _load_block(theta, m1, m2, steps, x, target, hp, p0, L)
    grad = np.zeros((D, L), dt)
    total = np.zeros((D, L), dt)
    Hs = np.zeros((T + 1, Hn, L), dt)
    Cs = np.zeros((T + 1, Hn, L), dt)
    G = np.zeros((T, 4 * Hn, L), dt)
    TC = np.zeros((T, Hn, L), dt)
    dy = np.zeros((T, O, L), dt)
    dh = np.zeros((Hn, L), dt)
    dc = np.zeros((Hn, L), dt)
    dz = np.zeros((4 * Hn, L), dt)
    acc = np.zeros(L, dt)
    loss = np.zeros(L)
    seq = np.zeros(L)
    norm = np.zeros(L)
    coef = np.zeros(L)
    for e in range(epochs):
        total[:, :] = 0.0
        loss[:] = 0.0
        for s in range(S):
            seq[:] = 0.0
            _lstm_loss_grad(
                th, grad, xb[s], tb[s], Hn, act, loss_scale, Hs, Cs, G, TC, dy, dh, dc, dz, acc, seq
            )
            _add_lanes(total, grad, loss, seq)
        for l in range(L):
            if p0 + l < P:
                losses[p0 + l, e] = loss[l]
        _clip_update(th, total, a1, a2, st, kind, hb, norm, coef)
    _store_block(th, a1, a2, st, theta, m1, m2, steps, p0)


@njit(nogil=True, fastmath=FASTMATH)
def _add_lanes(total, grad, loss, seq):
    """One sequence's share of the epoch: gradient and loss, as the population kernels sum them."""
    D, L = total.shape
    for i in range(D):
        for l in range(L):
            total[i, l] += grad[i, l]
    for l in range(L):
        loss[l] += seq[l]


def lane_width(P: int, threads: int | None = None) -> int:
    """Networks per block: the population split evenly over the threads, rounded up to ``LANE_ALIGN``, at most ``MAX_LANES``."""
    threads = get_num_threads() if threads is None else threads
    per = -(-P // max(1, threads))
    return max(LANE_ALIGN, min(MAX_LANES, -(-per // LANE_ALIGN) * LANE_ALIGN))


def _run_blocks(block, theta, args, lanes):
    """Run ``block(*args, p0, L)`` for every block of ``L`` networks, on Numba's thread count of threads.

    The block kernels release the GIL, so plain threads run them in parallel. A
    ``parallel=True`` wrapper with ``prange`` did the same but doubled the cold
    compile time (Numba compiles the whole call tree again inside it).
    """
    if theta.dtype != np.float32:
        raise ParameterTypeError(f"theta: expected float32 parameters, got {theta.dtype}")
    L = lane_width(theta.shape[0]) if lanes is None else int(lanes)
    if L <= 0 or L % VEC:
        raise ParameterError(f"lanes={lanes!r}: expected a positive multiple of {VEC}")
    starts = range(0, theta.shape[0], L)
    workers = min(get_num_threads(), len(starts))
    if workers <= 1:
        for p0 in starts:
            block(*args, p0, L)
        return
    with ThreadPoolExecutor(workers) as pool:
        for f in [pool.submit(block, *args, p0, L) for p0 in starts]:
            f.result()


def train_cwrnn_lanes(
    theta,
    m1,
    m2,
    steps,
    x,
    target,
    epochs,
    n,
    offsets,
    periods,
    act,
    loss_scale,
    kind,
    hp,
    losses,
    lanes=None,
):
    """As population.train_cwrnn_population, in place: theta, m1, m2 (P, D); steps (P,) int64;
    x (P, S, T, I); target (P, S, T, O); hp (P, 7) per network; losses (P, epochs)."""
    args = (
        theta,
        m1,
        m2,
        steps,
        x,
        target,
        int(epochs),
        int(n),
        offsets,
        periods,
        int(act),
        float(loss_scale),
    )
    _run_blocks(_cwrnn_block, theta, (*args, int(kind), hp, losses), lanes)


def train_lstm_lanes(
    theta, m1, m2, steps, x, target, epochs, Hn, act, loss_scale, kind, hp, losses, lanes=None
):
    """As population.train_lstm_population, for LSTMs of ``Hn`` cells."""
    args = (
        theta,
        m1,
        m2,
        steps,
        x,
        target,
        int(epochs),
        int(Hn),
        int(act),
        float(loss_scale),
        int(kind),
        hp,
        losses,
    )
    _run_blocks(_lstm_block, theta, args, lanes)
