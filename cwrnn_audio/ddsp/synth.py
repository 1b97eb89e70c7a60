"""The harmonic-plus-noise synthesizer in torch: differentiable in every parameter.

Shapes: ``B`` sequences, ``T`` frames of ``hop`` samples, ``N`` harmonics, ``K`` noise bands.
- f0 ``(B, T)`` in Hz; amplitude ``(B, T)`` linear, >= 0;
- harmonics ``(B, T, N)`` >= 0, any scale: normalized to sum 1 after the harmonics at or above
  Nyquist are removed (frame by frame);
- noise ``(B, T, K)`` >= 0: the magnitude response at ``K`` frequencies spaced evenly from 0 Hz to
  Nyquist, turned into a zero-phase FIR of ``2 (K - 1)`` taps (Hann windowed, delayed by ``K - 1``
  samples to be causal) that filters white noise ``u`` ``(B, T * hop)``, overlap-added frame by frame.
Audio ``(B, T * hop)`` float32.
"""

from __future__ import annotations

import math

import torch


def upsample(frames: torch.Tensor, hop: int, previous: torch.Tensor | None = None) -> torch.Tensor:
    """``(B, T, C)`` frame values -> ``(B, T * hop, C)`` samples, linear from frame ``i - 1`` to ``i``
    (sample ``j`` of frame ``i`` has weight ``(j + 1) / hop`` on frame ``i``); ``previous`` ``(B, C)``
    is frame ``-1`` (default: frame 0)."""
    prev = frames[:, :1] if previous is None else previous[:, None]
    before = torch.cat([prev, frames[:, :-1]], dim=1)
    w = torch.arange(1, hop + 1, dtype=frames.dtype, device=frames.device) / hop  # (hop,)
    out = before[:, :, None, :] + (frames - before)[:, :, None, :] * w[None, None, :, None]
    return out.reshape(frames.shape[0], -1, frames.shape[2])


def harmonic_weights(f0: torch.Tensor, harmonics: torch.Tensor, sample_rate: int) -> torch.Tensor:
    """Harmonic distribution ``(B, T, N)`` without the harmonics at or above Nyquist, summing to 1
    (all zero where none is below Nyquist)."""
    k = torch.arange(1, harmonics.shape[-1] + 1, dtype=f0.dtype, device=f0.device)
    keep = (f0[..., None] * k < sample_rate / 2).to(harmonics.dtype)
    h = harmonics * keep
    return h / h.sum(-1, keepdim=True).clamp_min(1e-12)


def harmonic(f0, amplitude, harmonics, *, sample_rate: int, hop: int, phase0=None):
    """The oscillator bank: ``(audio (B, T * hop), final phase (B,))``, phase in radians in [0, 2 pi).

    The phase runs in float64 (a cumulative sum over seconds of samples loses cycles in float32).
    """
    c = harmonic_weights(f0, harmonics, sample_rate)
    f = upsample(f0[..., None].double(), hop)[..., 0]  # (B, S) Hz
    phase = 2 * math.pi * torch.cumsum(f / sample_rate, dim=1)
    if phase0 is not None:
        phase = phase + phase0.double()[:, None]
    phase = torch.remainder(phase, 2 * math.pi)
    a = upsample(amplitude[..., None], hop)[..., 0]
    cs = upsample(c, hop)  # (B, S, N)
    k = torch.arange(1, c.shape[-1] + 1, dtype=torch.float64, device=f0.device)
    waves = torch.sin(phase[..., None] * k).to(cs.dtype)
    return a * (cs * waves).sum(-1), phase[:, -1] if phase.shape[1] else phase0


def noise_filters(noise: torch.Tensor) -> torch.Tensor:
    """``(B, T, K)`` magnitudes -> ``(B, T, 2 (K - 1))`` causal FIR taps (zero phase, Hann, delayed)."""
    K = noise.shape[-1]
    L = 2 * (K - 1)
    ir = torch.fft.irfft(noise.to(torch.complex64), n=L)  # zero phase: symmetric around tap 0
    ir = torch.roll(ir, K - 1, dims=-1)  # centre at tap K - 1
    return ir * torch.hann_window(L, periodic=False, dtype=ir.dtype, device=ir.device)


def filtered_noise(noise, u, *, hop: int):
    """White noise ``u (B, T * hop)`` filtered frame by frame by :func:`noise_filters`, overlap-added;
    returns ``(audio (B, T * hop), tail (B, L - 1))``, the tail spilling into the next frames."""
    B, T, _ = noise.shape
    ir = noise_filters(noise)  # (B, T, L)
    L = ir.shape[-1]
    n = hop + L - 1
    size = 1 << (n - 1).bit_length()
    seg = torch.fft.irfft(torch.fft.rfft(u.reshape(B, T, hop), n=size) * torch.fft.rfft(ir, n=size), n=size)[
        ..., :n
    ]  # (B, T, hop + L - 1)
    out = seg.new_zeros(B, T * hop + L - 1)
    index = (torch.arange(T, device=u.device)[:, None] * hop + torch.arange(n, device=u.device)).reshape(-1)
    out = out.index_add(1, index, seg.reshape(B, -1))
    return out[:, : T * hop], out[:, T * hop :]


def synthesize(f0, amplitude, harmonics, noise, u, *, sample_rate: int, hop: int):
    """Harmonic plus filtered noise: audio ``(B, T * hop)`` (see the module's docstring)."""
    harm, _ = harmonic(f0, amplitude, harmonics, sample_rate=sample_rate, hop=hop)
    return harm + filtered_noise(noise, u, hop=hop)[0]


__all__ = ["filtered_noise", "harmonic", "harmonic_weights", "noise_filters", "synthesize", "upsample"]
