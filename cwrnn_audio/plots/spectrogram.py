"""Spectrograms of rendered audio."""

from __future__ import annotations

import numpy as np

from .figure import pyplot, save_png


def spectrogram(audio, sample_rate: int, path, *, title: str = ""):
    """A log-magnitude spectrogram (dB, 0 at the loudest bin) of mono audio ``(1, F)`` or ``(F,)``."""
    plt = pyplot()
    y = np.asarray(audio, np.float64).reshape(-1)
    n_fft, hop = 1024, 256
    if y.size < n_fft:
        y = np.pad(y, (0, n_fft - y.size))
    frames = np.lib.stride_tricks.sliding_window_view(y, n_fft)[::hop] * np.hanning(n_fft)
    S = 20 * np.log10(np.abs(np.fft.rfft(frames, axis=1)).T + 1e-9)
    S -= S.max()
    fig, ax = plt.subplots(figsize=(8, 3.5))
    extent = (0, y.size / sample_rate, 0, sample_rate / 2000)
    im = ax.imshow(np.maximum(S, -90), origin="lower", aspect="auto", extent=extent, cmap="magma")
    ax.set_xlabel("time (s)")
    ax.set_ylabel("frequency (kHz)")
    ax.set_title(title)
    fig.colorbar(im, ax=ax, label="dB")
    fig.tight_layout()
    out = save_png(fig, path)
    plt.close(fig)
    return out
