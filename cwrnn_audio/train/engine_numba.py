"""Training epochs on the Numba kernels (CPU): populations with the networks in SIMD lanes.

A population of at least ``LANES_FROM`` networks runs through :mod:`..kernels.lanes` (blocks of
networks advancing together: 1.5-3x faster on the paper's populations of 100); fewer networks
run one per thread (:mod:`..kernels.population`), which was as fast or faster for some methods
and sizes below 48 networks. Both compute the same updates (equal to float32 rounding).
"""

from __future__ import annotations

import numpy as np

from ..core.kinds import kind_of
from ..errors import ParameterError
from ..kernels.forward import ACT_LINEAR, ACT_TANH

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
    network = kind_of(template)
    rule, hp = opt.kernel_args()
    if hp.ndim == 2 and hp.shape[0] != theta.shape[0]:
        raise ParameterError(f"opt: one setting per network expected, {theta.shape[0]}; got {hp.shape[0]}")
    hp = np.ascontiguousarray(np.broadcast_to(hp, (theta.shape[0], hp.shape[-1])), np.float64)
    act = ACT_TANH if c.output_activation == "tanh" else ACT_LINEAR
    losses = np.zeros((theta.shape[0], epochs))
    common = (theta, m1, m2, steps, x, target, epochs, c.hidden_size)
    clocks = (np.asarray(c.offsets, np.int64), np.asarray(c.periods, np.int64)) if network.clocked else ()
    train = network.population_kernel(lanes=theta.shape[0] >= LANES_FROM)
    train(*common, *clocks, act, scale, rule, hp, losses)
    return losses
