"""Training checkpoints: complete folders, switched in by an atomic pointer.

``DIR/ckpt-EEEEEE/`` holds ``state.safetensors`` (flat parameters, optimiser
moments, step counters, losses so far), ``trainer.json`` (epoch, settings,
RNG state) and, for single models, the model file users can load. Only
when a folder is complete does ``DIR/latest`` (written atomically) name it,
so a run killed at any moment resumes from the last complete checkpoint.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import numpy as np

from ..errors import ParameterError
from ..io.atomic import atomic_path


def save_checkpoint(directory, epoch: int, arrays: dict, info: dict, model=None) -> Path:
    from safetensors.numpy import save_file

    directory = Path(directory)
    folder = directory / f"ckpt-{epoch:06d}"
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    save_file({k: np.ascontiguousarray(v) for k, v in arrays.items()}, str(folder / "state.safetensors"))
    (folder / "trainer.json").write_text(json.dumps({**info, "epoch": epoch}, indent=1, sort_keys=True))
    if model is not None:
        save_network(model, folder / "model.safetensors")
    with atomic_path(directory / "latest") as tmp:
        tmp.write_text(folder.name)
    for old in directory.glob("ckpt-*"):
        if old != folder:
            shutil.rmtree(old, ignore_errors=True)
    return folder


def load_checkpoint(directory):
    """(arrays, info) of the latest complete checkpoint, or None if there is none."""
    from safetensors.numpy import load_file

    directory = Path(directory)
    pointer = directory / "latest"
    if not pointer.is_file():
        return None
    folder = directory / pointer.read_text().strip()
    try:
        arrays = load_file(str(folder / "state.safetensors"))
        info = json.loads((folder / "trainer.json").read_text())
    except Exception as exc:
        raise ParameterError(f"{folder}: unreadable checkpoint ({exc})") from None
    return arrays, info


def save_network(model, path) -> Path:
    """A CW-RNN in the core format, an LSTM in its own; both safetensors + JSON."""
    from ..nn.module import CWRNN

    if isinstance(model, CWRNN):
        model.save(path)
        return Path(os.fspath(path))
    from ..io.lstm_file import save_lstm

    return save_lstm(model, path)
