"""Step times: a fixed frame rate, or a beat grid that follows the tempo map."""

from __future__ import annotations

import numpy as np

from ..errors import ParameterError, ParameterTypeError
from .notes import Score

MAX_STEPS = 2_000_000  # ~9 h at 60 fps: a longer encoding means a broken or hostile file


class Grid:
    """``fps`` frames per second, or ``steps_per_beat`` (4: sixteenth notes) on the score's beats."""

    def __init__(self, *, fps: float | None = None, steps_per_beat: int | None = None):
        if (fps is None) == (steps_per_beat is None):
            raise ParameterError(
                f"give exactly one of fps or steps_per_beat; got fps={fps!r}, steps_per_beat={steps_per_beat!r}"
            )
        if fps is not None and (isinstance(fps, bool) or not isinstance(fps, (int, float))):
            raise ParameterTypeError(f"fps must be a number in (0, 1000]; got {fps!r}")
        if fps is not None and not (0 < fps <= 1000):
            raise ParameterError(f"fps must be in (0, 1000]; got {fps!r}")
        if steps_per_beat is not None and (
            isinstance(steps_per_beat, bool) or not isinstance(steps_per_beat, int)
        ):
            raise ParameterTypeError(f"steps_per_beat must be an integer in 1..96; got {steps_per_beat!r}")
        if steps_per_beat is not None and not 1 <= steps_per_beat <= 96:
            raise ParameterError(f"steps_per_beat must be an integer in 1..96; got {steps_per_beat!r}")
        self.fps, self.steps_per_beat = fps, steps_per_beat

    def to_steps(self, score: Score, seconds):
        s = np.asarray(seconds, np.float64)
        return s * self.fps if self.fps else score.beats(s) * self.steps_per_beat

    def to_seconds(self, score: Score, steps):
        k = np.asarray(steps, np.float64)
        return k / self.fps if self.fps else score.seconds(k / self.steps_per_beat)

    def length(self, score: Score) -> int:
        n = int(np.ceil(float(self.to_steps(score, score.end)) - 1e-9)) if score.notes else 0
        if n > MAX_STEPS:
            raise ParameterError(
                f"{score.source or 'score'}: {n} steps is past the {MAX_STEPS} step limit "
                f"(notes end at {score.end:.0f} s)"
            )
        return n

    def settings(self) -> dict:
        return {"fps": self.fps} if self.fps else {"steps_per_beat": self.steps_per_beat}
