"""The example models shipped in samples/models behave as their README says."""

import numpy as np
import pytest

import cwrnn_audio_samples
from cwrnn_audio.audio.dataset import load_clip
from cwrnn_audio.audio.generate import generate
from cwrnn_audio.audio.metrics import log_spectral_distance
from cwrnn_audio.models.folder import load_model_dir


def references(clip, n, seed=0):
    rng = np.random.default_rng(seed)
    rms = float(np.sqrt(np.mean(clip**2)))
    white = (rng.standard_normal(n) * rms).astype(np.float32)
    silence = (rng.standard_normal(n) * 1e-5).astype(np.float32)  # digital silence has no spectrum to log
    return white, silence


def test_mulaw_model_samples_follow_the_recordings_spectrum():
    model, adapter, _ = load_model_dir(cwrnn_audio_samples.path("models/bach_mulaw"), domain="audio")
    clip = load_clip(cwrnn_audio_samples.path("bach_prelude_fluidr3.flac"), adapter.sample_rate)[0]
    y = generate(model, adapter, 2.0, seed=0)[0]
    white, silence = references(clip, y.size)
    d = log_spectral_distance(y, clip)
    assert d < log_spectral_distance(white, clip) - 3.0  # dB
    assert d < log_spectral_distance(silence, clip) - 3.0


def test_mel_model_continues_the_chord_tonally():
    import librosa

    model, adapter, _ = load_model_dir(cwrnn_audio_samples.path("models/piano_mel"), domain="audio")
    clip = load_clip(cwrnn_audio_samples.path("piano_phrase.wav"), adapter.sample_rate)
    prime = clip[:, : int(1.5 * adapter.sample_rate)]
    y = generate(model, adapter, 2.0, prime=prime, seed=0)[0]
    white, silence = references(clip[0], y.size)
    d = log_spectral_distance(y, clip[0])
    assert d < log_spectral_distance(white, clip[0]) and d < log_spectral_distance(silence, clip[0])
    # harmonic partials, not noise: a far less flat spectrum than white noise's
    flat = lambda a: float(np.median(librosa.feature.spectral_flatness(y=a)))  # noqa: E731
    assert flat(y) < 0.1 * flat(white)
    assert np.sqrt(np.mean(y**2)) > 0.01  # it keeps sounding


@pytest.mark.parametrize("name", ["piano_mel", "bach_mulaw"])
def test_bundled_model_folders_are_complete(name):
    folder = cwrnn_audio_samples.path(f"models/{name}")
    for f in ("model.safetensors", "config.json", "adapter.json", "history.json", "loss_curve.png"):
        assert (folder / f).is_file(), f
