"""Playback settings kept in a model folder: one check per field, as mido checks a message's
attributes. A check takes the value read from the file and the name to report (file and key),
and returns the value to play with or raises; nothing is coerced, so ``"fast"`` or ``999`` is
refused where it is read, not turned into a division by zero or a silent program change later.
"""

from __future__ import annotations

from ..checks import valid_int, valid_number
from ..errors import ParameterError, ParameterTypeError
from ..midi.read import MAX_TEMPO_US, MIN_TEMPO_US

MAX_PITCH_HZ = 20_000.0  # the top of hearing: an f0 range beyond it is not a recording's


def check_program(value, *, name: str) -> int:
    """A General MIDI program number."""
    program = valid_int(value, name=name, minimum=0)
    if program > 127:
        raise ParameterError(f"{name} must be a MIDI program from 0 to 127; got {value!r}")
    return program


def check_tempo_bpm(value, *, name: str) -> float:
    """Beats a minute, in the range a MIDI file's tempo is read in."""
    return valid_number(value, name=name, lo=60e6 / MAX_TEMPO_US, hi=60e6 / MIN_TEMPO_US)


def check_pitch_range(value, *, name: str) -> list:
    """``[lowest, highest]`` f0 in Hz, or ``[0, 0]`` where unknown."""
    want = f"{name} must be [lowest, highest] Hz with 0 <= lowest <= highest <= {MAX_PITCH_HZ:g}"
    if not isinstance(value, (list, tuple)):
        raise ParameterTypeError(f"{want}; got {value!r}")
    if len(value) != 2:
        raise ParameterError(f"{want}; got {value!r}")
    lo, hi = (valid_number(v, name=f"{name}[{i}]", lo=0.0, hi=MAX_PITCH_HZ) for i, v in enumerate(value))
    if lo > hi:
        raise ParameterError(f"{want}; got {value!r}")
    return [lo, hi]


CHECKS = {"program": check_program, "tempo_bpm": check_tempo_bpm, "pitch_range": check_pitch_range}


def _like(default):
    """The check for a field no entry of ``CHECKS`` names (a codec from another package): the
    default's JSON type, a whole number counting as a number."""

    def check(value, *, name: str):
        if isinstance(default, float) and not isinstance(default, bool):
            return valid_number(value, name=name)
        if type(value) is not type(default):
            raise ParameterTypeError(f"{name} must be of type {type(default).__name__}; got {value!r}")
        return value

    return check


def check_playback(defaults: dict, data: dict, *, source: str) -> dict:
    """The playback fields named in ``defaults``, each taken out of ``data`` and checked; a field
    the file lacks keeps its default."""
    out = {}
    for key, default in defaults.items():
        if key not in data:
            out[key] = list(default) if isinstance(default, list) else default
            continue
        out[key] = CHECKS.get(key, _like(default))(data.pop(key), name=f"{source}: {key}")
    return out
