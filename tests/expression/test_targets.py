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
    want = np.where(t < 1.0, 30.0 * np.sin(2 * np.pi * 5 * t), -12.0)  # vibrato, then a flat note
    pitch = np.where(t < 1.0, 69, 72)
    f0 = 440.0 * 2.0 ** ((pitch - 69 + want / 100.0) / 12.0)
    voiced = np.ones(t.size, bool)
    voiced[50:55] = False  # pYIN could not tell
    f0[150] *= 2.0  # an octave slip: not expression
    loud = np.linspace(-40, -20, t.size)
    got = expression_targets(
        SimpleNamespace(f0_hz=f0, voiced=voiced, loudness_db=loud), notes, frame_rate=RATE
    )
    sounding = (t < 1.0) | ((t >= 1.2) & (t < 2.0))
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
