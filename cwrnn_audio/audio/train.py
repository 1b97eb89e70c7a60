"""Old import path of :mod:`cwrnn_audio.audio.fit` (samples/, benchmarks/ and tests/train/ use it)."""

from .fit import AudioTrainConfig, train_audio

__all__ = ["AudioTrainConfig", "train_audio"]
