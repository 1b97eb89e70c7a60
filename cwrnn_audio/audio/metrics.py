"""How close two sounds are in spectrum."""

from __future__ import annotations

import numpy as np


def average_spectrum_db(audio, *, n_fft: int = 1024) -> np.ndarray:
    """Long-term average power spectrum in dB of mono audio ``(frames,)``, floored at -120 dB."""
    import librosa

    S = np.abs(librosa.stft(np.asarray(audio, np.float32), n_fft=n_fft, hop_length=n_fft // 4)) ** 2
    return 10.0 * np.log10(np.maximum(S.mean(axis=1), 1e-12))


def log_spectral_distance(a, b, *, n_fft: int = 1024) -> float:
    """RMS difference in dB between the average spectra of ``a`` and ``b`` (same sample rate)."""
    return float(
        np.sqrt(np.mean((average_spectrum_db(a, n_fft=n_fft) - average_spectrum_db(b, n_fft=n_fft)) ** 2))
    )
