"""What every MIDI codec provides: a score in, ``(inputs, targets)`` out; sampled steps back to notes.

:meth:`MidiCodec.sequence` is the encoding proper (tokens or a roll); the input at a step is the
previous target, fed back as :meth:`~cwrnn_audio.models.codec.Codec.feed` does in generation.
"""

from __future__ import annotations

import numpy as np

from ..errors import ParameterError


class MidiCodec:
    """Mixed in before a codec family (:class:`~cwrnn_audio.models.codec.ClassCodec`, ...)."""

    domain = "midi"
    folder_file = "encoding.json"
    playback = {"program": 0, "tempo_bpm": 120.0}
    grid = None  # a Grid for step-grid codecs; None where steps are events

    @property
    def input_size(self) -> int:
        return self.size

    @property
    def output_size(self) -> int:
        return self.size

    def encode(self, score):
        """(inputs (T, size) float32, targets): classes (T,) int64 or frames (T, size) float32."""
        seq = self.sequence(score)
        first = self.initial_input()[None]
        x = np.concatenate([first, self.feed(first, seq[:-1]).reshape(-1, self.size)])[: len(seq)]
        return np.ascontiguousarray(x, np.float32), self.targets(seq)

    def steps_for(self, base, start_s: float, total_s: float | None, events: int | None) -> int:
        """Steps to generate for ``total_s`` seconds from ``start_s`` on ``base``'s tempo map."""
        if events is not None:
            raise ParameterError("events= is for the events encoding; give bars or seconds")
        if self.grid.steps_per_beat:
            beats = float(base.beats(start_s + total_s)) - float(base.beats(start_s))
            return int(round(beats * self.grid.steps_per_beat))
        return int(round(total_s * self.grid.fps))

    def elapsed(self, y) -> float:
        """Seconds a sampled event moves the clock (grid codecs count steps instead: 0)."""
        return 0.0

    def continuation(self, history, sampled, base, start_s: float, program: int) -> list:
        """New notes (from ``start_s``) from the prime's targets and the sampled ones."""
        full = np.concatenate([self.targets(history), self.targets(sampled)])
        notes = self.decode(full, base)
        return [n._replace(program=program) for n in notes if n.start >= start_s - 1e-9]
