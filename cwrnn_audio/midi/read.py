"""Reading real-world MIDI files with mido into a :class:`Score`."""

from __future__ import annotations

import os
import warnings
from collections import defaultdict, deque
from pathlib import Path

from ..checks import valid_choice
from ..errors import ParameterError
from .limits import count_events
from .notes import DRUM_CHANNEL, Note, Score

MIN_TEMPO_US, MAX_TEMPO_US = 60_000, 6_000_000  # 1000 bpm .. 10 bpm: beyond is a broken file
MAX_SECONDS = 4 * 3600.0  # a note past this is a hostile or broken file, not music
MAX_FILE_BYTES = 64 * 2**20


def _tempo_map(mid, source):
    """[(tick, microseconds per beat)] from every track's set_tempo events, clamped to sane values."""
    changes = []
    for track in mid.tracks:
        tick = 0
        for msg in track:
            tick += msg.time
            if msg.type == "set_tempo":
                us = msg.tempo
                if us <= 0:  # no bpm to clamp to: every later tick would be at time 0
                    raise ParameterError(f"{source}: tempo of {us} microseconds per beat at tick {tick}")
                if not MIN_TEMPO_US <= us <= MAX_TEMPO_US:
                    clamped = min(max(us, MIN_TEMPO_US), MAX_TEMPO_US)
                    warnings.warn(
                        f"{source}: absurd tempo {60e6 / us:.3g} bpm at tick {tick}; using {60e6 / clamped:.3g}",
                        stacklevel=2,
                    )
                    us = clamped
                changes.append((tick, us))
    changes.sort(key=lambda c: c[0])
    if not changes or changes[0][0] != 0:
        changes.insert(0, (0, 500_000))  # the MIDI default, 120 bpm
    return changes


def _tick_to_seconds(changes, tpb):
    """A function tick -> seconds through the tempo changes."""
    starts, secs = [], []
    t = 0.0
    for i, (tick, _us) in enumerate(changes):
        if i:
            prev_tick, prev_us = changes[i - 1]
            t += (tick - prev_tick) * prev_us / 1e6 / tpb
        starts.append(tick)
        secs.append(t)

    def convert(tick):
        lo, hi = 0, len(starts) - 1
        while lo < hi:  # last change at or before tick
            mid = (lo + hi + 1) // 2
            if starts[mid] <= tick:
                lo = mid
            else:
                hi = mid - 1
        return secs[lo] + (tick - starts[lo]) * changes[lo][1] / 1e6 / tpb

    return convert, [(s, us) for s, (_, us) in zip(secs, changes)]


def read_midi(path, *, sustain: bool = False, drums: str = "keep", type2: str = "refuse") -> Score:
    """Read a type 0 or 1 MIDI file into a :class:`Score` (times in seconds).

    Parameters
    ----------
    path : str or os.PathLike
    sustain : bool, keyword-only
        Extend notes released while the sustain pedal (CC64) is down to the pedal's release.
    drums : {"keep", "drop", "only"}
        What to do with channel 10 (percussion).
    type2 : {"refuse", "tracks"}
        Type 2 files hold independent patterns: refused, or read track after track.

    Note-on with velocity 0 is a note-off; overlapping notes of one pitch on one channel are
    closed first-in, first-out; notes still sounding at the end of their track are closed there;
    each note takes the program last set on its channel (per track).
    """
    valid_choice(drums, ("keep", "drop", "only"), name="drums")
    valid_choice(type2, ("refuse", "tracks"), name="type2")
    mid, source = _open(path, type2)
    changes = _tempo_map(mid, source)
    to_seconds, tempos = _tick_to_seconds(changes, mid.ticks_per_beat)
    notes, signatures = [], []
    offset = 0  # type 2: tracks follow each other
    for track in mid.tracks:
        end = _read_track(track, offset, to_seconds, sustain, source, notes, signatures)
        if mid.type == 2:
            offset = end
    if drums == "drop":
        notes = [n for n in notes if n.channel != DRUM_CHANNEL]
    elif drums == "only":
        notes = [n for n in notes if n.channel == DRUM_CHANNEL]
    return Score(notes=notes, tempos=tempos, time_signatures=signatures, source=source)


def _open(path, type2):
    """The parsed file and its name for messages, refusing what cannot be read as notes."""
    import io

    import mido

    path = Path(os.fspath(path))
    source = str(path)
    if not path.is_file():
        raise ParameterError(f"{source}: no such MIDI file")
    if path.stat().st_size > MAX_FILE_BYTES:
        raise ParameterError(f"{source}: {path.stat().st_size} bytes is too large for a MIDI file")
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ParameterError(f"{source}: cannot read the MIDI file ({exc.strerror or exc})") from None
    count_events(data, source)  # before mido makes an object of each event
    try:
        mid = mido.MidiFile(file=io.BytesIO(data), clip=True)
    except Exception as exc:  # mido raises OSError, EOFError, ValueError, KeyError for broken files
        raise ParameterError(f"{source}: not a readable MIDI file ({type(exc).__name__}: {exc})") from None
    if mid.type == 2 and type2 == "refuse":
        raise ParameterError(
            f"{source}: type 2 MIDI (independent patterns) is not supported; pass type2='tracks'"
        )
    if mid.ticks_per_beat <= 0:
        raise ParameterError(f"{source}: SMPTE time division is not supported")
    return mid, source


def _read_track(track, tick, to_seconds, sustain, source, notes, signatures) -> int:
    """Append one track's notes and time signatures; returns the track's last tick."""
    open_notes = defaultdict(deque)  # (channel, pitch) -> deque of (start tick, velocity, program)
    held = defaultdict(list)  # channel -> notes released under the pedal: (channel, pitch, start, vel, prog)
    pedal = defaultdict(bool)
    program = defaultdict(int)

    def close(ch, pitch, start, vel, prog, end_tick):
        s, e = to_seconds(start), to_seconds(end_tick)
        if e > MAX_SECONDS:
            raise ParameterError(f"{source}: a note ends at {e:.0f} s, past the {MAX_SECONDS:.0f} s limit")
        notes.append(Note(pitch, vel, s, max(s, e), ch, prog))

    for msg in track:
        tick += msg.time
        if msg.type == "time_signature":
            signatures.append((to_seconds(tick), msg.numerator, msg.denominator))
        elif msg.type == "program_change":
            program[msg.channel] = msg.program
        elif msg.type == "control_change" and msg.control == 64 and sustain:
            down = msg.value >= 64
            if pedal[msg.channel] and not down:
                for ch, p, st, v, pr in held.pop(msg.channel, []):
                    close(ch, p, st, v, pr, tick)
            pedal[msg.channel] = down
        elif msg.type == "note_on" and msg.velocity > 0:
            for i, (ch, p, st, v, pr) in enumerate(held[msg.channel]):  # re-struck under the pedal
                if p == msg.note:
                    close(ch, p, st, v, pr, tick)
                    del held[msg.channel][i]
                    break
            open_notes[(msg.channel, msg.note)].append((tick, msg.velocity, program[msg.channel]))
        elif msg.type in ("note_off", "note_on"):
            key = (msg.channel, msg.note)
            if open_notes[key]:
                st, v, pr = open_notes[key].popleft()
                if sustain and pedal[msg.channel]:
                    held[msg.channel].append((msg.channel, msg.note, st, v, pr))
                else:
                    close(msg.channel, msg.note, st, v, pr, tick)
    for (ch, p), queue in open_notes.items():  # still sounding at the end of the track
        for st, v, pr in queue:
            close(ch, p, st, v, pr, tick)
    for items in held.values():
        for c, p, st, v, pr in items:
            close(c, p, st, v, pr, tick)
    return tick
