"""Train many independent networks at once, one per Numba thread (``prange``).

Each network ``p`` has its own parameters ``theta[p]``, optimiser moments
and sequences ``x[p, s]`` / ``target[p, s]``; per epoch its gradient is
summed over its sequences, clipped, and applied. Sequences start from the
zero state at step 0. Each network has its own optimiser hyper-parameters
(``hp[p]``), so one population can hold the runs of many settings; the
optimiser kind (``kind``) is shared.
"""

import numpy as np
from numba import njit, prange

from .bptt_cwrnn import cwrnn_loss_grad
from .bptt_lstm import lstm_loss_grad
from .forward import FASTMATH
from .optim import HP_CLIP, apply_update, clip_grad_norm


@njit(inline="always")
def _update(theta, grad, m1, m2, steps, p, kind, hp):
    clip_grad_norm(grad, hp[HP_CLIP])
    steps[p] += 1
    apply_update(theta, grad, m1, m2, steps[p], kind, hp)


@njit(parallel=True, cache=True, fastmath=FASTMATH)
def train_cwrnn_population(
    theta, m1, m2, steps, x, target, epochs, n, offsets, periods, act, loss_scale, kind, hp, losses
):
    """theta, m1, m2 (P, D); steps (P,) int64; x (P, S, T, I); target (P, S, T, O);
    hp (P, 7): each network's optimiser hyper-parameters (optim.HP_*); losses (P, epochs)."""
    P, D = theta.shape
    S, T = x.shape[1], x.shape[2]
    O = target.shape[3]
    for p in prange(P):
        grad = np.zeros(D, theta.dtype)
        total = np.zeros(D, theta.dtype)
        H = np.zeros((T + 1, n), theta.dtype)
        dy = np.zeros((T, O), theta.dtype)
        dh = np.zeros(n, theta.dtype)
        dpre = np.zeros(n, theta.dtype)
        h0 = np.zeros(n, theta.dtype)
        for e in range(epochs):
            total[:] = 0.0
            loss = 0.0
            for s in range(S):
                loss += cwrnn_loss_grad(
                    theta[p],
                    grad,
                    x[p, s],
                    target[p, s],
                    h0,
                    0,
                    n,
                    offsets,
                    periods,
                    act,
                    loss_scale,
                    H,
                    dy,
                    dh,
                    dpre,
                )
                total += grad
            losses[p, e] = loss
            _update(theta[p], total, m1[p], m2[p], steps, p, kind, hp[p])


@njit(parallel=True, cache=True, fastmath=FASTMATH)
def train_lstm_population(theta, m1, m2, steps, x, target, epochs, Hn, act, loss_scale, kind, hp, losses):
    """As :func:`train_cwrnn_population`, for LSTMs of ``Hn`` cells."""
    P, D = theta.shape
    S, T = x.shape[1], x.shape[2]
    O = target.shape[3]
    for p in prange(P):
        grad = np.zeros(D, theta.dtype)
        total = np.zeros(D, theta.dtype)
        Hs = np.zeros((T + 1, Hn), theta.dtype)
        Cs = np.zeros((T + 1, Hn), theta.dtype)
        G = np.zeros((T, 4 * Hn), theta.dtype)
        TC = np.zeros((T, Hn), theta.dtype)
        dy = np.zeros((T, O), theta.dtype)
        dh = np.zeros(Hn, theta.dtype)
        dc = np.zeros(Hn, theta.dtype)
        dz = np.zeros(4 * Hn, theta.dtype)
        h0 = np.zeros(Hn, theta.dtype)
        for e in range(epochs):
            total[:] = 0.0
            loss = 0.0
            for s in range(S):
                loss += lstm_loss_grad(
                    theta[p],
                    grad,
                    x[p, s],
                    target[p, s],
                    h0,
                    h0,
                    Hn,
                    act,
                    loss_scale,
                    Hs,
                    Cs,
                    G,
                    TC,
                    dy,
                    dh,
                    dc,
                    dz,
                )
                total += grad
            losses[p, e] = loss
            _update(theta[p], total, m1[p], m2[p], steps, p, kind, hp[p])
