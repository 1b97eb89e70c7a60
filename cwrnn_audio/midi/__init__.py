"""Note streams: MIDI files in and out (mido), one note list, sequence encodings."""

from .notes import Note, Score
from .read import read_midi
from .write import write_midi

__all__ = ["Note", "Score", "read_midi", "write_midi"]
