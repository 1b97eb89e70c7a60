"""Audio model folders: :mod:`cwrnn_audio.models.folder` with the ``(model, adapter)`` pair callers use."""

from __future__ import annotations

from ..models.folder import load_model_dir as load_folder
from ..models.folder import save_model_dir


def load_model_dir(directory):
    """(model, adapter) from an audio model folder."""
    model, adapter, _ = load_folder(directory, domain="audio")
    return model, adapter


__all__ = ["load_model_dir", "save_model_dir"]
