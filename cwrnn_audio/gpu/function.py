"""The fused kernels' call for one network, and what every fused call shares (imports ``triton``).

The argument checks, the clock tables and the tile sizes are here; the autograd Function is
:class:`~.population.CWRNNPopulationFused`, which one network runs as a population of one.
"""

from __future__ import annotations

from typing import Sequence

import torch
import triton

from ..errors import ParameterError, ParameterTypeError

BLOCK_B = 16  # sequences per program: the smallest M dimension tl.dot takes
# warps per program by padded module size, the fastest measured on an H100 (benchmarks/gpu_notes.md):
# at 32 rows, 2 warps beat 4 by 8 % (forward + backward); at 16 and 64, 4 beat 1, 2 and 8
NUM_WARPS = {16: 4, 32: 2, 64: 4, 128: 4}


def _num_warps(block_k: int) -> int:
    return NUM_WARPS.get(block_k, 4)


UNROLL = True  # the kernels unrolled over modules (``unrolled.py``); False: the generic loops


def _block(size: int) -> int:
    """A power of two >= 16 (tl.dot's smallest K and N) holding ``size``."""
    return max(16, triton.next_power_of_2(size))


def _precision() -> str:
    # follow torch's own float32 matmul setting, so the fused path rounds as the step loop does
    return "ieee" if torch.get_float32_matmul_precision() == "highest" else "tf32"


def _check(x, h0, t0, W_H, W_I, b_H, periods, offsets, *, networks: bool = False) -> int:
    """Shapes, dtypes and devices of a fused call (with ``networks``: a leading network axis on
    every tensor); returns ``t0`` as an int."""
    M = len(periods)
    if M == 0 or len(offsets) != M + 1:
        raise ParameterError(f"offsets must have len(periods) + 1 = {M + 1} entries; got {list(offsets)!r}")
    lead = int(networks)
    if x.dim() != 3 + lead:
        axes = "(networks, batch, time, input_size)" if networks else "(batch, time, input_size)"
        raise ParameterError(f"x must have shape {axes}; got {tuple(x.shape)}")
    P, B, I, n = tuple(x.shape[:lead]), x.shape[lead], x.shape[-1], int(offsets[-1])
    want = {"h0": (*P, B, n), "W_H": (*P, n, n), "W_I": (*P, n, I), "b_H": (*P, n)}
    for (name, shape), tensor in zip(want.items(), (h0, W_H, W_I, b_H)):
        if tuple(tensor.shape) != shape:
            raise ParameterError(f"{name} must have shape {shape}; got {tuple(tensor.shape)}")
    for name, tensor in zip(("x", *want), (x, h0, W_H, W_I, b_H)):
        if tensor.dtype != torch.float32 or tensor.device != x.device:
            wrong = ParameterTypeError if tensor.dtype != torch.float32 else ParameterError
            raise wrong(f"{name} must be float32 on {x.device}; got {tensor.dtype} on {tensor.device}")
    if int(t0) < 0:
        raise ParameterError(f"t0 must be non-negative; got {t0}")
    return int(t0)


def _clock(t0: int, periods: Sequence[int], offsets: Sequence[int], device):
    """The kernels' clock tables: each module's phase at ``t0``, its period, the row offsets."""
    phase = torch.tensor([t0 % p for p in periods], dtype=torch.int64, device=device)
    period = torch.tensor(list(periods), dtype=torch.int64, device=device)
    return phase, period, torch.tensor(list(offsets), dtype=torch.int32, device=device)


def fused_forward(x, h, t0: int, W, W_I, b_H, periods, offsets):
    """The step loop's signature (``functional._step_loop``), run by the fused kernels.

    x ``(B, T, I)``, h ``(B, n)``, all ``B`` sequences at clock value ``t0``; ``W`` already
    block-upper-triangular; float32. Returns H ``(B, T, n)``. One network is a population of one:
    the same Function and kernels as :mod:`.population`, so there is one launch and one backward.
    """
    from .population import population_forward

    t0 = _check(x, h, t0, W, W_I, b_H, periods, offsets)
    return population_forward(x[None], h[None], t0, W[None], W_I[None], b_H[None], periods, offsets)[0]
