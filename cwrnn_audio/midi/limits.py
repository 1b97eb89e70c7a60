"""Bounds on what a MIDI file may ask for, checked before the work they would cost.

mido turns every event into a Python object (about 85 bytes of memory per byte of file, 2 s per
MB): a 63 MB file took 5.9 GB and 5 minutes to read. The events are counted on the raw bytes
first, stopping at the limit, so a hostile file is refused in well under a second.
"""

from __future__ import annotations

from ..errors import ParameterError

#: more events than any real score (a dense piano piece has ~100k); mido needs ~250 MB for 1M
MAX_EVENTS = 1_000_000
#: notes sounding at once: each is a voice of the synthesizer, run for the whole piece
MAX_SIMULTANEOUS_NOTES = 128


def _varlen(data: bytes, i: int) -> tuple[int, int]:
    value = 0
    for _ in range(4):
        b = data[i]
        i += 1
        value = (value << 7) | (b & 0x7F)
        if b < 0x80:
            break
    return value, i


def count_events(data: bytes, source: str, limit: int | None = None) -> int:
    """The number of events in the file's track chunks; ParameterError past ``limit``.

    Only counts: a malformed chunk ends the count there, and mido then says what is wrong.
    """
    limit = MAX_EVENTS if limit is None else limit
    count, pos = 0, 14  # after the header chunk
    try:
        while pos + 8 <= len(data):
            size = int.from_bytes(data[pos + 4 : pos + 8], "big")
            i, end, status = pos + 8, min(pos + 8 + size, len(data)), 0
            if data[pos : pos + 4] == b"MTrk":
                while i < end:
                    _, i = _varlen(data, i)
                    if data[i] >= 0x80:
                        status, i = data[i], i + 1
                    if status == 0xFF:
                        length, i = _varlen(data, i + 1)
                        i += length
                    elif status in (0xF0, 0xF7):
                        length, i = _varlen(data, i)
                        i += length
                    else:
                        i += 1 if 0xC0 <= status < 0xE0 else 2
                    count += 1
                    if count > limit:
                        raise ParameterError(
                            f"{source}: more than {limit:,} MIDI events; refused before reading "
                            f"(a score that large is a broken or hostile file)"
                        )
            pos += 8 + size
    except IndexError:  # truncated: mido reports it
        pass
    return count


def max_simultaneous(notes) -> int:
    """The most notes sounding at one time (a note ending where another starts does not overlap)."""
    edges = sorted([(n.start, 1) for n in notes] + [(n.end, -1) for n in notes])
    most = now = 0
    for _, step in edges:  # at equal times -1 sorts first: note-offs before note-ons
        now += step
        most = max(most, now)
    return most


def check_polyphony(notes, source: str, limit: int | None = None) -> None:
    """ParameterError when more than ``limit`` notes sound at once (each costs a whole voice)."""
    limit = MAX_SIMULTANEOUS_NOTES if limit is None else limit
    most = max_simultaneous(notes)
    if most > limit:
        raise ParameterError(
            f"{source}: {most} notes sound at the same time; at most {limit} simultaneous notes "
            f"can be played (each takes a voice for the whole piece)"
        )
