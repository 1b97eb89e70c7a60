"""Log-mel frames for frame-rate models; decoded by Griffin-Lim."""

from __future__ import annotations

import numpy as np

from ..errors import ParameterError, ParameterTypeError
from ..models.codec import FrameCodec
from .base import Adapter

_FLOOR = 1e-5  # power floor before the log, about -100 dB
MAX_SIZE = 1 << 16  # n_fft, hop and bands: 1.4 s at 48 kHz; a larger one is a broken setting


class MelAdapter(FrameCodec, Adapter):
    name = "mel"
    output_activation = "linear"
    options = ("sample_rate", "n_fft", "hop_length", "n_mels")

    def __init__(
        self, *, sample_rate: int = 16000, n_fft: int = 1024, hop_length: int = 256, n_mels: int = 64
    ):
        super().__init__(sample_rate=sample_rate)
        for key, v in (("n_fft", n_fft), ("hop_length", hop_length), ("n_mels", n_mels)):
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)):
                raise ParameterTypeError(f"{key} must be an integer from 1 to {MAX_SIZE}; got {v!r}")
            if not 1 <= v <= MAX_SIZE:
                raise ParameterError(f"{key} must be an integer from 1 to {MAX_SIZE}; got {v!r}")
        if hop_length > n_fft:
            raise ParameterError(f"hop_length must be <= n_fft; got {hop_length} > {n_fft}")
        self.n_fft, self.hop_length, self.n_mels = int(n_fft), int(hop_length), int(n_mels)

    @property
    def step_rate(self) -> float:
        return self.sample_rate / self.hop_length

    input_size = property(lambda self: self.n_mels)
    output_size = property(lambda self: self.n_mels)

    def settings(self) -> dict:
        return {
            "sample_rate": self.sample_rate,
            "n_fft": self.n_fft,
            "hop_length": self.hop_length,
            "n_mels": self.n_mels,
        }

    def frames(self, audio) -> np.ndarray:
        """audio (C, F) -> log-mel frames (C, T, n_mels)."""
        import librosa

        S = librosa.feature.melspectrogram(
            y=np.asarray(audio, np.float32),
            sr=self.sample_rate,
            n_fft=self.n_fft,
            hop_length=self.hop_length,
            n_mels=self.n_mels,
            power=2.0,
        )
        return np.log(np.maximum(S, _FLOOR)).transpose(0, 2, 1).astype(np.float32)

    def initial_input(self) -> np.ndarray:
        """Silence: every band at the floor."""
        return np.full(self.n_mels, np.log(_FLOOR), np.float32)

    def encode(self, audio):
        f = self.frames(audio)
        prev = np.concatenate([np.broadcast_to(self.initial_input(), f[:, :1].shape), f[:, :-1]], axis=1)
        return prev, f

    def decode(self, frames, *, n_iter: int = 32, seed: int = 0):
        """log-mel frames (C, T, n_mels) -> audio (C, F) by Griffin-Lim phase recovery.

        The initial phases are drawn from ``seed``, so decoding is repeatable.
        """
        import librosa

        M = np.exp(np.asarray(frames, np.float32)).transpose(0, 2, 1)
        S = librosa.feature.inverse.mel_to_stft(M, sr=self.sample_rate, n_fft=self.n_fft, power=2.0)
        y = librosa.griffinlim(
            S, n_iter=n_iter, hop_length=self.hop_length, n_fft=self.n_fft, random_state=seed
        )
        return np.clip(y, -1.0, 1.0).astype(np.float32)
