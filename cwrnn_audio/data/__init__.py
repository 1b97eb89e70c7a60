"""Training windows streamed from files, sharded across ranks; the file loaders live in
:mod:`cwrnn_audio.audio.loader` and :mod:`cwrnn_audio.midi.loader` (data/ imports neither)."""

from .windows import WindowDataset, split_stream

__all__ = ["WindowDataset", "split_stream"]
