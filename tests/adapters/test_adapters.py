import numpy as np
import pytest

from cwrnn_audio import ParameterError
from cwrnn_audio.adapters import MelAdapter, MuLawAdapter, RawAdapter, adapter_from_dict, periods_for_seconds
from cwrnn_audio.audio.metrics import log_spectral_distance


def mulaw_by_formula(x, mu=255):
    """mu-law companding from its definition, then 256 bins with edges evenly over [-1, 1]."""
    y = np.sign(x) * np.log1p(mu * np.abs(x)) / np.log1p(mu)
    return np.clip(np.searchsorted(np.linspace(-1, 1, mu + 1), y, side="left"), 0, mu).astype(np.int64)


def test_mulaw_classes_match_the_formula_and_round_trip():
    a = MuLawAdapter(sample_rate=16000)
    x = np.linspace(-1, 1, 20001, dtype=np.float32)[None]
    c = a.classes(x)
    assert c.min() == 0 and c.max() == 255
    expect = mulaw_by_formula(x.astype(np.float64))
    assert np.mean(c == expect) > 0.999 and np.abs(c - expect).max() <= 1  # bin edges may round either way
    back = a.decode(c)
    # mu-law error is relative: under 4.5% of the sample (the top class sits at 0.957), plus a step at 0
    assert (np.abs(back - x) <= 0.045 * np.abs(x) + 1e-3).all()


def test_mulaw_ar_pairs_shift_by_one_step():
    a = MuLawAdapter(sample_rate=16000)
    x = (0.5 * np.sin(np.arange(100) / 3.0)).astype(np.float32)[None]
    inputs, targets = a.encode(x)
    assert inputs.shape == (1, 100, 1) and targets.shape == (1, 100)
    assert inputs[0, 0, 0] == 0.0
    np.testing.assert_allclose(inputs[0, 1:, 0], a.class_value(targets[0, :-1]))


def test_mulaw_refuses_out_of_range_samples():
    with pytest.raises(ParameterError, match=r"\[-1, 1\]"):
        MuLawAdapter(sample_rate=16000).classes(np.array([[0.0, 1.5]], np.float32))


def test_raw_pairs_and_decode():
    a = RawAdapter(sample_rate=8000)
    x = np.array([[0.1, -0.2, 0.3]], np.float32)
    inputs, targets = a.encode(x)
    np.testing.assert_array_equal(inputs[0, :, 0], np.concatenate([[0.0], x[0, :2]]).astype(np.float32))
    np.testing.assert_array_equal(a.decode(targets), x)


def test_mel_frames_decode_by_griffin_lim_to_a_similar_spectrum():
    sr = 16000
    t = np.arange(sr) / sr
    x = (0.3 * np.sin(2 * np.pi * 440 * t) + 0.2 * np.sin(2 * np.pi * 1250 * t)).astype(np.float32)[None]
    a = MelAdapter(sample_rate=sr, n_mels=80)
    frames = a.frames(x)
    assert frames.shape[2] == 80 and a.step_rate == sr / 256
    y = a.decode(frames)
    noise = np.random.default_rng(0).uniform(-0.3, 0.3, y.shape[1]).astype(np.float32)
    assert log_spectral_distance(y[0], x[0]) < 0.5 * log_spectral_distance(noise, x[0])


def test_adapter_settings_round_trip_and_errors():
    a = MelAdapter(sample_rate=22050, n_fft=512, hop_length=128, n_mels=40)
    assert adapter_from_dict(a.to_dict()).settings() == a.settings()
    with pytest.raises(ParameterError, match="encoding"):
        adapter_from_dict({"encoding": "wavelet"})
    with pytest.raises(ParameterError, match="sample_rate"):
        RawAdapter(sample_rate=10)
    with pytest.raises(ParameterError, match="hop_length"):
        MelAdapter(n_fft=256, hop_length=512)


def test_periods_in_seconds():
    p = periods_for_seconds(0.001, 1.0, 8, 16000)
    assert p[0] == 16 and p[-1] == 16000 and all(b > a for a, b in zip(p, p[1:]))
    assert periods_for_seconds(1 / 16000, 2 / 16000, 4, 16000) == [1, 2, 3, 4]  # kept strictly increasing
