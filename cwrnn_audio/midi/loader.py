"""One MIDI file -> training streams, for the streaming trainer; picklable for DataLoader workers.

Returns ``(streams, meta)`` as :class:`~cwrnn_audio.audio.loader.AudioLoader` does; ``meta``
holds the file's first tempo and its notes' programs (the model folder's playback settings).
"""

from __future__ import annotations

import warnings

from ..errors import ParameterError
from .read import read_midi


class MidiLoader:
    """Read one MIDI file and encode it with a MIDI codec (roll, events or melody)."""

    def __init__(self, encoding, *, drums: str = "drop"):
        self.encoding = encoding
        self.drums = drums

    def __call__(self, path):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the index pass reports files; workers stay quiet
            score = read_midi(path, drums=self.drums)
        if not score.notes:
            raise ParameterError(f"{path}: no notes")
        meta = {"tempo_bpm": 60e6 / score.tempos[0][1], "programs": [n.program for n in score.notes]}
        return self.encoding.streams(score), meta
