"""Training checkpoints: complete folders, switched in by an atomic pointer.

``DIR/ckpt-EEEEEE/`` holds ``state.safetensors`` (flat parameters, optimiser
moments, step counters, losses so far), ``trainer.json`` (epoch, settings,
history) and, for single models, the model file users can load. A folder is
written under a temporary name and renamed when complete; only then does
``DIR/latest`` (written atomically) name it, so a run killed at any moment
resumes from the last complete checkpoint.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Callable

import numpy as np

from ..errors import ParameterError, ParameterTypeError
from ..io.atomic import atomic_path
from ..io.lstm_file import save_lstm
from ..nn.lstm import LSTMNet
from ..nn.module import CWRNN


def save_checkpoint(directory, epoch: int, arrays: dict, info: dict, model=None) -> Path:
    from safetensors.numpy import save_file

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    folder = directory / f"ckpt-{epoch:06d}"
    tmp = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", dir=directory))
    try:
        save_file({k: np.ascontiguousarray(v) for k, v in arrays.items()}, str(tmp / "state.safetensors"))
        (tmp / "trainer.json").write_text(json.dumps({**info, "epoch": epoch}, indent=1, sort_keys=True))
        if model is not None:
            save_network(model, tmp / "model.safetensors")
        if folder.exists():
            shutil.rmtree(folder)
        os.replace(tmp, folder)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    with atomic_path(directory / "latest") as pointer:
        pointer.write_text(folder.name)
    for old in [*directory.glob("ckpt-*"), *directory.glob(".ckpt-*")]:  # and any a killed run left
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


NETWORK_SAVERS: dict[type, Callable] = {}


def register_network(cls: type, save: Callable) -> None:
    """Teach :func:`save_network` a network kind: ``save(model, path)`` writes safetensors + JSON."""
    NETWORK_SAVERS[cls] = save


def save_network(model, path) -> Path:
    """Write ``model`` with the saver registered for its class (or the nearest base class)."""
    for cls in type(model).__mro__:
        if cls in NETWORK_SAVERS:
            NETWORK_SAVERS[cls](model, path)
            return Path(os.fspath(path))
    known = ", ".join(c.__name__ for c in NETWORK_SAVERS)
    raise ParameterTypeError(f"model must be one of {known}; got {type(model).__name__}")


register_network(CWRNN, lambda model, path: model.save(path))  # the core format
register_network(LSTMNet, save_lstm)
