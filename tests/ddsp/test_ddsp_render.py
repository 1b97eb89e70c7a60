"""Notes to audio through a harmonic model: voices, pitch and loudness curves, the mixed render."""

import warnings

import numpy as np
import pytest
import torch
from conftest import make_model

from cwrnn_audio import ParameterError
from cwrnn_audio.adapters import MuLawAdapter
from cwrnn_audio.adapters.harmonic import HarmonicAdapter
from cwrnn_audio.ddsp.render import FLOOR_DB, Envelope, note_controls, render_notes
from cwrnn_audio.midi.notes import Note

FR = 250  # frames a second


def codec():
    return HarmonicAdapter(sample_rate=16000, frame_rate=FR, n_harmonics=8, n_noise=9)


def harmonic_model(rng, c, *, quiet_noise=False):
    m = make_model(rng, input_size=2, output_size=c.output_size, num_modules=3, module_size=4)
    if quiet_noise:  # noise-band logits far below zero: the noise is ~1e-7, negligible
        with torch.no_grad():
            m.b_O[1 + c.n_harmonics :] = -40.0
    return m


def frame_times(T):
    return (np.arange(T) + 1) / FR  # a frame's parameters hold at its last sample


# --- voices ---------------------------------------------------------------------------------------


def voice_rows(notes, release=0.12):
    """The voice (row of ``note_controls``) that plays each note: the row at the note's pitch and
    level halfway through it."""
    env = Envelope(attack=0.01, release=release)
    f0, db = note_controls(notes, frame_rate=FR, envelope=env)
    t = frame_times(f0.shape[1])
    rows = []
    for n in notes:
        k = int(np.argmin(np.abs(t - (n.start + n.end) / 2)))
        hz = 440.0 * 2 ** ((n.pitch - 69) / 12)
        (row,) = np.nonzero(np.isclose(f0[:, k], hz) & np.isclose(db[:, k], env.level_db(n.velocity)))[0]
        rows.append(int(row))
    return f0.shape[0], rows


# assign_voices is checked through note_controls: its signature is being changed concurrently
# (``assign_voices(notes, release)`` -> ``assign_voices(notes)``), the voice rows are the contract.


def test_overlapping_notes_take_separate_voices():
    notes = [Note(60, 100, 0.0, 1.0), Note(64, 90, 0.2, 0.8), Note(67, 80, 0.5, 0.7)]
    V, rows = voice_rows(notes)
    assert V == 3 and sorted(rows) == [0, 1, 2]


def test_a_voice_is_reused_after_its_note_has_released():
    # gaps longer than the release: one voice plays the whole melody
    notes = [Note(60, 100, 0.0, 0.5), Note(62, 90, 0.7, 1.0), Note(64, 80, 1.2, 1.5)]
    assert voice_rows(notes, release=0.12) == (1, [0, 0, 0])
    # a chord then a later note: the later note takes one of the chord's voices, no third one
    notes = [Note(60, 100, 0.0, 0.5), Note(64, 90, 0.0, 0.5), Note(67, 80, 1.0, 1.3)]
    V, rows = voice_rows(notes, release=0.12)
    assert V == 2 and rows[0] != rows[1] and rows[2] in rows[:2]


# --- control curves -------------------------------------------------------------------------------


def test_f0_rows_hold_each_notes_pitch():
    notes = [Note(69, 100, 0.0, 0.5), Note(60, 80, 0.2, 1.0)]
    f0, db = note_controls(notes, frame_rate=FR)
    env = Envelope()
    assert f0.shape == db.shape == (2, int(np.ceil((1.0 + env.release + 0.5) * FR)))
    t = frame_times(f0.shape[1])
    a4 = (t >= 0.0) & (t < 0.5)
    c4 = (t >= 0.2) & (t < 1.0)
    np.testing.assert_allclose(f0[0, a4], 440.0, atol=0.01)
    np.testing.assert_allclose(f0[1, c4], 261.63, atol=0.01)
    # silent frames hold the voice's pitch: before its first note that note's, after it the last one
    assert not np.isnan(f0).any()
    np.testing.assert_allclose(f0[0], 440.0, atol=0.01)
    np.testing.assert_allclose(f0[1], 261.63, atol=0.01)


def test_a_voice_holds_its_last_pitch_between_and_after_notes():
    notes = [Note(69, 100, 0.1, 0.3), Note(72, 100, 0.8, 1.0)]
    f0, db = note_controls(notes, frame_rate=FR, envelope=Envelope(release=0.1))
    assert f0.shape[0] == 1 and not np.isnan(f0).any()
    t = frame_times(f0.shape[1])
    c5 = 440.0 * 2 ** (3 / 12)
    np.testing.assert_allclose(f0[0, t < 0.8], 440.0)  # before the first note and in the gap
    np.testing.assert_allclose(f0[0, t >= 0.8], c5)  # the second note and everything after it


def test_loudness_rises_to_the_velocity_level_and_falls_to_the_floor():
    env = Envelope(attack=0.04, release=0.1)
    note = Note(69, 90, 0.2, 0.6)
    f0, db = note_controls([note], frame_rate=FR, envelope=env)
    t = frame_times(db.shape[1])
    level = env.level_db(90)
    assert level == pytest.approx(-18.0 + 30.0 * np.log(90 / 127) / np.log(127))
    held = (t > 0.2 + 0.04 + 1e-9) & (t < 0.6)
    np.testing.assert_allclose(db[0, held], level)
    attack = (t > 0.2) & (t < 0.24 - 1e-9)
    assert (db[0, attack] > FLOOR_DB).all() and (db[0, attack] < level).all()
    assert (np.diff(db[0, attack]) > 0).all()
    release = (t > 0.6) & (t < 0.7 - 1e-9)
    assert (db[0, release] < level).all() and (db[0, release] > FLOOR_DB).all()
    assert (np.diff(db[0, release]) < 0).all()
    assert (db[0, t < 0.2] == FLOOR_DB).all()
    assert (db[0, t >= 0.7 + 1e-9] == FLOOR_DB).all() and FLOOR_DB == -100.0


def test_velocity_levels_and_transpose():
    env = Envelope()
    assert env.level_db(127) == pytest.approx(env.top_db)
    assert env.level_db(1) == pytest.approx(env.top_db - env.range_db)
    assert env.level_db(0) == env.level_db(1)
    f0, _ = note_controls([Note(69, 100, 0.0, 0.2)], frame_rate=FR, transpose=-12)
    np.testing.assert_allclose(f0, 220.0)


@pytest.mark.parametrize("key, value", [("attack", -0.1), ("release", float("nan")), ("range_db", "30")])
def test_bad_envelopes_are_refused_naming_the_field(key, value):
    with pytest.raises(ParameterError, match=key):
        Envelope(**{key: value})


def test_no_notes_are_refused():
    with pytest.raises(ParameterError, match="no notes"):
        note_controls([], frame_rate=FR)
    with pytest.raises(ParameterError, match="no notes"):
        render_notes(None, codec(), [])


# --- rendering ------------------------------------------------------------------------------------


def test_render_is_finite_mono_float32_of_whole_frames(rng):
    c = codec()
    model = harmonic_model(rng, c)
    notes = [Note(69, 100, 0.0, 0.5), Note(60, 80, 0.25, 1.0), Note(64, 90, 0.7, 0.9)]
    f0, _ = note_controls(notes, frame_rate=FR)
    audio = render_notes(model, c, notes)
    assert audio.shape == (1, f0.shape[1] * c.hop) and audio.dtype == np.float32
    assert np.isfinite(audio).all() and np.abs(audio).max() > 0
    np.testing.assert_array_equal(render_notes(model, c, notes), audio)  # same seed, same audio


def test_voices_are_independent_the_render_is_the_sum_of_single_notes(rng):
    # Same end for both notes, so each single-note render has the two-note render's length. The
    # per-voice noise draws depend on the voice count (one (V, samples) draw), so the noise is made
    # negligible here; the harmonic part must add up exactly.
    c = codec()
    model = harmonic_model(rng, c, quiet_noise=True)
    a, b = Note(69, 100, 0.0, 0.6), Note(64, 70, 0.2, 0.6)
    assert voice_rows([a, b])[0] == 2
    both = render_notes(model, c, [a, b])
    alone = render_notes(model, c, [a]) + render_notes(model, c, [b])
    assert both.shape == alone.shape
    np.testing.assert_allclose(both, alone, atol=1e-5)
    assert np.abs(both).max() > 1e-2


def test_a_note_outside_the_training_pitches_warns_naming_the_range(rng):
    c = codec()
    model = harmonic_model(rng, c)
    notes = [Note(69, 100, 0.0, 0.2)]  # 440 Hz
    with pytest.warns(UserWarning, match="200-300 Hz"):
        render_notes(model, c, notes, pitch_range=(200.0, 300.0))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        render_notes(model, c, notes, pitch_range=(430.0, 450.0))
        render_notes(model, c, notes, pitch_range=(200.0, 300.0), transpose=-12)  # 220 Hz: inside


def test_render_needs_a_harmonic_codec(rng):
    with pytest.raises(ParameterError, match="harmonic"):
        render_notes(None, MuLawAdapter(sample_rate=16000), [Note(69, 100, 0.0, 0.2)])
