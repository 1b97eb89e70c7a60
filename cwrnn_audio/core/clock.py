"""The clock: which modules update at step ``t``.

Module ``i`` is active at step ``t`` iff ``t % periods[i] == 0``; ``t`` counts
from 0 at the start of a sequence and is part of the state, so a sequence cut
into blocks sees the same clock as one pass.
"""

from __future__ import annotations

from typing import Sequence


def active_modules(t: int, periods: Sequence[int]) -> list[int]:
    """Indices of the modules whose clock fires at step ``t``."""
    return [i for i, p in enumerate(periods) if t % p == 0]


def active_runs(t: int, periods: Sequence[int], offsets: Sequence[int]) -> list[tuple[int, int]]:
    """Hidden-row ranges ``[lo, hi)`` of maximal runs of adjacent active modules.

    With nested periods (each dividing the next, e.g. exponential) the active
    modules form one prefix, so this is a single ``(0, hi)`` range.
    """
    runs: list[tuple[int, int]] = []
    for i in active_modules(t, periods):
        lo, hi = offsets[i], offsets[i + 1]
        if runs and runs[-1][1] == lo:
            runs[-1] = (runs[-1][0], hi)
        else:
            runs.append((lo, hi))
    return runs


def block_upper_mask(module_sizes: Sequence[int]):
    """Boolean ``(n, n)`` mask of the structurally non-zero entries of ``W_H``.

    Row block ``i`` (module ``i``) reads column blocks ``j >= i``: slow modules
    feed fast ones, never the other way round.
    """
    import numpy as np

    module_of = np.repeat(np.arange(len(module_sizes)), module_sizes)
    return module_of[:, None] <= module_of[None, :]
