import math

import numpy as np
import pytest
import torch

from cwrnn_audio.ddsp.synth import harmonic, synthesize
from cwrnn_audio.errors import ParameterError, ParameterTypeError
from cwrnn_audio.kernels.harmonic import HarmonicSynth


def random_inputs(rng, V, T, N, K, hop, sample_rate):
    """Parameters whose f0 sweeps across the range where the upper harmonics cross Nyquist."""
    nyquist = sample_rate / 2
    f0 = rng.uniform(nyquist / N / 2, nyquist / 3, size=(V, T))
    f0[:, T // 2 :] = rng.uniform(30.0, nyquist * 1.2, size=(V, T - T // 2))  # some frames at/above Nyquist
    f0[0, 3] = nyquist / 4  # harmonic 4 exactly at Nyquist
    return dict(
        f0=f0.astype(np.float32),
        amplitude=rng.uniform(0.0, 1.0, size=(V, T)).astype(np.float32),
        harmonics=(rng.uniform(0.0, 1.0, size=(V, T, N)) ** 3).astype(np.float32),
        noise=rng.uniform(0.0, 0.3, size=(V, T, K)).astype(np.float32),
        u=rng.uniform(-1.0, 1.0, size=(V, T * hop)).astype(np.float32),
    )


def process(synth, x, frames=None):
    """All frames of ``x`` through ``synth``, in blocks of ``frames`` (default: one call)."""
    T = x["f0"].shape[1]
    frames = frames or max(T, 1)
    hop = synth.hop
    parts = []
    for a in range(0, max(T, 1), frames):
        b = min(a + frames, T)
        parts.append(
            synth.process(
                x["f0"][:, a:b],
                x["amplitude"][:, a:b],
                x["harmonics"][:, a:b],
                x["noise"][:, a:b],
                x["u"][:, a * hop : b * hop],
            )
        )
    return np.concatenate(parts, axis=1)


@pytest.mark.parametrize(
    "V, T, N, K, hop, sample_rate",
    [
        (2, 24, 13, 17, 64, 16000),  # N not a multiple of 4
        (1, 40, 32, 9, 7, 8000),  # noise tail (L - 1 = 15) longer than a frame
        (3, 10, 64, 65, 192, 48000),
    ],
)
def test_matches_the_torch_reference(rng, V, T, N, K, hop, sample_rate):
    x = random_inputs(rng, V, T, N, K, hop, sample_rate)
    synth = HarmonicSynth(sample_rate, hop, N, K, voices=V)
    y = process(synth, x)
    t = {k: torch.from_numpy(v) for k, v in x.items()}
    want = synthesize(**t, sample_rate=sample_rate, hop=hop).numpy()
    assert y.dtype == np.float32 and y.shape == (V, T * hop)
    assert np.abs(y - want).max() < 1e-4 * np.abs(want).max()
    _, phase = harmonic(t["f0"], t["amplitude"], t["harmonics"], sample_rate=sample_rate, hop=hop)
    diff = np.remainder(synth.state.phase - phase.numpy() + math.pi, 2 * math.pi) - math.pi
    assert np.abs(diff).max() < 1e-9


@pytest.mark.parametrize("frames", [1, 3, 7])
def test_block_size_does_not_change_the_output(rng, frames):
    V, T, N, K, hop, sr = 2, 22, 10, 9, 5, 16000  # noise tail of 15 samples spans 3 frames
    x = random_inputs(rng, V, T, N, K, hop, sr)
    whole = process(HarmonicSynth(sr, hop, N, K, voices=V), x)
    synth = HarmonicSynth(sr, hop, N, K, voices=V)
    blocks = process(synth, x, frames)
    np.testing.assert_array_equal(blocks, whole)
    # an empty block changes nothing; reset starts over
    empty = {k: v[:, :0] for k, v in x.items()}
    assert process(synth, empty).shape == (V, 0)
    synth.reset()
    np.testing.assert_array_equal(process(synth, x, frames), whole)


def tone(f0, weights, *, sample_rate=48000, hop=192, seconds=1.0, amplitude=0.5, K=5):
    T = int(seconds * sample_rate / hop)
    N = len(weights)
    synth = HarmonicSynth(sample_rate, hop, N, K)
    y = synth.process(
        np.full((1, T), f0, np.float32),
        np.full((1, T), amplitude, np.float32),
        np.tile(np.asarray(weights, np.float32), (1, T, 1)),
        np.zeros((1, T, K), np.float32),
        np.ones((1, T * hop), np.float32),  # filtered by a zero filter
    )
    return y[0]


def test_a_single_harmonic_is_a_sine():
    sr = 48000
    y = tone(440.0, [1, 0, 0, 0, 0, 0], sample_rate=sr)
    spectrum = np.abs(np.fft.rfft(y)) * 2 / y.size
    freqs = np.fft.rfftfreq(y.size, 1 / sr)
    assert freqs[np.argmax(spectrum)] == 440.0
    assert spectrum.max() == pytest.approx(0.5, abs=1e-4)
    assert np.abs(y).max() == pytest.approx(0.5, abs=1e-4)
    # the phase advances before the first sample
    n = np.arange(1, y.size + 1)
    np.testing.assert_allclose(y, 0.5 * np.sin(2 * np.pi * 440.0 * n / sr), atol=2e-6)


def test_harmonics_at_or_above_nyquist_are_silent():
    # f0 = 6 kHz: harmonic 4 is at Nyquist (24 kHz), harmonic 5 above it
    assert np.all(tone(6000.0, [0, 0, 0, 1, 1]) == 0)
    only_first = tone(6000.0, [1, 0, 0, 0, 0])
    np.testing.assert_array_equal(tone(6000.0, [1, 0, 0, 3, 2]), only_first)  # renormalized without them
    assert np.abs(only_first).max() == pytest.approx(0.5, abs=1e-4)


def test_flat_noise_magnitude_scales_white_noise(rng):
    sr, hop, K, T, m = 16000, 64, 33, 200, 0.25
    synth = HarmonicSynth(sr, hop, 4, K)
    u = rng.normal(size=(1, T * hop)).astype(np.float32)
    y = synth.process(
        np.full((1, T), 100.0, np.float32),
        np.zeros((1, T), np.float32),
        np.ones((1, T, 4), np.float32),
        np.full((1, T, K), m, np.float32),
        u,
    )[0]
    assert y[K - 1 :].std() == pytest.approx(m * u.std(), rel=0.01)
    # a flat spectrum is an impulse: u delayed by K - 1 samples, times the Hann window's middle tap
    L = 2 * (K - 1)
    middle = 0.5 - 0.5 * math.cos(2 * math.pi * (K - 1) / (L - 1))
    np.testing.assert_allclose(y[K - 1 :], m * middle * u[0, : -(K - 1)], atol=1e-5)
    assert np.abs(y[: K - 1]).max() < 1e-12  # before the delay: (rounding in the irfft's zeros only)


def good(V=2, T=3, N=4, K=5, hop=8):
    return dict(
        f0=np.full((V, T), 100.0, np.float32),
        amplitude=np.ones((V, T), np.float32),
        harmonics=np.ones((V, T, N), np.float32),
        noise=np.ones((V, T, K), np.float32),
        u=np.zeros((V, T * hop), np.float32),
    )


@pytest.mark.parametrize(
    "name, value, error, match",
    [
        (
            "f0",
            np.ones((3, 3), np.float32),
            ParameterError,
            r"f0 must have shape \(2, frames\); got \(3, 3\)",
        ),
        ("f0", [[100.0] * 3] * 2, ParameterTypeError, "f0 must be a numpy array"),
        ("amplitude", np.ones((2, 4), np.float32), ParameterError, r"amplitude .*\(2, 3\); got \(2, 4\)"),
        ("amplitude", np.ones((2, 3), np.int32), ParameterTypeError, "amplitude must be float32 or float64"),
        (
            "harmonics",
            np.ones((2, 3, 5), np.float32),
            ParameterError,
            r"harmonics .*\(2, 3, 4\); got \(2, 3, 5\)",
        ),
        ("noise", np.ones((2, 3), np.float32), ParameterError, r"noise .*\(2, 3, 5\); got \(2, 3\)"),
        ("noise", torch.ones(2, 3, 5), ParameterTypeError, "noise must be a numpy array"),
        ("u", np.zeros((2, 23), np.float32), ParameterError, r"u .*\(2, 24\); got \(2, 23\)"),
        ("u", np.full((2, 24), np.nan, np.float32), ParameterError, "u must be finite"),
    ],
)
def test_bad_arrays_are_named(name, value, error, match):
    synth = HarmonicSynth(16000, 8, 4, 5, voices=2)
    args = good()
    args[name] = value
    with pytest.raises(error, match=match):
        synth.process(**args)


def test_bad_settings_are_named():
    with pytest.raises(ParameterError, match="n_noise must be an integer >= 2; got 1"):
        HarmonicSynth(16000, 8, 4, 1)
    with pytest.raises(ParameterTypeError, match="hop must be an integer"):
        HarmonicSynth(16000, 8.0, 4, 5)
    synth = HarmonicSynth(16000, 8, 4, 5, voices=2)
    with pytest.raises(ParameterError, match="out must be a C-contiguous float32 array"):
        synth.process(**good(), out=np.empty((2, 24), np.float64))
    with pytest.raises(ParameterError, match="voice must be below 2"):
        synth.reset(2)
