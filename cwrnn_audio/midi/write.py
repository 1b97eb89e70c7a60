"""Writing a :class:`Score` (or a note list) as a standard type 1 MIDI file."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

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

    def ticks(seconds):  # one tempo-map lookup for all times: per note it took 23 s for 100k notes
        return [int(t) for t in np.round(score.beats(np.asarray(seconds, np.float64)) * ticks_per_beat)]

    conductor = mido.MidiTrack()
    starts = ticks([s for s, _ in score.tempos] + [s for s, _, _ in score.time_signatures])
    events = [(t, 0, "set_tempo", dict(tempo=int(us))) for t, (_, us) in zip(starts, score.tempos)]
    events += [
        (t, 0, "time_signature", dict(numerator=a, denominator=b))
        for t, (_, a, b) in zip(starts[len(score.tempos) :], score.time_signatures)
    ]
    _append_sorted(conductor, events)
    mid.tracks.append(conductor)
    groups = {}
    for n in score.notes:
        groups.setdefault((n.channel, n.program), []).append(n)
    for (channel, program), group in sorted(groups.items()):
        track = mido.MidiTrack()
        events = [(0, 0, "program_change", dict(channel=channel, program=program))]
        on, off = ticks([n.start for n in group]), ticks([n.end for n in group])
        for n, t_on, t_off in zip(group, on, off):
            # offs sort before ons at the same tick, so a repeated note is not cut short
            events.append((t_off, 1, "note_off", dict(channel=channel, note=n.pitch, velocity=0)))
            events.append((t_on, 2, "note_on", dict(channel=channel, note=n.pitch, velocity=n.velocity)))
        _append_sorted(track, events)
        mid.tracks.append(track)
    with atomic_path(path) as tmp:
        mid.save(str(tmp))
    return path


def _append_sorted(track, events):
    """``(tick, order, type, fields)`` events into ``track`` by tick, then order (stable)."""
    import mido

    last = 0
    for t, _, kind, fields in sorted(events, key=lambda e: (e[0], e[1])):
        meta = kind in ("set_tempo", "time_signature")
        track.append((mido.MetaMessage if meta else mido.Message)(kind, time=t - last, **fields))
        last = t
