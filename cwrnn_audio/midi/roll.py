"""Piano roll: 128 multi-hot pitch channels, onset flags, optional velocity."""

from __future__ import annotations

import numpy as np

from ..models.codec import BernoulliCodec
from .codec import MidiCodec
from .grid import Grid
from .notes import Note, Score


class RollEncoding(MidiCodec, BernoulliCodec):
    """Encode a score as ``(steps, 128 * k)`` float32: sounding, then onsets, then velocity/127.

    Onset flags keep a repeated note from merging with the one before it.
    """

    name = "roll"
    options = ("fps", "steps_per_beat")

    def __init__(self, *, fps=None, steps_per_beat=4, onsets: bool = True, velocity: bool = False):
        self.grid = Grid(fps=fps, steps_per_beat=None if fps else steps_per_beat)
        self.onsets, self.velocity = bool(onsets), bool(velocity)

    @property
    def size(self) -> int:
        return 128 * (1 + self.onsets + self.velocity)

    def settings(self) -> dict:
        return {**self.grid.settings(), "onsets": self.onsets, "velocity": self.velocity}

    def sequence(self, score: Score) -> np.ndarray:
        T = self.grid.length(score)
        roll = np.zeros((T, self.size), np.float32)
        for n in score.notes:
            k0 = int(round(float(self.grid.to_steps(score, n.start))))
            k1 = max(k0 + 1, int(round(float(self.grid.to_steps(score, n.end)))))  # short notes keep one step
            k1 = min(k1, T) if k0 < T else k0
            if k0 >= T:
                continue
            roll[k0:k1, n.pitch] = 1.0
            if self.onsets:
                roll[k0, 128 + n.pitch] = 1.0
            if self.velocity:
                roll[k0:k1, 128 * (1 + self.onsets) + n.pitch] = n.velocity / 127.0
        return roll

    def sample(self, output, rng, *, temperature=1.0, top_k=0, noise=0.0):
        frame = super().sample(output, rng, temperature=temperature)
        if self.onsets:
            frame[:128] = np.maximum(frame[:128], frame[128:256])  # an onset sounds
        return frame

    def decode(self, roll, score: Score | None = None, *, channel: int = 0, program: int = 0) -> list:
        """Notes from a roll (values above 0.5 count as on); times through ``score``'s tempo map."""
        score = score or Score()
        on = np.asarray(roll)[:, :128] > 0.5
        onset = np.asarray(roll)[:, 128:256] > 0.5 if self.onsets else np.zeros_like(on)
        vel = np.asarray(roll)[:, 128 * (1 + self.onsets) :] if self.velocity else None
        notes = []
        T = on.shape[0]
        for p in range(128):
            k = 0
            while k < T:
                if not on[k, p]:
                    k += 1
                    continue
                start = k
                k += 1
                while k < T and on[k, p] and not onset[k, p]:
                    k += 1
                v = int(np.clip(round(float(vel[start, p]) * 127), 1, 127)) if vel is not None else 80
                s, e = self.grid.to_seconds(score, [start, k])
                notes.append(Note(p, v, float(s), float(e), channel, program))
        return sorted(notes, key=lambda n: (n.start, n.pitch))
