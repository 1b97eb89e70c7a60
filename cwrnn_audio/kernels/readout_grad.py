"""The read-out layer's share of BPTT, common to every recurrent kernel."""

from numba import njit

from .forward import ACT_TANH, FASTMATH, fast_tanh


@njit(inline="always", fastmath=FASTMATH)
def readout_loss(hn, WO, bO, act, target, loss_scale, dy):
    """Output for state ``hn``; returns ``loss_scale * sum((y - target)**2)``, d loss / d pre-activation in ``dy``."""
    loss = 0.0
    for q in range(bO.shape[0]):
        acc = bO[q]
        for c in range(hn.shape[0]):
            acc += WO[q, c] * hn[c]
        if act == ACT_TANH:
            acc = fast_tanh(acc)
        err = acc - target[q]
        loss += loss_scale * err * err
        d = 2.0 * loss_scale * err
        if act == ACT_TANH:
            d *= 1.0 - acc * acc
        dy[q] = d
    return loss


@njit(inline="always", fastmath=FASTMATH)
def readout_backward(hn, WO, dy, gWO, gbO, dh):
    """Accumulate the read-out's weight gradients and add its error to ``dh``."""
    for q in range(dy.shape[0]):
        d = dy[q]
        gbO[q] += d
        for c in range(hn.shape[0]):
            gWO[q, c] += d * hn[c]
            dh[c] += WO[q, c] * d
