import numpy as np
import pretty_midi
import pytest

from cwrnn_audio import ParameterError
from cwrnn_audio.midi import Note, Score, read_midi, write_midi
from cwrnn_audio.midi.events import EventEncoding, bin_velocity
from cwrnn_audio.midi.melody import MelodyEncoding
from cwrnn_audio.midi.roll import RollEncoding


def grid_notes(rng, n=40, spb=4, tempos=((0.0, 500_000),)):
    """Random polyphonic notes whose times sit on a sixteenth grid of the tempo map."""
    score = Score(tempos=list(tempos))
    k0 = rng.integers(0, 64, n)
    k1 = k0 + rng.integers(1, 9, n)
    s, e = score.seconds(k0 / spb), score.seconds(k1 / spb)
    notes = {
        (int(p), int(a)): Note(int(p), int(v), float(a_s), float(b_s))
        for p, a, v, a_s, b_s in zip(rng.integers(40, 90, n), k0, rng.integers(1, 128, n), s, e)
    }
    # one note per pitch at a time: drop overlaps so the roll can hold them
    out, last_end = [], {}
    for (p, _), note in sorted(notes.items(), key=lambda kv: kv[1].start):
        if note.start >= last_end.get(p, -1):
            out.append(note)
            last_end[p] = note.end
    return Score(notes=out, tempos=list(tempos))


@pytest.mark.parametrize("velocity", [False, True])
def test_roll_round_trips_on_a_beat_grid_with_tempo_changes(rng, velocity):
    score = grid_notes(rng, tempos=((0.0, 500_000), (3.0, 400_000)))
    enc = RollEncoding(steps_per_beat=4, velocity=velocity)
    roll = enc.sequence(score)
    back = enc.decode(roll, score)
    key = (
        (lambda n: (n.pitch, round(n.start, 6), round(n.end, 6), n.velocity))
        if velocity
        else (lambda n: (n.pitch, round(n.start, 6), round(n.end, 6)))
    )
    assert sorted(map(key, back)) == sorted(map(key, score.notes))
    np.testing.assert_array_equal(enc.sequence(Score(notes=back, tempos=score.tempos)), roll)


def test_roll_keeps_repeated_notes_apart_and_checked_against_pretty_midi(tmp_path):
    score = Score(notes=[Note(60, 80, 0.0, 0.5), Note(60, 80, 0.5, 1.0), Note(64, 80, 0.25, 1.0)])
    enc = RollEncoding(fps=100)
    write_midi(score, tmp_path / "r.mid")
    ours = enc.sequence(read_midi(tmp_path / "r.mid"))[:, :128]
    theirs = (pretty_midi.PrettyMIDI(str(tmp_path / "r.mid")).get_piano_roll(fs=100) > 0).T.astype(np.float32)
    np.testing.assert_array_equal(ours, theirs[: len(ours)])
    assert len(enc.decode(enc.sequence(score), score)) == 3  # the two Cs stay two notes


def test_hostile_long_note_does_not_allocate_a_huge_roll():
    score = Score(notes=[Note(60, 80, 0.0, 1e7)])
    with pytest.raises(ParameterError, match="step limit"):
        RollEncoding(fps=100).sequence(score)


def test_event_tokens_round_trip(rng):
    enc = EventEncoding()
    notes, busy = [], {}
    for p in rng.integers(30, 100, 80):
        s = int(rng.integers(0, 500))
        e = s + int(rng.integers(1, 250))
        if s < busy.get(int(p), -1):  # one note per pitch at a time
            continue
        busy[int(p)] = e
        notes.append(Note(int(p), bin_velocity(int(rng.integers(0, 32))), s / 100, e / 100))
    notes.append(Note(72, bin_velocity(5), 9.0, 9.5))  # after a gap of several seconds
    tokens = enc.sequence(Score(notes=notes))
    assert tokens.min() >= 0 and tokens.max() < 388
    back = enc.decode(tokens)
    key = lambda n: (n.pitch, n.velocity, round(n.start, 6), round(n.end, 6))  # noqa: E731
    assert sorted(map(key, back)) == sorted(map(key, notes))
    np.testing.assert_array_equal(enc.sequence(Score(notes=back)), tokens)


def test_melody_round_trips_a_monophonic_line():
    score = Score(
        notes=[
            Note(60, 80, 0.0, 0.5),
            Note(62, 80, 0.5, 0.625),
            Note(64, 80, 1.0, 2.0),
            Note(64, 80, 2.0, 2.25),
        ]
    )
    enc = MelodyEncoding(steps_per_beat=4)
    tokens = enc.sequence(score)
    assert tokens.tolist()[:6] == [62, 1, 1, 1, 64, 0]
    back = enc.decode(tokens, score)
    assert [(n.pitch, n.start, n.end) for n in back] == [(n.pitch, n.start, n.end) for n in score.notes]
    np.testing.assert_array_equal(enc.sequence(Score(notes=back)), tokens)
