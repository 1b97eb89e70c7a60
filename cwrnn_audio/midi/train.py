"""Old import path of :mod:`cwrnn_audio.midi.fit` (samples/, benchmarks/ and tests/train/ use it)."""

from .fit import MidiTrainConfig, tempo_and_program, train_midi

__all__ = ["MidiTrainConfig", "tempo_and_program", "train_midi"]
