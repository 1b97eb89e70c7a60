"""Multi-scale spectral loss: expectations from first principles and an independent NumPy reading."""

import math

import numpy as np
import pytest
import torch

from cwrnn_audio.ddsp.loss import multiscale_spectral_loss, spectral_distance
from cwrnn_audio.errors import ParameterError, ParameterTypeError

SR = 16000


def sine(freq, seconds=0.5, amp=0.5, dtype=torch.float32):
    t = torch.arange(int(SR * seconds), dtype=torch.float64) / SR
    return (amp * torch.sin(2 * math.pi * freq * t)).to(dtype)


def noise(n=8000, seed=0, amp=0.1):
    return torch.from_numpy(np.random.default_rng(seed).standard_normal(n) * amp).float()


def numpy_one_size(pred, target, n, overlap=0.75, log_weight=1.0, eps=1e-7):
    """Independent reading: zero-pad n // 2 each side, frames every hop, periodic Hann, rfft."""
    hop = int(round(n * (1 - overlap)))
    w = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(n) / n)

    def mags(x):
        x = np.pad(np.asarray(x, dtype=np.float64), [(0, 0), (n // 2, n // 2)])
        count = 1 + (x.shape[1] - n) // hop
        frames = np.stack([x[:, t * hop : t * hop + n] for t in range(count)], axis=1)
        return np.abs(np.fft.rfft(frames * w, axis=-1))

    mp, mt = mags(pred), mags(target)
    return np.mean(np.abs(mp - mt)) + log_weight * np.mean(np.abs(np.log(mp + eps) - np.log(mt + eps)))


def test_zero_for_identical_inputs():
    x = noise()
    assert float(multiscale_spectral_loss(x, x.clone())) == 0.0
    assert spectral_distance(x.numpy(), x.numpy()) == 0.0


def test_positive_and_nearly_symmetric():
    a, b = noise(seed=1), noise(seed=2)
    ab, ba = spectral_distance(a, b), spectral_distance(b, a)
    assert ab > 0
    assert ab == pytest.approx(ba, rel=1e-5)  # L1 is symmetric; only rounding differs


def test_farther_pitch_costs_more():
    target = sine(440)
    near = spectral_distance(sine(441), target)
    far = spectral_distance(sine(445), target)
    assert 0 < near < far


def test_gradient_reaches_pred():
    target = sine(440)
    pred = sine(445).clone().requires_grad_(True)
    loss = multiscale_spectral_loss(pred, target)
    loss.backward()
    assert torch.isfinite(pred.grad).all()
    assert pred.grad.abs().max() > 0


def test_scale_log_term_is_log_two():
    x = noise(amp=0.1)
    sizes = (256, 128, 64)
    lin = float(multiscale_spectral_loss(x, 0.5 * x, fft_sizes=sizes, log_weight=0.0))
    full = float(multiscale_spectral_loss(x, 0.5 * x, fft_sizes=sizes))
    assert lin > 0
    # halving every magnitude moves every log magnitude by log 2 (eps is negligible for noise)
    assert full - lin == pytest.approx(len(sizes) * math.log(2), rel=1e-3)
    # the linear term scales with the level, the log term does not: quiet signals are judged by the log
    quiet = 0.01 * x
    lin_q = float(multiscale_spectral_loss(quiet, 0.5 * quiet, fft_sizes=sizes, log_weight=0.0))
    full_q = float(multiscale_spectral_loss(quiet, 0.5 * quiet, fft_sizes=sizes))
    assert lin_q == pytest.approx(0.01 * lin, rel=1e-4)
    assert full_q - lin_q > 100 * lin_q


@pytest.mark.parametrize("n", [64, 256, 1024])
def test_matches_numpy_for_one_size(n):
    rng = np.random.default_rng(n)
    pred = rng.standard_normal((2, 3001)) * 0.3
    target = rng.standard_normal((2, 3001)) * 0.3
    want = numpy_one_size(pred, target, n)
    got64 = float(multiscale_spectral_loss(torch.from_numpy(pred), torch.from_numpy(target), fft_sizes=(n,)))
    assert got64 == pytest.approx(want, rel=1e-10)
    got32 = spectral_distance(pred.astype(np.float32), target.astype(np.float32), fft_sizes=(n,))
    assert got32 == pytest.approx(want, rel=1e-5)


def test_sum_over_sizes_and_skips_long_ffts():
    a, b = noise(1000, seed=3).double(), noise(1000, seed=4).double()
    parts = [numpy_one_size(a[None].numpy(), b[None].numpy(), n) for n in (512, 256, 128, 64)]
    # 2048 and 1024 are longer than the 1000 samples: skipped
    assert spectral_distance(a, b) == pytest.approx(sum(parts), rel=1e-10)
    # a 1-D input is a batch of one
    assert spectral_distance(a, b) == spectral_distance(a[None], b[None])


def test_batch_mean():
    a, b = noise(2000, seed=5), noise(2000, seed=6)
    c, d = noise(2000, seed=7), noise(2000, seed=8)
    both = spectral_distance(torch.stack([a, c]), torch.stack([b, d]))
    assert both == pytest.approx((spectral_distance(a, b) + spectral_distance(c, d)) / 2, rel=1e-5)


def test_errors():
    a = noise(1000)
    with pytest.raises(ParameterError, match=r"\(1000,\).*\(999,\)"):
        multiscale_spectral_loss(a, a[:999])
    with pytest.raises(ParameterError, match="longer than the signal"):
        multiscale_spectral_loss(a[:32], a[:32])
    with pytest.raises(ParameterError, match="overlap"):
        multiscale_spectral_loss(a, a, overlap=1.0)
    with pytest.raises(ParameterError, match="shape"):
        multiscale_spectral_loss(a.reshape(1, 1, -1), a.reshape(1, 1, -1))
    with pytest.raises(ParameterTypeError, match="pred"):
        multiscale_spectral_loss(a.numpy(), a)
    with pytest.raises(ParameterTypeError, match="fft_sizes"):
        spectral_distance(a, a, fft_sizes=(64.0,))
    with pytest.raises(ParameterTypeError):
        spectral_distance(np.zeros(100, dtype=np.int16), np.zeros(100, dtype=np.int16))
