"""The one note list every reader writes and every encoding reads."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np

DRUM_CHANNEL = 9  # MIDI channel 10, counted from 0


class Note(NamedTuple):
    pitch: int  # 0..127
    velocity: int  # 1..127
    start: float  # seconds
    end: float  # seconds, >= start
    channel: int = 0  # 0..15
    program: int = 0  # 0..127, General MIDI instrument

    @property
    def is_drum(self) -> bool:
        return self.channel == DRUM_CHANNEL


@dataclass
class Score:
    """Notes sorted by (start, pitch), plus the tempo map and time signatures.

    ``tempos``: ``[(seconds, microseconds per beat)]`` starting at 0;
    ``time_signatures``: ``[(seconds, numerator, denominator)]``.
    """

    notes: list = field(default_factory=list)
    tempos: list = field(default_factory=lambda: [(0.0, 500_000)])
    time_signatures: list = field(default_factory=list)
    source: str = ""

    def __post_init__(self):
        self.notes = sorted(self.notes, key=lambda n: (n.start, n.pitch, n.end))

    @property
    def end(self) -> float:
        return max((n.end for n in self.notes), default=0.0)

    def _tempo_arrays(self):
        """(start seconds, seconds per beat, beats elapsed at each start) of the tempo changes."""
        starts = np.array([s for s, _ in self.tempos])
        spb = np.array([us / 1e6 for _, us in self.tempos])
        return starts, spb, np.concatenate([[0.0], np.cumsum(np.diff(starts) / spb[:-1])])

    def beats(self, seconds):
        """Seconds -> beats (quarter notes) through the tempo map."""
        t = np.asarray(seconds, np.float64)
        starts, spb, beat_at = self._tempo_arrays()
        i = np.clip(np.searchsorted(starts, t, side="right") - 1, 0, len(starts) - 1)
        return beat_at[i] + (t - starts[i]) / spb[i]

    def seconds(self, beats):
        """Beats -> seconds through the tempo map."""
        b = np.asarray(beats, np.float64)
        starts, spb, beat_at = self._tempo_arrays()
        i = np.clip(np.searchsorted(beat_at, b, side="right") - 1, 0, len(starts) - 1)
        return starts[i] + (b - beat_at[i]) * spb[i]
