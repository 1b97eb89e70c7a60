"""A slow, obviously-correct CW-RNN written straight from the paper's equations.

Float64, one neuron at a time, no masks, no caches, no slices shared with the
package: module i is active iff t % T_i == 0; an active neuron of module i
reads every neuron of modules j >= i and the input; the rest keep their value.
"""

import numpy as np


def reference_forward(weights, module_sizes, periods, activation, x, h0=None, t0=0):
    """x (T, I) -> y (T, O), h_T (n,). weights: dict of W_H, W_I, b_H, W_O, b_O."""
    W_H, W_I, b_H, W_O, b_O = (
        np.asarray(weights[k], np.float64) for k in ("W_H", "W_I", "b_H", "W_O", "b_O")
    )
    module_of = [i for i, k in enumerate(module_sizes) for _ in range(k)]
    n = len(module_of)
    h = np.zeros(n) if h0 is None else np.array(h0, np.float64)
    ys = []
    for s in range(len(x)):
        t = t0 + s
        new = h.copy()
        for r in range(n):
            i = module_of[r]
            if t % periods[i] != 0:
                continue
            acc = b_H[r]
            for j in range(n):
                if module_of[j] >= i:
                    acc += W_H[r, j] * h[j]
            for k in range(W_I.shape[1]):
                acc += W_I[r, k] * x[s][k]
            new[r] = np.tanh(acc)
        h = new
        y = W_O @ h + b_O
        ys.append(np.tanh(y) if activation == "tanh" else y)
    return np.array(ys).reshape(len(x), W_O.shape[0]), h
