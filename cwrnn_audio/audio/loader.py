"""One audio file -> ``(streams [(inputs (T, I), targets)], meta {})`` for the streaming trainer.

Picklable, for DataLoader workers; raises :class:`ParameterError` for a file it cannot use.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import numpy as np

from ..io.atomic import atomic_path
from .dataset import load_clip


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
        path = Path(os.fspath(path))
        if self.cache_dir is None:
            return load_clip(path, self.adapter.sample_rate, channels=self.channels, codec=self.adapter)
        cached = self._cache_file(path)
        if cached.is_file():
            return np.load(cached, allow_pickle=False)
        audio = load_clip(path, self.adapter.sample_rate, channels=self.channels, codec=self.adapter)
        with atomic_path(cached) as tmp:
            with open(tmp, "wb") as f:
                np.save(f, audio, allow_pickle=False)
        return audio

    def __call__(self, path):
        return self.adapter.streams(self.audio(path)), {}
