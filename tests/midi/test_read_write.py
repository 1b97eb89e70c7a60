import warnings

import mido
import numpy as np
import pretty_midi
import pytest

from cwrnn_audio import ParameterError
from cwrnn_audio.midi import Note, Score, read_midi, write_midi


def messy_file(path, type_=1, pathological=True):
    """Tempo changes, velocity-0 offs, programs, drums; with ``pathological``, also overlapping
    same-pitch notes and a note never released (where readers' policies differ)."""
    mid = mido.MidiFile(type=type_, ticks_per_beat=96)
    conductor = mido.MidiTrack(
        [
            mido.MetaMessage("set_tempo", tempo=500_000, time=0),
            mido.MetaMessage("time_signature", numerator=3, denominator=4, time=0),
            mido.MetaMessage("set_tempo", tempo=300_000, time=192),
        ]
    )
    piano = mido.MidiTrack(
        [
            mido.Message("program_change", channel=0, program=5, time=0),
            mido.Message("note_on", channel=0, note=60, velocity=90, time=0),
            mido.Message(
                "note_on", channel=0, note=60 if pathological else 59, velocity=70, time=48
            ),  # overlap
            mido.Message("note_on", channel=0, note=60, velocity=0, time=48),  # velocity 0: an off
            mido.Message("note_off", channel=0, note=60 if pathological else 59, velocity=0, time=48),
            mido.Message("note_on", channel=0, note=64, velocity=100, time=0),
            mido.Message("note_off", channel=0, note=64, velocity=0, time=300),
        ]
    )
    if pathological:
        piano.append(mido.Message("note_on", channel=0, note=67, velocity=50, time=10))  # never released
    piano.append(mido.Message("control_change", channel=0, control=7, value=100, time=90))
    drums = mido.MidiTrack(
        [
            mido.Message("note_on", channel=9, note=36, velocity=120, time=96),
            mido.Message("note_off", channel=9, note=36, velocity=0, time=24),
        ]
    )
    if type_ == 0:
        merged = mido.merge_tracks([conductor, piano, drums])
        mid.tracks.append(merged)
    else:
        mid.tracks.extend([conductor, piano, drums])
    mid.save(str(path))
    return path


def as_rows(notes, drum_of=lambda n: n.channel == 9):
    return sorted(
        (n.pitch, n.velocity, round(n.start, 6), round(n.end, 6), n.program, drum_of(n)) for n in notes
    )


@pytest.mark.parametrize("type_", [0, 1])
def test_reader_agrees_with_pretty_midi(tmp_path, type_):
    path = messy_file(tmp_path / "m.mid", type_, pathological=False)
    ours = read_midi(path)
    pm = pretty_midi.PrettyMIDI(str(path))
    theirs = [
        (n.pitch, n.velocity, round(n.start, 6), round(n.end, 6), inst.program, inst.is_drum)
        for inst in pm.instruments
        for n in inst.notes
    ]
    assert as_rows(ours.notes) == sorted(theirs)
    assert ours.time_signatures == [(0.0, 3, 4)]
    assert [us for _, us in ours.tempos] == [500_000, 300_000]


def test_the_messy_details(tmp_path):
    notes = read_midi(messy_file(tmp_path / "m.mid")).notes
    sixties = [n for n in notes if n.pitch == 60]
    # FIFO: the first off closes the first on (90), the second the overlapping one (70)
    assert [(n.velocity, n.start, n.end) for n in sixties] == [(90, 0.0, 0.5), (70, 0.25, 0.75)]
    hanging = next(n for n in notes if n.pitch == 67)
    assert hanging.end > hanging.start  # closed at the end of its track
    assert all(n.program == 5 for n in notes if n.channel == 0)


def test_drums_kept_apart_dropped_or_alone(tmp_path):
    path = messy_file(tmp_path / "m.mid")
    assert any(n.is_drum for n in read_midi(path).notes)
    assert not any(n.is_drum for n in read_midi(path, drums="drop").notes)
    assert all(n.is_drum for n in read_midi(path, drums="only").notes)


def test_sustain_pedal_extends_released_notes(tmp_path):
    mid = mido.MidiFile(ticks_per_beat=100)
    mid.tracks.append(
        mido.MidiTrack(
            [
                mido.Message("control_change", control=64, value=127, time=0),
                mido.Message("note_on", note=60, velocity=80, time=0),
                mido.Message("note_off", note=60, time=100),
                mido.Message("control_change", control=64, value=0, time=200),
            ]
        )
    )
    mid.save(str(tmp_path / "p.mid"))
    plain, pedalled = (
        read_midi(tmp_path / "p.mid").notes[0],
        read_midi(tmp_path / "p.mid", sustain=True).notes[0],
    )
    assert plain.end == pytest.approx(0.5) and pedalled.end == pytest.approx(1.5)


def test_type2_is_refused_or_read_track_by_track(tmp_path):
    mid = mido.MidiFile(type=2, ticks_per_beat=100)
    for p in (60, 62):
        mid.tracks.append(
            mido.MidiTrack(
                [
                    mido.Message("note_on", note=p, velocity=64, time=0),
                    mido.Message("note_off", note=p, time=100),
                ]
            )
        )
    mid.save(str(tmp_path / "t2.mid"))
    with pytest.raises(ParameterError, match="type 2"):
        read_midi(tmp_path / "t2.mid")
    notes = read_midi(tmp_path / "t2.mid", type2="tracks").notes
    assert [(n.pitch, n.start) for n in notes] == [(60, 0.0), (62, 0.5)]


def test_writer_round_trips_through_a_second_reader(tmp_path):
    rng = np.random.default_rng(0)
    notes = [
        Note(int(p), int(v), float(s), float(s + d), int(c), int(pr))
        for p, v, s, d, c, pr in zip(
            rng.integers(21, 109, 60),
            rng.integers(1, 128, 60),
            rng.uniform(0, 10, 60),
            rng.uniform(0.05, 2, 60),
            rng.choice([0, 1, 9], 60),
            rng.integers(0, 128, 60),
        )
    ]
    notes = [n._replace(program=0) if n.channel == 9 else n for n in notes]
    kept, busy = [], {}  # no overlapping notes of one pitch on one channel: readers differ there
    for n in sorted(notes, key=lambda n: n.start):
        if n.start > busy.get((n.channel, n.pitch), -1.0) + 0.02:
            kept.append(n)
            busy[(n.channel, n.pitch)] = n.end
    notes = kept
    score = Score(notes=notes, tempos=[(0.0, 500_000), (4.0, 750_000)])
    write_midi(score, tmp_path / "w.mid")
    pm = pretty_midi.PrettyMIDI(str(tmp_path / "w.mid"))
    theirs = sorted(
        (n.pitch, n.velocity, inst.program, inst.is_drum, round(n.start, 2), round(n.end, 2))
        for inst in pm.instruments
        for n in inst.notes
    )
    ours = sorted(
        (n.pitch, n.velocity, n.program, n.channel == 9, round(n.start, 2), round(n.end, 2)) for n in notes
    )
    assert len(theirs) == len(ours)
    for a, b in zip(theirs, ours):  # times to within a tick (1/480 beat)
        assert a[:4] == b[:4] and abs(a[4] - b[4]) <= 0.011 and abs(a[5] - b[5]) <= 0.011


def test_bad_files(tmp_path):
    good = messy_file(tmp_path / "g.mid")
    data = good.read_bytes()
    (tmp_path / "trunc.mid").write_bytes(data[: len(data) // 2])
    (tmp_path / "junk.mid").write_bytes(b"MThd garbage")
    for name in ("trunc.mid", "junk.mid"):
        with pytest.raises(ParameterError, match=name):
            read_midi(tmp_path / name)
    with pytest.raises(ParameterError, match="no such MIDI file"):
        read_midi(tmp_path / "missing.mid")
    mid = mido.MidiFile(ticks_per_beat=1)
    mid.tracks.append(
        mido.MidiTrack(
            [
                mido.MetaMessage("set_tempo", tempo=16_000_000),  # 3.75 bpm
                mido.Message("note_on", note=60, velocity=64, time=0),
                mido.Message("note_off", note=60, time=2**27),
            ]
        )
    )
    mid.save(str(tmp_path / "hostile.mid"))
    with warnings.catch_warnings(record=True) as caught, pytest.raises(ParameterError, match="past the"):
        warnings.simplefilter("always")
        read_midi(tmp_path / "hostile.mid")
    assert any("absurd tempo" in str(w.message) for w in caught)
    empty = mido.MidiFile()
    empty.tracks.append(mido.MidiTrack([mido.MetaMessage("set_tempo", tempo=500_000)]))
    empty.save(str(tmp_path / "empty.mid"))
    assert read_midi(tmp_path / "empty.mid").notes == []
