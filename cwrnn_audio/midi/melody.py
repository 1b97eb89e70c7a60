"""Monophonic melody on a beat grid: 0 rest, 1 hold, 2 + pitch for a new note (130 classes)."""

from __future__ import annotations

import numpy as np

from ..models.codec import ClassCodec
from .codec import MidiCodec
from .grid import Grid
from .notes import Note, Score

REST, HOLD, PITCH = 0, 1, 2
VOCAB = 130


class MelodyEncoding(MidiCodec, ClassCodec):
    """The highest sounding note at each step (the "skyline"); a new note where one starts."""

    name = "melody"
    size = VOCAB
    options = ("steps_per_beat",)

    def __init__(self, *, steps_per_beat: int = 4):
        self.grid = Grid(steps_per_beat=steps_per_beat)

    def settings(self) -> dict:
        return self.grid.settings()

    def sequence(self, score: Score) -> np.ndarray:
        T = self.grid.length(score)
        top = np.full(T, -1)  # highest pitch sounding at each step
        start = np.zeros(T, bool)  # ... and whether it starts there
        for n in score.notes:
            k0 = int(round(float(self.grid.to_steps(score, n.start))))
            k1 = min(T, max(k0 + 1, int(round(float(self.grid.to_steps(score, n.end))))))
            for k in range(k0, k1):
                if n.pitch > top[k] or (n.pitch == top[k] and k == k0):
                    top[k] = n.pitch
                    start[k] = k == k0
        tokens = np.full(T, REST, np.int64)
        for k in range(T):
            if top[k] < 0:
                continue
            new = start[k] or k == 0 or top[k - 1] != top[k]
            tokens[k] = PITCH + top[k] if new else HOLD
        return tokens

    def decode(
        self, tokens, score: Score | None = None, *, velocity: int = 80, channel: int = 0, program: int = 0
    ):
        """Tokens -> notes (a HOLD after a rest is read as a rest)."""
        score = score or Score()
        notes, current, begin = [], None, 0
        tokens = [int(t) for t in tokens] + [REST]
        for k, tok in enumerate(tokens):
            if tok == HOLD and current is not None:
                continue
            if current is not None:
                s, e = self.grid.to_seconds(score, [begin, k])
                notes.append(Note(current, velocity, float(s), float(e), channel, program))
                current = None
            if tok >= PITCH:
                current, begin = tok - PITCH, k
        return notes
