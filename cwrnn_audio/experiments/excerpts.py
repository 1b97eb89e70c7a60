"""Music in, the paper's targets out: 44.1 kHz mono, 320-sample excerpts in [-1, 1]."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from ..errors import ParameterError

PAPER_SR = 44_100
PAPER_LENGTH = 320  # samples, about 7.26 ms at 44.1 kHz
PAPER_COUNT = 5


def load_music(path, *, sr: int = PAPER_SR) -> np.ndarray:
    """Read any soundfile/librosa-readable file as float32 mono at ``sr`` Hz."""
    import librosa

    path = Path(os.fspath(path))
    if not path.is_file():
        raise ParameterError(f"{path}: no such audio file")
    try:
        y, _ = librosa.load(str(path), sr=sr, mono=True)
    except Exception as exc:  # soundfile, audioread and resampler errors alike
        raise ParameterError(f"{path}: not a readable audio file ({type(exc).__name__}: {exc})") from None
    if y.size == 0:
        raise ParameterError(f"{path}: the file holds no audio")
    if not np.isfinite(y).all():
        raise ParameterError(f"{path}: the file contains NaN or infinite samples")
    return np.ascontiguousarray(y, dtype=np.float32)


def cut_excerpts(
    audio: np.ndarray,
    *,
    count: int = PAPER_COUNT,
    length: int = PAPER_LENGTH,
    seed: int = 0,
    source: str = "audio",
) -> np.ndarray:
    """Pick ``count`` non-overlapping, non-silent excerpts, each scaled to span [-1, 1].

    Deterministic for a given ``seed``. A window counts as silent when its RMS
    is below a quarter of the whole signal's RMS (or below 1e-4).

    Returns
    -------
    np.ndarray, float32, ``(count, length)``
    """
    starts = np.arange(0, audio.size - length + 1, length)
    if starts.size == 0:
        raise ParameterError(f"{source}: {audio.size} samples is shorter than one excerpt of {length}")
    threshold = max(1e-4, 0.25 * float(np.sqrt(np.mean(audio.astype(np.float64) ** 2))))
    order = np.random.default_rng(seed).permutation(starts)
    chosen = []
    for s in order:
        window = audio[s : s + length].astype(np.float64)
        if np.sqrt(np.mean(window**2)) >= threshold and np.ptp(window) > 0:
            chosen.append(window)
            if len(chosen) == count:
                break
    if len(chosen) < count:
        raise ParameterError(
            f"{source}: found only {len(chosen)} non-silent excerpts of {length} samples; need {count} "
            "(the file is too short or mostly silent)"
        )
    ex = np.array(chosen)
    lo, hi = ex.min(axis=1, keepdims=True), ex.max(axis=1, keepdims=True)
    return (2.0 * (ex - lo) / (hi - lo) - 1.0).astype(np.float32)
