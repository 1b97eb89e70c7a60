"""The note envelope a score is played with: attack, release and the level of a velocity.

Light on purpose (no NumPy, no Numba): the CLI reads its defaults to build its options.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from ..errors import ParameterError, ParameterTypeError


@dataclass
class Envelope:
    attack: float = 0.03  # seconds from the floor to the note's level
    release: float = 0.12  # seconds from the note's level back to the floor after note-off
    top_db: float = -18.0  # A-weighted loudness of velocity 127
    range_db: float = 30.0  # velocity 1 is this much quieter (linear in velocity's log)

    def __post_init__(self):
        for key in ("attack", "release", "range_db"):
            v = getattr(self, key)
            if isinstance(v, bool) or not isinstance(v, (int, float)):
                raise ParameterTypeError(f"{key} must be a finite number >= 0; got {v!r}")
            if not (math.isfinite(v) and v >= 0):
                raise ParameterError(f"{key} must be a finite number >= 0; got {v!r}")

    def level_db(self, velocity: int) -> float:
        return self.top_db + self.range_db * math.log(max(1, velocity) / 127) / math.log(127)
