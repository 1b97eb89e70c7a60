"""MIDI model folders: :mod:`cwrnn_audio.models.folder` with the ``(model, encoding, settings)`` callers use."""

from ..models.folder import load_model_dir


def load_midi_model_dir(directory):
    """(model, encoding, settings) where settings holds the program and tempo to write with."""
    return tuple(load_model_dir(directory, domain="midi"))
