"""Audio files at the edge: soundfile in, float32 ``(channels, frames)`` out.

soundfile reads frames-first float64; this is the one place that converts.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from ..errors import ParameterError
from .atomic import atomic_path


def valid_audio(audio, *, name: str = "audio") -> np.ndarray:
    """Check float audio ``(channels, frames)`` in [-1, 1]; returns float32."""
    a = np.asarray(audio)
    if a.dtype.kind != "f":
        raise ParameterError(f"{name} must be floating point; got dtype {a.dtype}")
    if a.ndim != 2:
        raise ParameterError(f"{name} must have shape (channels, frames); got {a.shape}")
    a = np.ascontiguousarray(a, dtype=np.float32)
    if not np.isfinite(a).all():
        raise ParameterError(f"{name} contains NaN or infinite samples")
    return a


def read_audio(path) -> tuple[np.ndarray, int]:
    """Read a sound file as float32 ``(channels, frames)`` and its sample rate."""
    import soundfile as sf

    path = Path(os.fspath(path))
    if not path.is_file():
        raise ParameterError(f"{path}: no such audio file")
    try:
        data, sr = sf.read(str(path), dtype="float32", always_2d=True)
    except Exception as exc:  # soundfile's LibsndfileError and friends
        raise ParameterError(f"{path}: not a readable audio file ({exc})") from None
    if data.shape[0] == 0:
        raise ParameterError(f"{path}: the file holds no audio frames")
    audio = np.ascontiguousarray(data.T)
    if not np.isfinite(audio).all():
        raise ParameterError(f"{path}: the file contains NaN or infinite samples")
    return audio, int(sr)


def write_audio(path, audio, sample_rate: int, *, subtype: str | None = None) -> Path:
    """Write float audio ``(channels, frames)`` atomically (temp file, then rename)."""
    import soundfile as sf

    a = valid_audio(audio)
    path = Path(os.fspath(path))
    fmt = path.suffix.lstrip(".").upper()
    if fmt not in sf.available_formats():
        raise ParameterError(f"{path}: unknown audio format {fmt!r}; use e.g. .wav or .flac")
    with atomic_path(path) as tmp:
        sf.write(str(tmp), np.clip(a, -1.0, 1.0).T, int(sample_rate), subtype=subtype, format=fmt)
    return path
