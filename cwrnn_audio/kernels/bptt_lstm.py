"""Numba BPTT for the LSTM baseline (no peepholes, one bias, gates i, f, g, o).

Flat parameter order: W_x (4H, I), W_h (4H, H), b (4H), W_O (O, H), b_O (O),
row-major; gate rows in torch's order (input, forget, cell, output).
"""

from __future__ import annotations

import numpy as np
from numba import njit

from .forward import FASTMATH, fast_tanh
from .readout_grad import readout_backward, readout_loss


def lstm_layout(H: int, I: int, O: int) -> dict:
    """name -> (offset, shape) inside the flat parameter vector."""
    out, off = {}, 0
    for name, shape in (
        ("W_x", (4 * H, I)),
        ("W_h", (4 * H, H)),
        ("b", (4 * H,)),
        ("W_O", (O, H)),
        ("b_O", (O,)),
    ):
        out[name] = (off, shape)
        off += int(np.prod(shape))
    out["size"] = off
    return out


@njit(inline="always")
def _sigmoid(x):
    return 0.5 + 0.5 * fast_tanh(0.5 * x)


@njit(cache=True, nogil=True, fastmath=FASTMATH)
def lstm_loss_grad(theta, grad, x, target, h0, c0, Hn, act, loss_scale, Hs, Cs, G, TC, dy, dh, dc, dz):
    """Loss ``loss_scale * sum((y - target)**2)`` over one sequence, and its gradient.

    theta, grad (D,); x (T, I); target (T, O); h0, c0 (Hn,). Work space:
    Hs, Cs (T+1, Hn) states; G (T, 4Hn) gate activations; TC (T, Hn) tanh(c);
    dy (T, O); dh, dc (Hn,); dz (4Hn,). Final state in Hs[T], Cs[T].
    """
    T, I = x.shape
    O = target.shape[1]
    G4 = 4 * Hn
    WX = theta[0 : G4 * I].reshape((G4, I))
    o1 = G4 * I
    WHH = theta[o1 : o1 + G4 * Hn].reshape((G4, Hn))
    o2 = o1 + G4 * Hn
    b = theta[o2 : o2 + G4]
    WO = theta[o2 + G4 : o2 + G4 + O * Hn].reshape((O, Hn))
    bO = theta[o2 + G4 + O * Hn : o2 + G4 + O * Hn + O]
    gWX = grad[0 : G4 * I].reshape((G4, I))
    gWH = grad[o1 : o1 + G4 * Hn].reshape((G4, Hn))
    gb = grad[o2 : o2 + G4]
    gWO = grad[o2 + G4 : o2 + G4 + O * Hn].reshape((O, Hn))
    gbO = grad[o2 + G4 + O * Hn : o2 + G4 + O * Hn + O]
    grad[:] = 0.0

    Hs[0, :] = h0
    Cs[0, :] = c0
    loss = 0.0
    for s in range(T):
        hp = Hs[s]
        z = G[s]
        for r in range(G4):
            acc = b[r]
            for k in range(I):
                acc += WX[r, k] * x[s, k]
            w = WHH[r]
            for c in range(Hn):
                acc += w[c] * hp[c]
            z[r] = acc
        for j in range(Hn):
            ig = _sigmoid(z[j])
            fg = _sigmoid(z[Hn + j])
            gg = fast_tanh(z[2 * Hn + j])
            og = _sigmoid(z[3 * Hn + j])
            z[j], z[Hn + j], z[2 * Hn + j], z[3 * Hn + j] = ig, fg, gg, og
            cc = fg * Cs[s, j] + ig * gg
            Cs[s + 1, j] = cc
            tc = fast_tanh(cc)
            TC[s, j] = tc
            Hs[s + 1, j] = og * tc
        hn = Hs[s + 1]
        loss += readout_loss(hn, WO, bO, act, target[s], loss_scale, dy[s])

    dh[:] = 0.0
    dc[:] = 0.0
    for s in range(T - 1, -1, -1):
        hn = Hs[s + 1]
        hp = Hs[s]
        z = G[s]
        readout_backward(hn, WO, dy[s], gWO, gbO, dh)
        for j in range(Hn):
            ig, fg, gg, og = z[j], z[Hn + j], z[2 * Hn + j], z[3 * Hn + j]
            tc = TC[s, j]
            dcj = dc[j] + dh[j] * og * (1.0 - tc * tc)
            dz[j] = dcj * gg * ig * (1.0 - ig)
            dz[Hn + j] = dcj * Cs[s, j] * fg * (1.0 - fg)
            dz[2 * Hn + j] = dcj * ig * (1.0 - gg * gg)
            dz[3 * Hn + j] = dh[j] * tc * og * (1.0 - og)
            dc[j] = dcj * fg
        dh[:] = 0.0
        for r in range(G4):
            d = dz[r]
            gb[r] += d
            for k in range(I):
                gWX[r, k] += d * x[s, k]
            w = WHH[r]
            gw = gWH[r]
            for c in range(Hn):
                gw[c] += d * hp[c]
                dh[c] += w[c] * d
    return loss
