"""expression_targets on a recording's analysis whose deviations are known."""

from types import SimpleNamespace

import numpy as np
import pytest

from cwrnn_audio import ParameterError
from cwrnn_audio.expression.targets import MAX_CENTS, expression_targets
from cwrnn_audio.midi.notes import Note

RATE = 100


def test_vibrato_and_intonation_come_out_in_cents_where_defined():
    notes = [Note(69, 90, 0.0, 1.0), Note(72, 90, 1.2, 2.0)]
    t = (np.arange(220) + 1.0) / RATE
    t0 = np.arange(220) / RATE  # a frame's note: the one sounding at its start (score_frames)
    want = np.where(t0 < 1.0, 30.0 * np.sin(2 * np.pi * 5 * t), -12.0)  # vibrato, then a flat note
    pitch = np.where(t0 < 1.0, 69, 72)
    f0 = 440.0 * 2.0 ** ((pitch - 69 + want / 100.0) / 12.0)
    voiced = np.ones(t.size, bool)
    voiced[50:55] = False  # pYIN could not tell
    f0[150] *= 2.0  # an octave slip: not expression
    loud = np.linspace(-40, -20, t.size)
    got = expression_targets(
        SimpleNamespace(f0_hz=f0, voiced=voiced, loudness_db=loud), notes, frame_rate=RATE
    )
    sounding = (t0 < 1.0) | ((t0 >= 1.2) & (t0 < 2.0))
    expected_mask = sounding & voiced
    expected_mask[150] = False
    np.testing.assert_array_equal(got.has_cents, expected_mask)
    np.testing.assert_allclose(got.cents[expected_mask], want[expected_mask], atol=1e-9)
    assert (got.cents[~expected_mask] == 0).all() and MAX_CENTS == 300.0
    np.testing.assert_array_equal(got.loudness_db, loud)


def test_features_of_unequal_lengths_are_refused():
    bad = SimpleNamespace(f0_hz=np.ones(10), voiced=np.ones(9, bool), loudness_db=np.ones(10))
    with pytest.raises(ParameterError, match="features: .*\\(10,\\), \\(9,\\), \\(10,\\)"):
        expression_targets(bad, [Note(60, 90, 0.0, 0.1)], frame_rate=RATE)


def test_a_transposing_instrument_deviates_from_the_note_as_played():
    notes = [Note(60, 90, 0.0, 1.0)]
    f0 = np.full(100, 440.0 * 2.0 ** ((72 - 69 + 0.1) / 12.0))  # an octave up, 10 cents sharp
    feats = SimpleNamespace(f0_hz=f0, voiced=np.ones(100, bool), loudness_db=np.zeros(100))
    got = expression_targets(feats, notes, frame_rate=RATE, transpose=12)
    np.testing.assert_allclose(got.cents[got.has_cents], 10.0, atol=1e-9)
    assert got.has_cents[:99].all()
    assert not expression_targets(feats, notes, frame_rate=RATE).has_cents.any()  # 1210 cents: not expression
