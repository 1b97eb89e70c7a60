"""Numba BPTT for the CW-RNN (and so the SRN: one module of period 1).

Parameters travel as one flat vector ``theta`` in the order W_H, W_I, b_H,
W_O, b_O (row-major), so optimisers and populations treat every network
alike. The backward pass follows the paper: error enters a module only at
steps where it was active; at idle steps its error is carried back
unchanged. Only active rows and the non-zero blocks of W_H are touched.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from .forward import FASTMATH, fast_tanh
from .readout_grad import readout_backward, readout_loss


def cwrnn_layout(n: int, I: int, O: int) -> dict:
    """name -> (offset, shape) inside the flat parameter vector."""
    out, off = {}, 0
    for name, shape in (("W_H", (n, n)), ("W_I", (n, I)), ("b_H", (n,)), ("W_O", (O, n)), ("b_O", (O,))):
        out[name] = (off, shape)
        off += int(np.prod(shape))
    out["size"] = off
    return out


@njit(cache=True, nogil=True, fastmath=FASTMATH)
def cwrnn_loss_grad(theta, grad, x, target, h0, t0, n, offsets, periods, act, loss_scale, H, dy, dh, dpre):
    """Loss ``loss_scale * sum((y - target)**2)`` over one sequence, and its gradient.

    theta, grad (D,); x (T, I); target (T, O); h0 (n,) initial state at step
    t0. Work space: H (T+1, n) holds the states, dy (T, O), dh and dpre (n,).
    The final state is left in ``H[T]``. Returns the loss.
    """
    T, I = x.shape
    O = target.shape[1]
    g = periods.shape[0]
    WH = theta[0 : n * n].reshape((n, n))
    WI = theta[n * n : n * n + n * I].reshape((n, I))
    o = n * n + n * I
    bH = theta[o : o + n]
    WO = theta[o + n : o + n + O * n].reshape((O, n))
    bO = theta[o + n + O * n : o + n + O * n + O]
    gWH = grad[0 : n * n].reshape((n, n))
    gWI = grad[n * n : n * n + n * I].reshape((n, I))
    gbH = grad[o : o + n]
    gWO = grad[o + n : o + n + O * n].reshape((O, n))
    gbO = grad[o + n + O * n : o + n + O * n + O]
    grad[:] = 0.0

    H[0, :] = h0
    loss = 0.0
    for s in range(T):
        t = t0 + s
        hp = H[s]
        hn = H[s + 1]
        hn[:] = hp
        for i in range(g):
            if t % periods[i] != 0:
                continue
            lo = offsets[i]
            for r in range(lo, offsets[i + 1]):
                acc = bH[r]
                for k in range(I):
                    acc += WI[r, k] * x[s, k]
                w = WH[r, lo:]
                hh = hp[lo:]
                for c in range(n - lo):
                    acc += w[c] * hh[c]
                hn[r] = fast_tanh(acc)
        loss += readout_loss(hn, WO, bO, act, target[s], loss_scale, dy[s])

    dh[:] = 0.0
    for s in range(T - 1, -1, -1):
        t = t0 + s
        hn = H[s + 1]
        hp = H[s]
        readout_backward(hn, WO, dy[s], gWO, gbO, dh)
        # active rows: error goes through tanh into the weights and on to
        # h[t-1]; idle rows keep theirs, carried back unchanged
        for i in range(g):
            if t % periods[i] != 0:
                continue
            for r in range(offsets[i], offsets[i + 1]):
                dpre[r] = dh[r] * (1.0 - hn[r] * hn[r])
                dh[r] = 0.0
        for i in range(g):
            if t % periods[i] != 0:
                continue
            lo = offsets[i]
            for r in range(lo, offsets[i + 1]):
                d = dpre[r]
                gbH[r] += d
                for k in range(I):
                    gWI[r, k] += d * x[s, k]
                w = WH[r, lo:]
                gw = gWH[r, lo:]
                hh = hp[lo:]
                dd = dh[lo:]
                for c in range(n - lo):
                    gw[c] += d * hh[c]
                    dd[c] += w[c] * d
    return loss
