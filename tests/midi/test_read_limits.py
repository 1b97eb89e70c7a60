"""MIDI files that would cost more than their size: tempo 0 (D6), event floods (D14), chords of
thousands of notes (D7)."""

import struct

import mido
import pytest

from cwrnn_audio.errors import ParameterError
from cwrnn_audio.midi import limits
from cwrnn_audio.midi.corpus import load_scores
from cwrnn_audio.midi.limits import check_polyphony, count_events, max_simultaneous
from cwrnn_audio.midi.notes import Note
from cwrnn_audio.midi.read import read_midi


def _write(path, messages, ticks_per_beat=480):
    mid = mido.MidiFile(ticks_per_beat=ticks_per_beat)
    mid.tracks.append(mido.MidiTrack(messages))
    mid.save(str(path))
    return path


def _tune(path, tempo=500_000):
    return _write(
        path,
        [
            mido.MetaMessage("set_tempo", tempo=tempo),
            mido.Message("note_on", note=60, velocity=90),
            mido.Message("note_off", note=60, time=480),
        ],
    )


def _flood(path, n_events):
    """One track of ``n_events`` note events written with running status (3 bytes each)."""
    body = b"\x00\x90\x3c\x40" + b"\x00\x3c\x00\x00\x3c\x40" * ((n_events - 1) // 2) + b"\x00\xff\x2f\x00"
    head = b"MThd" + struct.pack(">IHHH", 6, 0, 1, 480)
    path.write_bytes(head + b"MTrk" + struct.pack(">I", len(body)) + body)
    return path


def test_tempo_zero_is_a_parameter_error_naming_the_file(tmp_path):
    bad = _tune(tmp_path / "zero.mid", tempo=0)
    with pytest.raises(ParameterError, match="zero.mid.*tempo of 0"):
        read_midi(bad)


def test_a_folder_skips_and_lists_a_tempo_zero_file(tmp_path):
    _tune(tmp_path / "good.mid")
    _tune(tmp_path / "zero.mid", tempo=0)
    scores, skipped = load_scores(tmp_path)
    assert len(scores) == 1 and len(scores[0].notes) == 1
    assert [p.name for p, _ in skipped] == ["zero.mid"]


def test_events_are_counted_as_mido_parses_them(tmp_path):
    path = _flood(tmp_path / "f.mid", 1001)
    parsed = sum(len(t) for t in mido.MidiFile(str(path)).tracks)
    assert count_events(path.read_bytes(), "f.mid") == parsed


def test_too_many_events_are_refused_before_parsing(tmp_path, monkeypatch):
    monkeypatch.setattr(limits, "MAX_EVENTS", 1000)
    path = _flood(tmp_path / "flood.mid", 5001)
    parsed = []
    monkeypatch.setattr(mido, "MidiFile", lambda *a, **k: parsed.append(1))
    with pytest.raises(ParameterError, match=r"flood.mid: more than 1,000 MIDI events"):
        read_midi(path)
    assert not parsed  # refused from the bytes: mido never built its objects


def test_a_file_under_the_event_limit_still_reads(tmp_path, monkeypatch):
    monkeypatch.setattr(limits, "MAX_EVENTS", 1000)
    assert len(read_midi(_flood(tmp_path / "ok.mid", 999)).notes) == 500


def test_simultaneous_notes_are_counted_by_overlap():
    chord = [Note(60 + i, 90, 0.0, 1.0) for i in range(5)]
    melody = [Note(60, 90, float(i), float(i + 1)) for i in range(10)]  # end meets start: no overlap
    assert max_simultaneous(chord) == 5 and max_simultaneous(melody) == 1
    assert max_simultaneous(chord + melody) == 6 and max_simultaneous([]) == 0


def test_polyphony_past_the_limit_names_the_file_and_the_limit():
    notes = [Note(60, 90, 0.0, 10.0)] * 200
    with pytest.raises(ParameterError, match=r"song.mid: 200 notes sound at the same time; at most 128"):
        check_polyphony(notes, "song.mid")
    check_polyphony(notes[:128], "song.mid")
