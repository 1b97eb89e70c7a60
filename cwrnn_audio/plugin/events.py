"""MIDI events as plugins take them: ``(offset, type, note, velocity)`` inside a block, checked."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from ..errors import ParameterError, ParameterTypeError

EVENT_TYPES = ("note_on", "note_off")


class MidiEvent(NamedTuple):
    offset: int  # frame inside the block
    type: str  # "note_on" or "note_off" (note_on with velocity 0 is a note_off)
    note: int
    velocity: int = 0


def valid_events(events, num_frames: int, *, name: str) -> list:
    """``events`` as :class:`MidiEvent` s of Python ints, sorted by offset (stable), or an error
    naming the event: offsets inside the block (0 in an empty one), notes and velocities 0..127,
    types :data:`EVENT_TYPES`. Every note-taking plugin reads its events through this."""
    if isinstance(events, (str, bytes)) or not hasattr(events, "__iter__"):
        raise ParameterTypeError(
            f"{name}: events must be a list of (offset, type, note, velocity); got {events!r}"
        )
    out = []
    for ev in events:
        if not isinstance(ev, (tuple, list)) or not 3 <= len(ev) <= 4:
            raise ParameterTypeError(f"{name}: an event is (offset, type, note, velocity); got {ev!r}")
        ev = MidiEvent(*ev)
        for field, hi in (("offset", max(1, num_frames) - 1), ("note", 127), ("velocity", 127)):
            value = getattr(ev, field)
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
                raise ParameterTypeError(f"{name}: event {field} must be an integer in 0..{hi}; got {ev!r}")
            if not 0 <= value <= hi:
                where = f", outside the block of {num_frames} frames" if field == "offset" else ""
                raise ParameterError(f"{name}: event {field} must be in 0..{hi}; got {ev!r}{where}")
        if not isinstance(ev.type, str):
            raise ParameterTypeError(f"{name}: event type must be one of {EVENT_TYPES}; got {ev!r}")
        if ev.type not in EVENT_TYPES:
            raise ParameterError(f"{name}: event type must be one of {EVENT_TYPES}; got {ev!r}")
        out.append(MidiEvent(int(ev.offset), ev.type, int(ev.note), int(ev.velocity)))
    out.sort(key=lambda e: e.offset)
    return out
