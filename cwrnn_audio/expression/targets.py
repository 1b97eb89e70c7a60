"""What the expression model learns to predict, frame by frame, from a recording and its aligned score:
the frame's loudness (dB, A-weighted, as the harmonic codec analyses it) and the pitch's deviation
from the score's note in cents, where a note sounds and pYIN measured a pitch (elsewhere it is
undefined and masked out of the loss)."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from ..errors import ParameterError
from .score import score_frames

#: deviations beyond this are not expression but a wrong note or a pYIN octave slip: masked out
MAX_CENTS = 300.0


class Targets(NamedTuple):
    loudness_db: np.ndarray  # (T,) float64
    cents: np.ndarray  # (T,) float64, 0 where undefined
    has_cents: np.ndarray  # (T,) bool: a note sounds, the frame is voiced, |cents| <= MAX_CENTS


def expression_targets(features, notes, *, frame_rate: int, transpose: int = 0) -> Targets:
    """``features``: :class:`~cwrnn_audio.ddsp.features.FrameFeatures` of the recording (or anything
    with ``f0_hz``, ``voiced`` and ``loudness_db`` of shape ``(T,)``) at ``frame_rate``; ``notes``: the
    score on the recording's timeline (:func:`~.align.align`); ``transpose``: semitones the recording
    sounds above the score (the alignment's), so the deviation is from the note as played."""
    f0 = np.asarray(features.f0_hz, np.float64)
    voiced = np.asarray(features.voiced, bool)
    loudness = np.asarray(features.loudness_db, np.float64)
    if not (f0.shape == voiced.shape == loudness.shape) or f0.ndim != 1:
        raise ParameterError(
            f"features: f0_hz, voiced and loudness_db must be (frames,) alike; got {f0.shape}, "
            f"{voiced.shape}, {loudness.shape}"
        )
    score = score_frames(notes, frames=f0.size, frame_rate=frame_rate)
    sounding = score[:, 1] > 0
    with np.errstate(divide="ignore", invalid="ignore"):
        cents = 1200.0 * np.log2(f0 / 440.0) - 100.0 * (score[:, 0] + transpose - 69.0)
    has = sounding & voiced & np.isfinite(cents) & (np.abs(cents) <= MAX_CENTS)
    return Targets(loudness, np.where(has, cents, 0.0), has)
