"""Training epochs on the Numba kernels (CPU): populations with the networks in SIMD lanes.

A population of at least ``LANES_FROM`` networks runs through :mod:`..kernels.lanes` (blocks of
networks advancing together: 1.5-3x faster on the paper's populations of 100); fewer networks
run one per thread (:mod:`..kernels.population`), which was as fast or faster for some methods
and sizes below 48 networks. Both compute the same updates (equal to float32 rounding).
"""

from __future__ import annotations

import numpy as np

from ..errors import ParameterError
from ..kernels.forward import ACT_LINEAR, ACT_TANH
from ..kernels.lanes import train_cwrnn_lanes, train_lstm_lanes
from ..kernels.population import train_cwrnn_population, train_lstm_population
from ..nn.module import CWRNN

# networks: two blocks of 24 lanes, one per core. From 48 networks the lanes were 1.2-4x faster
# for every method at 100 and 1000 parameters (the protocol's excerpts, 2 cores, 5 epochs).
LANES_FROM = 48


def run_epochs(template, theta, m1, m2, steps, x, target, epochs: int, scale: float, opt) -> np.ndarray:
    """Train ``P`` networks shaped like ``template`` for ``epochs``, in place.

    theta, m1, m2 float32 ``(P, D)``; steps int64 ``(P,)``; x ``(P, S, T, I)``;
    target ``(P, S, T, O)``. ``opt``: one :class:`OptimizerConfig` for every network, or
    :class:`NetworkOptimizers`, a setting per network. Returns the loss of every epoch,
    ``(P, epochs)``, each measured before that epoch's update.
    """
    c = template.config
    kind, hp = opt.kernel_args()
    if hp.ndim == 2 and hp.shape[0] != theta.shape[0]:
        raise ParameterError(f"opt: one setting per network expected, {theta.shape[0]}; got {hp.shape[0]}")
    hp = np.ascontiguousarray(np.broadcast_to(hp, (theta.shape[0], hp.shape[-1])), np.float64)
    act = ACT_TANH if c.output_activation == "tanh" else ACT_LINEAR
    losses = np.zeros((theta.shape[0], epochs))
    common = (theta, m1, m2, steps, x, target, epochs, c.hidden_size)
    lanes = theta.shape[0] >= LANES_FROM
    if isinstance(template, CWRNN):
        clocks = np.asarray(c.offsets, np.int64), np.asarray(c.periods, np.int64)
        train = train_cwrnn_lanes if lanes else train_cwrnn_population
        train(*common, *clocks, act, scale, kind, hp, losses)
    else:
        (train_lstm_lanes if lanes else train_lstm_population)(*common, act, scale, kind, hp, losses)
    return losses
