"""A score put on a recording's timeline: dynamic time warping of the score's pitch line against the
recording's f0 (pYIN, as the harmonic codec analyses it), and how well the two then agree.

The cost of pairing a score frame with a recording frame is the distance of their pitches in
semitones, capped at :data:`CAP_SEMITONES` so that pYIN's octave slips cost no more than any wrong
note; a rest against an unvoiced frame costs nothing, a rest against a pitch (or a note against
silence) costs the cap. librosa's DTW runs at :data:`DTW_RATE` frames a second (a 30 s piece:
1500 x 1500 cells) and the path is interpolated back to the notes' times.

The quality is the share of the recording's voiced frames whose f0 lies within
:data:`TOLERANCE_SEMITONES` of the aligned score's pitch; :func:`align` refuses a pair below
:data:`MIN_QUALITY`, naming both files.
"""

from __future__ import annotations

import warnings
from typing import NamedTuple

import numpy as np

from ..errors import ParameterError

CAP_SEMITONES = 2.0
DTW_RATE = 50  # frames a second
TOLERANCE_SEMITONES = 1.0
MIN_QUALITY = 0.6


class Alignment(NamedTuple):
    notes: list  # the score's notes, retimed onto the recording (seconds)
    quality: float  # voiced recording frames within TOLERANCE_SEMITONES of the aligned score, 0..1
    transpose: int  # semitones the recording sounds above the score


def _pitch_line(notes, frames: int, rate: float) -> np.ndarray:
    """MIDI pitch per frame (NaN in rests)."""
    line = np.full(frames, np.nan)
    t = (np.arange(frames) + 0.5) / rate
    for n in notes:
        line[(t >= n.start) & (t < n.end)] = n.pitch
    return line


def _semitones(f0_hz, voiced) -> np.ndarray:
    f0 = np.asarray(f0_hz, np.float64)
    return np.where(
        np.asarray(voiced, bool) & (f0 > 0), 69.0 + 12.0 * np.log2(np.maximum(f0, 1e-9) / 440.0), np.nan
    )


def _cost(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    d = np.minimum(np.abs(a[:, None] - b[None, :]), CAP_SEMITONES)
    rest_a, rest_b = np.isnan(a)[:, None], np.isnan(b)[None, :]
    return np.where(rest_a & rest_b, 0.0, np.where(rest_a | rest_b, CAP_SEMITONES, d))


def align(
    notes,
    f0_hz,
    voiced,
    *,
    frame_rate: int,
    transpose=None,
    score: str = "score",
    recording: str = "recording",
) -> Alignment:
    """Retime ``notes`` onto a recording whose f0 (Hz) and voicing are given per frame.

    Parameters
    ----------
    notes : sequence of :class:`~cwrnn_audio.midi.notes.Note`, seconds
    f0_hz, voiced : np.ndarray, shape (frames,)
        The recording's analysis at ``frame_rate`` (:func:`~cwrnn_audio.ddsp.features.frame_features`).
    frame_rate : int, Hz, keyword-only
    transpose : int or None, semitones, keyword-only
        How far the recording sounds from the score (a flute plays a written part an octave up);
        None: the whole number of octaves between the two lines' median pitches. The notes returned
        keep the score's pitches.
    score, recording : str, keyword-only
        Names for the messages (the files).

    Raises :class:`ParameterError` naming both when the quality is below :data:`MIN_QUALITY`.
    """
    import librosa

    notes = sorted(notes, key=lambda n: (n.start, n.end))
    if not notes:
        raise ParameterError(f"{score}: the score has no notes")
    rec = _semitones(f0_hz, voiced)
    if not np.isfinite(rec).any():
        raise ParameterError(
            f"{recording}: no frame has a pitch; the expression model needs a pitched recording"
        )
    if transpose is None:
        written = np.median([n.pitch for n in notes])
        transpose = 12 * int(np.round((np.nanmedian(rec) - written) / 12.0))
    rec = rec - transpose  # the recording at written pitch
    step = max(1, round(frame_rate / DTW_RATE))
    rate = frame_rate / step
    rec_coarse = rec[: len(rec) // step * step].reshape(-1, step)
    pitched = np.isfinite(rec_coarse).sum(1) * 2 > step  # most of the step's frames have a pitch
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # nanmedian of an unpitched step: NaN, as meant
        rec_coarse = np.where(pitched, np.nanmedian(rec_coarse, 1), np.nan)
    end = max(n.end for n in notes)
    # a rest before and after the score: the path must start and end at both corners, and these
    # absorb the recording's leading and trailing silence (else the first note stretches over it)
    score_line = np.concatenate([[np.nan], _pitch_line(notes, int(np.ceil(end * rate)) + 1, rate), [np.nan]])
    _, path = librosa.sequence.dtw(C=_cost(score_line, rec_coarse), backtrack=True)
    path = path[::-1]  # (score frame, recording frame), in time order
    # a note starts where the recording reaches its first frame and ends where it leaves its last
    first = np.full(len(score_line), np.inf)
    last = np.full(len(score_line), -np.inf)
    np.minimum.at(first, path[:, 0], path[:, 1])
    np.maximum.at(last, path[:, 0], path[:, 1] + 1)
    # a note covers the frames whose centre lies in [start, end) (as _pitch_line draws it); + 1: the pad
    frame = lambda s: min(len(score_line) - 2, max(1, int(np.ceil(s * rate - 0.5)) + 1))  # noqa: E731
    moved = []
    for n in notes:
        a = frame(n.start)
        b = max(frame(n.end) - 1, a)
        moved.append(n._replace(start=float(first[a] / rate), end=float(max(last[b], first[a]) / rate)))
    for i in range(len(moved) - 1):  # a note that ended before the next began still does (the path's
        if notes[i].end <= notes[i + 1].start:  # last frame of one can be the next's first)
            moved[i] = moved[i]._replace(end=min(moved[i].end, moved[i + 1].start))
    aligned = _pitch_line(moved, len(rec), frame_rate)
    voiced_frames = np.isfinite(rec)
    close = np.abs(aligned[voiced_frames] - rec[voiced_frames]) <= TOLERANCE_SEMITONES
    quality = float(np.mean(np.where(np.isnan(aligned[voiced_frames]), False, close)))
    if quality < MIN_QUALITY:
        raise ParameterError(
            f"{score} does not match {recording}: after alignment only {quality:.0%} of the recording's "
            f"pitched frames lie within {TOLERANCE_SEMITONES:g} semitone of the score "
            f"(at least {MIN_QUALITY:.0%} needed; a different piece, part or transposition?)"
        )
    return Alignment(moved, quality, int(transpose))


__all__ = ["Alignment", "MIN_QUALITY", "align"]
