"""A MIDI encoding as a model sees it: step inputs, targets, loss, and the inverse."""

from __future__ import annotations

import numpy as np

from ..checks import valid_choice
from ..errors import ParameterError
from .events import EventEncoding
from .melody import MelodyEncoding
from .roll import RollEncoding

ENCODINGS = ("roll", "events", "melody")


def make_encoding(name: str, *, steps_per_beat: int = 4, fps: float | None = None):
    valid_choice(name, ENCODINGS, name="encoding")
    if name == "events":
        return EventEncoding()
    if name == "melody":
        return MelodyEncoding(steps_per_beat=steps_per_beat)
    return RollEncoding(fps=fps, steps_per_beat=None if fps else steps_per_beat)


def encoding_from_dict(d: dict):
    d = dict(d)
    name = d.pop("encoding", None)
    if name not in ENCODINGS:
        raise ParameterError(f"encoding must be one of {ENCODINGS}; got {name!r}")
    d.pop("onsets", None), d.pop("velocity", None)
    return make_encoding(name, **d)


def encoding_to_dict(enc) -> dict:
    return {"encoding": enc.name, **enc.settings()}


def is_categorical(enc) -> bool:
    return enc.name in ("events", "melody")


def model_io(enc) -> tuple[int, int]:
    """(input_size, output_size): one-hot of the previous class, or the previous roll frame."""
    return enc.size, enc.size


def stream(enc, score):
    """(inputs (T, size) float32, targets): targets are classes (T,) or frames (T, size)."""
    seq = enc.encode(score)
    if is_categorical(enc):
        x = np.zeros((len(seq), enc.size), np.float32)
        x[np.arange(1, len(seq)), seq[:-1]] = 1.0
        return x, seq.astype(np.int64)
    x = np.concatenate([np.zeros((1, seq.shape[1]), np.float32), seq[:-1]], axis=0)
    return x, seq.astype(np.float32)
