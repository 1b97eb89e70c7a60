"""render_notes takes a model folder's playback pitch range as it is stored (DEFECTS 28)."""

import warnings

import pytest

import cwrnn_audio_samples
from cwrnn_audio.ddsp.render import render_notes
from cwrnn_audio.midi.notes import Note
from cwrnn_audio.models.folder import load_model_dir

LOW = [Note(pitch=20, start=0.0, end=0.05, velocity=90)]  # 26 Hz: far below a flute


@pytest.fixture(scope="module")
def flute():
    return load_model_dir(cwrnn_audio_samples.path("models/flute_harmonic"), domain="audio")


def test_the_folder_range_as_stored_warns_about_notes_outside_it(flute):
    model, codec, playback = flute
    lo, hi = playback["pitch_range"]
    assert 0 < lo < hi
    with pytest.warns(UserWarning, match=f"{lo:.0f}-{hi:.0f} Hz"):
        render_notes(model, codec, LOW, pitch_range=playback["pitch_range"])


@pytest.mark.parametrize("unknown", [None, [0.0, 0.0]])
def test_an_unknown_range_does_not_warn(flute, unknown):
    model, codec, _ = flute
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        render_notes(model, codec, LOW, pitch_range=unknown)
