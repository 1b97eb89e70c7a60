"""File -> training streams, one callable per kind; picklable, so DataLoader workers can run them.

A loader returns ``(streams, meta)``: ``streams`` a list of ``(inputs (T, I), targets)`` and
``meta`` what the model folder needs from the corpus (MIDI: tempo and programs). It raises
:class:`ParameterError` for a file it cannot use.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import numpy as np

from ..io.atomic import atomic_path


class AudioLoader:
    """Decode, resample and encode one audio file with an adapter.

    ``cache_dir``: keep the decoded, resampled audio there as ``.npy`` (keyed by the file's path,
    size, modification time, the rate and the channel mode), so later epochs skip decoding.
    """

    def __init__(self, adapter, *, channels: str = "mix", cache_dir=None):
        self.adapter = adapter
        self.channels = channels
        self.cache_dir = None if cache_dir is None else Path(os.fspath(cache_dir))

    def _cache_file(self, path: Path) -> Path:
        st = path.stat()
        key = f"{path.resolve()}|{st.st_size}|{st.st_mtime_ns}|{self.adapter.sample_rate}|{self.channels}"
        return self.cache_dir / (hashlib.sha1(key.encode()).hexdigest() + ".npy")

    def audio(self, path) -> np.ndarray:
        from ..audio.dataset import load_clip

        path = Path(os.fspath(path))
        if self.cache_dir is None:
            return load_clip(path, self.adapter.sample_rate, channels=self.channels)
        cached = self._cache_file(path)
        if cached.is_file():
            return np.load(cached, allow_pickle=False)
        audio = load_clip(path, self.adapter.sample_rate, channels=self.channels)
        with atomic_path(cached) as tmp:
            with open(tmp, "wb") as f:
                np.save(f, audio, allow_pickle=False)
        return audio

    def __call__(self, path):
        x, y = self.adapter.encode(self.audio(path))
        return list(zip(x, y)), {}


class MidiLoader:
    """Read one MIDI file and encode it (roll, events or melody)."""

    def __init__(self, encoding, *, drums: str = "drop"):
        self.encoding = encoding
        self.drums = drums

    def __call__(self, path):
        import warnings

        from ..errors import ParameterError
        from ..midi.codec import stream
        from ..midi.read import read_midi

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the index pass reports files; workers stay quiet
            score = read_midi(path, drums=self.drums)
        if not score.notes:
            raise ParameterError(f"{path}: no notes")
        meta = {"tempo_bpm": 60e6 / score.tempos[0][1], "programs": [n.program for n in score.notes]}
        return [stream(self.encoding, score)], meta
