"""Population training with the networks in SIMD lanes.

Same signatures and semantics as :func:`population.train_cwrnn_population`
and :func:`population.train_lstm_population`, but the networks of a
population advance together: each block of ``LANES`` networks is transposed
to a lane-major layout (parameters ``(D, LANES)``, states ``(T+1, n, LANES)``)
so every inner arithmetic loop runs over the lane index on contiguous memory
and LLVM turns it into vector instructions. Blocks run on threads (the block
kernels release the GIL). The clock (periods) is shared by the population,
so the active-module test is too; clipping and the optimiser step are per
lane (per network), with the formulas of optim.py. The last block is padded
with zero networks whose results are dropped; lanes never interact, so
padding changes nothing.

Results agree with the one-network-per-thread kernels to float32 rounding
(sums are taken in another order), not bit for bit.
"""

from concurrent.futures import ThreadPoolExecutor

import numpy as np
from numba import get_num_threads, njit

from .forward import ACT_TANH, FASTMATH, fast_tanh
from .optim import HP_BETA1, HP_BETA2, HP_CLIP, HP_EPS, HP_LR, HP_MOMENTUM, HP_NESTEROV, SGD

# networks per block: a compile-time constant, so the lane loops are fully
# unrolled into vector instructions (8 float32 = one AVX2 register)
LANES = 16


@njit(nogil=True)
def _gather(src, dst, p0):
    """dst (D, L) <- src[p0 : p0 + L] (P, D) transposed; missing networks are zeros."""
    P = src.shape[0]
    dst[:, :] = 0.0
    for l in range(LANES):
        p = p0 + l
        if p < P:
            row = src[p]
            for i in range(row.shape[0]):
                dst[i, l] = row[i]


@njit(nogil=True)
def _scatter(src, dst, p0):
    """dst[p0 : p0 + L] (P, D) <- src (D, L) transposed, real networks only."""
    P = dst.shape[0]
    for l in range(LANES):
        p = p0 + l
        if p < P:
            row = dst[p]
            for i in range(row.shape[0]):
                row[i] = src[i, l]


@njit(nogil=True)
def _gather_seq(src, dst, p0):
    """dst (S, T, K, L) <- src[p0 : p0 + L] (P, S, T, K); missing networks are zeros."""
    P, S, T, K = src.shape
    dst[:, :, :, :] = 0.0
    for l in range(LANES):
        p = p0 + l
        if p < P:
            for s in range(S):
                for t in range(T):
                    for k in range(K):
                        dst[s, t, k, l] = src[p, s, t, k]


@njit(nogil=True, fastmath=FASTMATH, error_model="numpy")
def _readout_loss(hn, th, oWO, obO, n, O, act, tgt, loss_scale, dy, acc, loss):
    """Lane version of readout_grad.readout_loss; adds each lane's loss to ``loss`` (L,) float64."""
    for q in range(O):
        acc[:] = th[obO + q]
        for c in range(n):
            w = th[oWO + q * n + c]
            h = hn[c]
            for l in range(LANES):
                acc[l] += w[l] * h[l]
        d = dy[q]
        tq = tgt[q]
        for l in range(LANES):
            a = acc[l]
            if act == ACT_TANH:
                a = fast_tanh(a)
            err = a - tq[l]
            loss[l] += loss_scale * err * err
            dd = 2.0 * loss_scale * err
            if act == ACT_TANH:
                dd *= 1.0 - a * a
            d[l] = dd


@njit(nogil=True, fastmath=FASTMATH, error_model="numpy")
def _readout_backward(hn, th, gr, oWO, obO, n, O, dy, dh):
    for q in range(O):
        d = dy[q]
        gb = gr[obO + q]
        for l in range(LANES):
            gb[l] += d[l]
        for c in range(n):
            w = th[oWO + q * n + c]
            gw = gr[oWO + q * n + c]
            h = hn[c]
            e = dh[c]
            for l in range(LANES):
                gw[l] += d[l] * h[l]
                e[l] += w[l] * d[l]


@njit(nogil=True, fastmath=FASTMATH, error_model="numpy")
def _cwrnn_loss_grad(th, gr, x, tgt, n, offsets, periods, act, loss_scale, H, dy, dh, dpre, acc, loss):
    """Lane version of bptt_cwrnn.cwrnn_loss_grad from the zero state at step 0.

    th, gr (D, L); x (T, I, L); tgt (T, O, L); H (T+1, n, L); dy (T, O, L);
    dh, dpre (n, L); acc (L,). Adds each lane's loss to ``loss`` (L,).
    """
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
        hp = H[t]
        hn = H[t + 1]
        hn[:, :] = hp
        for i in range(g):
            if t % periods[i] != 0:
                continue
            lo = offsets[i]
            for r in range(lo, offsets[i + 1]):
                acc[:] = th[obH + r]
                for k in range(I):
                    w = th[oWI + r * I + k]
                    xx = x[t, k]
                    for l in range(LANES):
                        acc[l] += w[l] * xx[l]
                base = r * n
                for c in range(lo, n):
                    w = th[base + c]
                    h = hp[c]
                    for l in range(LANES):
                        acc[l] += w[l] * h[l]
                out = hn[r]
                for l in range(LANES):
                    out[l] = fast_tanh(acc[l])
        _readout_loss(hn, th, oWO, obO, n, O, act, tgt[t], loss_scale, dy[t], acc, loss)

    dh[:, :] = 0.0
    for t in range(T - 1, -1, -1):
        hn = H[t + 1]
        hp = H[t]
        _readout_backward(hn, th, gr, oWO, obO, n, O, dy[t], dh)
        for i in range(g):
            if t % periods[i] != 0:
                continue
            for r in range(offsets[i], offsets[i + 1]):
                dp = dpre[r]
                e = dh[r]
                h = hn[r]
                for l in range(LANES):
                    dp[l] = e[l] * (1.0 - h[l] * h[l])
                    e[l] = 0.0
        for i in range(g):
            if t % periods[i] != 0:
                continue
            lo = offsets[i]
            for r in range(lo, offsets[i + 1]):
                d = dpre[r]
                gb = gr[obH + r]
                for l in range(LANES):
                    gb[l] += d[l]
                for k in range(I):
                    gw = gr[oWI + r * I + k]
                    xx = x[t, k]
                    for l in range(LANES):
                        gw[l] += d[l] * xx[l]
                base = r * n
                for c in range(lo, n):
                    w = th[base + c]
                    gw = gr[base + c]
                    h = hp[c]
                    e = dh[c]
                    for l in range(LANES):
                        gw[l] += d[l] * h[l]
                        e[l] += w[l] * d[l]


@njit(inline="always")
def _sigmoid(x):
    return 0.5 + 0.5 * fast_tanh(0.5 * x)


@njit(nogil=True, fastmath=FASTMATH, error_model="numpy")
def _lstm_loss_grad(th, gr, x, tgt, Hn, act, loss_scale, Hs, Cs, G, TC, dy, dh, dc, dz, acc, loss):
    """Lane version of bptt_lstm.lstm_loss_grad from the zero state.

    th, gr (D, L); x (T, I, L); tgt (T, O, L); Hs, Cs (T+1, Hn, L);
    G (T, 4Hn, L); TC (T, Hn, L); dy (T, O, L); dh, dc (Hn, L); dz (4Hn, L).
    """
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
        hp = Hs[t]
        z = G[t]
        for r in range(G4):
            a = z[r]
            a[:] = th[o2 + r]
            for k in range(I):
                w = th[r * I + k]
                xx = x[t, k]
                for l in range(LANES):
                    a[l] += w[l] * xx[l]
            base = o1 + r * Hn
            for c in range(Hn):
                w = th[base + c]
                h = hp[c]
                for l in range(LANES):
                    a[l] += w[l] * h[l]
        cp = Cs[t]
        cn = Cs[t + 1]
        hn = Hs[t + 1]
        tc = TC[t]
        for j in range(Hn):
            zi, zf, zg, zo = z[j], z[Hn + j], z[2 * Hn + j], z[3 * Hn + j]
            cpj, cnj, hnj, tcj = cp[j], cn[j], hn[j], tc[j]
            for l in range(LANES):
                ig = _sigmoid(zi[l])
                fg = _sigmoid(zf[l])
                gg = fast_tanh(zg[l])
                og = _sigmoid(zo[l])
                zi[l], zf[l], zg[l], zo[l] = ig, fg, gg, og
                cc = fg * cpj[l] + ig * gg
                cnj[l] = cc
                tt = fast_tanh(cc)
                tcj[l] = tt
                hnj[l] = og * tt
        _readout_loss(hn, th, oWO, obO, Hn, O, act, tgt[t], loss_scale, dy[t], acc, loss)

    dh[:, :] = 0.0
    dc[:, :] = 0.0
    for t in range(T - 1, -1, -1):
        hn = Hs[t + 1]
        hp = Hs[t]
        cp = Cs[t]
        z = G[t]
        tc = TC[t]
        _readout_backward(hn, th, gr, oWO, obO, Hn, O, dy[t], dh)
        for j in range(Hn):
            zi, zf, zg, zo = z[j], z[Hn + j], z[2 * Hn + j], z[3 * Hn + j]
            di, df, dg, do = dz[j], dz[Hn + j], dz[2 * Hn + j], dz[3 * Hn + j]
            dcj, dhj, tcj, cpj = dc[j], dh[j], tc[j], cp[j]
            for l in range(LANES):
                ig, fg, gg, og = zi[l], zf[l], zg[l], zo[l]
                tt = tcj[l]
                d = dcj[l] + dhj[l] * og * (1.0 - tt * tt)
                di[l] = d * gg * ig * (1.0 - ig)
                df[l] = d * cpj[l] * fg * (1.0 - fg)
                dg[l] = d * ig * (1.0 - gg * gg)
                do[l] = dhj[l] * tt * og * (1.0 - og)
                dcj[l] = d * fg
        dh[:, :] = 0.0
        for r in range(G4):
            d = dz[r]
            gb = gr[o2 + r]
            for l in range(LANES):
                gb[l] += d[l]
            for k in range(I):
                gw = gr[r * I + k]
                xx = x[t, k]
                for l in range(LANES):
                    gw[l] += d[l] * xx[l]
            base = o1 + r * Hn
            for c in range(Hn):
                w = th[base + c]
                gw = gr[base + c]
                h = hp[c]
                e = dh[c]
                for l in range(LANES):
                    gw[l] += d[l] * h[l]
                    e[l] += w[l] * d[l]


@njit(nogil=True, error_model="numpy")
def _clip_update(th, gr, m1, m2, st, kind, hp, norm, coef):
    """optim.clip_grad_norm then optim.apply_update, per lane; ``st`` (L,) counts steps."""
    D = th.shape[0]
    max_norm = hp[HP_CLIP]
    for l in range(LANES):
        st[l] += 1
    if max_norm > 0.0:
        norm[:] = 0.0
        for i in range(D):
            g = gr[i]
            for l in range(LANES):
                norm[l] += g[l] * g[l]
        for l in range(LANES):
            c = max_norm / (np.sqrt(norm[l]) + 1e-6)
            coef[l] = c if c < 1.0 else 1.0
        for i in range(D):
            g = gr[i]
            for l in range(LANES):
                g[l] *= coef[l]
    lr = hp[HP_LR]
    if kind == SGD:
        mu = hp[HP_MOMENTUM]
        nesterov = hp[HP_NESTEROV] != 0.0
        for i in range(D):
            g = gr[i]
            a = m1[i]
            w = th[i]
            for l in range(LANES):
                gl = g[l]
                if mu != 0.0:
                    a[l] = gl if st[l] == 1 else mu * a[l] + gl
                    gl = gl + mu * a[l] if nesterov else a[l]
                w[l] -= lr * gl
    else:
        b1, b2, eps = hp[HP_BETA1], hp[HP_BETA2], hp[HP_EPS]
        for l in range(LANES):
            norm[l] = lr / (1.0 - b1 ** st[l])  # lr / c1
            coef[l] = np.sqrt(1.0 - b2 ** st[l])  # c2
        for i in range(D):
            g = gr[i]
            a = m1[i]
            b = m2[i]
            w = th[i]
            for l in range(LANES):
                gl = g[l]
                a[l] = b1 * a[l] + (1.0 - b1) * gl
                b[l] = b2 * b[l] + (1.0 - b2) * gl * gl
                w[l] -= norm[l] * a[l] / (np.sqrt(b[l]) / coef[l] + eps)


@njit(nogil=True, cache=True, fastmath=FASTMATH, error_model="numpy")
def _cwrnn_block(
    theta, m1, m2, steps, x, target, epochs, n, offsets, periods, act, loss_scale, kind, hp, losses, p0
):
    """Train networks ``p0 .. p0 + LANES - 1`` (those that exist) for ``epochs``."""
    P, D = theta.shape
    S, T, I = x.shape[1], x.shape[2], x.shape[3]
    O = target.shape[3]
    L = LANES
    dt = theta.dtype
    th = np.empty((D, L), dt)
    a1 = np.empty((D, L), dt)
    a2 = np.empty((D, L), dt)
    _gather(theta, th, p0)
    _gather(m1, a1, p0)
    _gather(m2, a2, p0)
    st = np.zeros(L, np.int64)
    for l in range(L):
        if p0 + l < P:
            st[l] = steps[p0 + l]
    xb = np.empty((S, T, I, L), x.dtype)
    tb = np.empty((S, T, O, L), target.dtype)
    _gather_seq(x, xb, p0)
    _gather_seq(target, tb, p0)
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
        _clip_update(th, total, a1, a2, st, kind, hp, norm, coef)
    _scatter(th, theta, p0)
    _scatter(a1, m1, p0)
    _scatter(a2, m2, p0)
    for l in range(L):
        if p0 + l < P:
            steps[p0 + l] = st[l]


@njit(nogil=True, cache=True, fastmath=FASTMATH, error_model="numpy")
def _lstm_block(theta, m1, m2, steps, x, target, epochs, Hn, act, loss_scale, kind, hp, losses, p0):
    """As :func:`_cwrnn_block`, for LSTMs of ``Hn`` cells."""
    P, D = theta.shape
    S, T, I = x.shape[1], x.shape[2], x.shape[3]
    O = target.shape[3]
    L = LANES
    dt = theta.dtype
    th = np.empty((D, L), dt)
    a1 = np.empty((D, L), dt)
    a2 = np.empty((D, L), dt)
    _gather(theta, th, p0)
    _gather(m1, a1, p0)
    _gather(m2, a2, p0)
    st = np.zeros(L, np.int64)
    for l in range(L):
        if p0 + l < P:
            st[l] = steps[p0 + l]
    xb = np.empty((S, T, I, L), x.dtype)
    tb = np.empty((S, T, O, L), target.dtype)
    _gather_seq(x, xb, p0)
    _gather_seq(target, tb, p0)
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
        _clip_update(th, total, a1, a2, st, kind, hp, norm, coef)
    _scatter(th, theta, p0)
    _scatter(a1, m1, p0)
    _scatter(a2, m2, p0)
    for l in range(L):
        if p0 + l < P:
            steps[p0 + l] = st[l]


@njit(nogil=True, fastmath=FASTMATH)
def _add_lanes(total, grad, loss, seq):
    """One sequence's share of the epoch: gradient and loss, as the population kernels sum them."""
    for i in range(total.shape[0]):
        a = total[i]
        g = grad[i]
        for l in range(LANES):
            a[l] += g[l]
    for l in range(LANES):
        loss[l] += seq[l]


def _run_blocks(block, theta, args):
    """Run ``block(*args, p0)`` for every block of LANES networks, spread over Numba's thread count.

    The block kernels release the GIL, so plain threads run them in parallel. A
    ``parallel=True`` wrapper with ``prange`` did the same but doubled the cold
    compile time (Numba optimises the whole inlined call tree again).
    """
    starts = range(0, theta.shape[0], LANES)
    workers = min(get_num_threads(), len(starts))
    if workers <= 1:
        for p0 in starts:
            block(*args, p0)
        return
    with ThreadPoolExecutor(workers) as pool:
        for f in [pool.submit(block, *args, p0) for p0 in starts]:
            f.result()


def train_cwrnn_lanes(
    theta, m1, m2, steps, x, target, epochs, n, offsets, periods, act, loss_scale, kind, hp, losses
):
    """As population.train_cwrnn_population, in place: theta, m1, m2 (P, D); steps (P,) int64;
    x (P, S, T, I); target (P, S, T, O); losses (P, epochs)."""
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
    _run_blocks(_cwrnn_block, theta, (*args, int(kind), hp, losses))


def train_lstm_lanes(theta, m1, m2, steps, x, target, epochs, Hn, act, loss_scale, kind, hp, losses):
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
    _run_blocks(_lstm_block, theta, args)
