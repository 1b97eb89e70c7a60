"""The torch synthesizer against formulas written out in NumPy: sines, linear ramps, FIR filtering."""

import numpy as np
import pytest
import torch

from cwrnn_audio.ddsp.synth import (
    filtered_noise,
    harmonic,
    harmonic_weights,
    noise_filters,
    synthesize,
    upsample,
)

SR, HOP = 16000, 64


def test_upsample_is_linear_from_the_previous_frame():
    frames = torch.tensor([[1.0, 3.0, -1.0, 0.0]])[..., None]  # (1, 4, 1)
    out = upsample(frames, HOP)[0, :, 0].numpy()
    # frame i's value is reached at its last sample, (i + 1) * hop - 1; frame -1 is frame 0
    knots = np.concatenate([[-1], np.arange(4) * HOP + HOP - 1])
    values = np.concatenate([[1.0], frames[0, :, 0].numpy()])
    np.testing.assert_allclose(out, np.interp(np.arange(4 * HOP), knots, values), atol=1e-6)


def test_one_harmonic_is_a_sine_at_f0():
    T, f0, amp = 50, 440.0, 0.5
    h = torch.zeros(1, T, 8)
    h[..., 0] = 3.0  # any scale: normalized
    y, phase = harmonic(torch.full((1, T), f0), torch.full((1, T), amp), h, sample_rate=SR, hop=HOP)
    n = np.arange(T * HOP)
    want = amp * np.sin(2 * np.pi * f0 * (n + 1) / SR)
    np.testing.assert_allclose(y[0].numpy(), want, atol=2e-5)
    assert float(phase[0]) == pytest.approx((2 * np.pi * f0 * T * HOP / SR) % (2 * np.pi), abs=1e-6)


def test_harmonics_at_or_above_nyquist_are_removed_and_the_rest_renormalized():
    f0 = torch.tensor([[3000.0]])
    w = harmonic_weights(f0, torch.ones(1, 1, 4), SR)[0, 0].numpy()
    np.testing.assert_allclose(w, [0.5, 0.5, 0.0, 0.0])  # 9 kHz and 12 kHz >= 8 kHz
    T = 40
    y, _ = harmonic(
        torch.full((1, T), 3000.0), torch.ones(1, T), torch.ones(1, T, 4), sample_rate=SR, hop=HOP
    )
    n = np.arange(T * HOP)
    phase = 2 * np.pi * 3000.0 * (n + 1) / SR
    np.testing.assert_allclose(y[0].numpy(), 0.5 * np.sin(phase) + 0.5 * np.sin(2 * phase), atol=3e-5)


def _fir(magnitudes):
    """The filter of a zero-phase magnitude response: numpy's inverse FFT, centred, Hann windowed."""
    K = len(magnitudes)
    L = 2 * (K - 1)
    return np.roll(np.fft.irfft(magnitudes, n=L), K - 1) * np.hanning(L)


def test_noise_filter_taps_match_numpy():
    rng = np.random.default_rng(0)
    H = rng.random(17)
    taps = noise_filters(torch.tensor(H, dtype=torch.float32)[None, None])[0, 0].numpy()
    np.testing.assert_allclose(taps, _fir(H), atol=1e-6)


def test_a_steady_filter_over_frames_is_one_long_convolution():
    rng = np.random.default_rng(1)
    T, K = 30, 33
    H = rng.random(K).astype(np.float32)
    u = rng.standard_normal(T * HOP).astype(np.float32)
    out, tail = filtered_noise(torch.tensor(H).expand(1, T, K), torch.tensor(u)[None], hop=HOP)
    full = np.convolve(u, _fir(H))
    np.testing.assert_allclose(out[0].numpy(), full[: T * HOP], atol=1e-4)
    np.testing.assert_allclose(tail[0].numpy(), full[T * HOP :], atol=1e-4)


def test_every_parameter_gets_a_finite_gradient():
    T, N, K = 20, 6, 9
    gen = torch.Generator().manual_seed(0)
    params = [
        torch.full((2, T), 220.0),
        torch.rand(2, T, generator=gen).requires_grad_(True),
        torch.rand(2, T, N, generator=gen).requires_grad_(True),
        torch.rand(2, T, K, generator=gen).requires_grad_(True),
    ]
    u = torch.randn(2, T * HOP, generator=gen)
    synthesize(*params, u, sample_rate=SR, hop=HOP).pow(2).sum().backward()
    for p in params[1:]:
        assert torch.isfinite(p.grad).all() and p.grad.abs().sum() > 0
