"""Optimiser updates on flat parameter vectors, with torch's exact formulas.

So a run trained with the Numba kernels and one trained with torch.optim
follow the same trajectory (to float rounding), and checkpoints of either
engine hold the same moment vectors.
"""

import numpy as np
from numba import njit

SGD = 0
ADAM = 1
# layout of the hyper-parameter vector handed to the kernels
HP_LR, HP_MOMENTUM, HP_NESTEROV, HP_BETA1, HP_BETA2, HP_EPS, HP_CLIP = range(7)


@njit(inline="always")
def clip_grad_norm(grad, max_norm):
    """torch.nn.utils.clip_grad_norm_ on one vector; ``max_norm <= 0`` means no clipping."""
    if max_norm <= 0.0:
        return
    total = 0.0
    for v in grad:
        total += v * v
    coef = max_norm / (np.sqrt(total) + 1e-6)
    if coef < 1.0:
        for i in range(grad.shape[0]):
            grad[i] *= coef


@njit(inline="always")
def apply_update(theta, grad, m1, m2, step, kind, hp):
    """One optimiser step; ``step`` counts from 1 (Adam's bias correction)."""
    lr = hp[HP_LR]
    if kind == SGD:
        mu = hp[HP_MOMENTUM]
        nesterov = hp[HP_NESTEROV] != 0.0
        for i in range(theta.shape[0]):
            g = grad[i]
            if mu != 0.0:
                m1[i] = g if step == 1 else mu * m1[i] + g
                g = g + mu * m1[i] if nesterov else m1[i]
            theta[i] -= lr * g
    else:
        b1, b2, eps = hp[HP_BETA1], hp[HP_BETA2], hp[HP_EPS]
        c1 = 1.0 - b1**step
        c2 = np.sqrt(1.0 - b2**step)
        for i in range(theta.shape[0]):
            g = grad[i]
            m1[i] = b1 * m1[i] + (1.0 - b1) * g
            m2[i] = b2 * m2[i] + (1.0 - b2) * g * g
            theta[i] -= (lr / c1) * m1[i] / (np.sqrt(m2[i]) / c2 + eps)
