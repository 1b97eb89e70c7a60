"""Datasets that stream training windows from folders of audio or MIDI files, sharded across ranks."""

from .loaders import AudioLoader, MidiLoader
from .windows import WindowDataset

__all__ = ["AudioLoader", "MidiLoader", "WindowDataset"]
