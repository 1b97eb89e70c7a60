"""MIDI corpora: files or folders (recursive) in, scores out; bad files skipped and listed."""

from __future__ import annotations

import warnings
from pathlib import Path

from ..errors import ParameterError
from ..io.atomic import find_files
from .read import read_midi

MIDI_SUFFIXES = {".mid", ".midi", ".smf", ".kar"}


def find_midi_files(paths) -> list[Path]:
    return find_files(paths, MIDI_SUFFIXES)


def load_scores(paths, *, drums: str = "drop", sustain: bool = False):
    """(scores, skipped [(path, reason)]); warnings from a file (absurd tempo, ...) are listed too."""
    scores, skipped = [], []
    for f in find_midi_files(paths):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                score = read_midi(f, drums=drums, sustain=sustain)
            except ParameterError as exc:
                skipped.append((f, str(exc)))
                continue
        for w in caught:
            skipped.append((f, f"warning: {w.message}"))
        if not score.notes:
            skipped.append((f, f"{f}: no notes"))
            continue
        scores.append(score)
    if not scores:
        detail = "; ".join(r for _, r in skipped) or "no MIDI files found"
        raise ParameterError(f"no usable MIDI: {detail}")
    return scores, skipped
