"""Writing a :class:`Score` (or a note list) as a standard type 1 MIDI file."""

from __future__ import annotations

import os
from pathlib import Path

from ..errors import ParameterError
from ..io.atomic import atomic_path
from .notes import Note, Score


def write_midi(score, path, *, ticks_per_beat: int = 480) -> Path:
    """Write notes as a type 1 file: a tempo track, then one track per (channel, program).

    The score's tempo map is written as is, so note times in seconds survive the round trip
    to within a tick. Written atomically.
    """
    import mido

    if not isinstance(score, Score):
        score = Score(notes=list(score))
    for n in score.notes:
        if not (
            isinstance(n, Note)
            and 0 <= n.pitch <= 127
            and 1 <= n.velocity <= 127
            and 0 <= n.start <= n.end
            and 0 <= n.channel <= 15
            and 0 <= n.program <= 127
        ):
            raise ParameterError(f"not a valid note for MIDI: {n!r}")
    path = Path(os.fspath(path))
    mid = mido.MidiFile(type=1, ticks_per_beat=ticks_per_beat)

    def tick(seconds):
        return int(round(float(score.beats(seconds)) * ticks_per_beat))

    conductor = mido.MidiTrack()
    events = [(tick(s), mido.MetaMessage("set_tempo", tempo=int(us))) for s, us in score.tempos]
    events += [
        (tick(s), mido.MetaMessage("time_signature", numerator=a, denominator=b))
        for s, a, b in score.time_signatures
    ]
    _append_sorted(conductor, events)
    mid.tracks.append(conductor)
    groups = {}
    for n in score.notes:
        groups.setdefault((n.channel, n.program), []).append(n)
    for (channel, program), group in sorted(groups.items()):
        track = mido.MidiTrack()
        events = [(0, mido.Message("program_change", channel=channel, program=program))]
        for n in group:
            # offs sort before ons at the same tick, so a repeated note is not cut short
            events.append((tick(n.end), mido.Message("note_off", channel=channel, note=n.pitch, velocity=0)))
            events.append(
                (tick(n.start), mido.Message("note_on", channel=channel, note=n.pitch, velocity=n.velocity))
            )
        _append_sorted(track, events)
        mid.tracks.append(track)
    with atomic_path(path) as tmp:
        mid.save(str(tmp))
    return path


def _append_sorted(track, events):
    order = {"program_change": 0, "set_tempo": 0, "time_signature": 0, "note_off": 1, "note_on": 2}
    last = 0
    for t, msg in sorted(events, key=lambda e: (e[0], order.get(e[1].type, 3))):
        track.append(msg.copy(time=t - last))
        last = t
