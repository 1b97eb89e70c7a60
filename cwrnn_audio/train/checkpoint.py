"""Training checkpoints: complete folders, switched in by an atomic pointer.

``DIR/ckpt-EEEEEE/`` holds ``state.safetensors`` (flat parameters, optimiser
moments, step counters, losses so far), ``trainer.json`` (epoch, settings,
history) and, for single models, the model file users can load. A folder is
written under a temporary name and renamed when complete; only then does
``DIR/latest`` (written atomically) name it, so a run killed at any moment
resumes from the last complete checkpoint. A complete folder renamed in just
before a kill, with no pointer to it yet, is complete all the same: loading
takes the newest complete folder. ``latest`` must name a checkpoint folder
of ``DIR`` itself; anything else there is refused, never followed.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
from pathlib import Path
from typing import Callable

import numpy as np

from ..core.kinds import kind_of
from ..errors import ParameterError
from ..io.atomic import atomic_path
from ..lazy import resolve


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


NAME = re.compile(r"ckpt-\d{6}")


def pointed(directory) -> Path | None:
    """The folder ``DIR/latest`` names, or None without a pointer; a name that is not a plain
    checkpoint name (a path, ``..``, an absolute path) is refused: following it would resume,
    and report success, from another folder's files."""
    pointer = Path(directory) / "latest"
    if not pointer.is_file():
        return None
    try:
        name = pointer.read_text().strip()
    except (OSError, UnicodeDecodeError) as exc:
        raise ParameterError(f"{pointer}: unreadable checkpoint pointer ({exc})") from None
    if not NAME.fullmatch(name):
        raise ParameterError(
            f"{pointer}: must name a checkpoint folder like 'ckpt-000001' in {directory}; got {name!r}"
        )
    return Path(directory) / name


def complete_folders(directory) -> list[Path]:
    """The complete checkpoint folders in ``directory``, oldest first (only a finished folder is
    ever renamed to its ``ckpt-EEEEEE`` name)."""
    directory = Path(directory)
    if not directory.is_dir():
        return []
    found = [d for d in directory.iterdir() if NAME.fullmatch(d.name) and not d.is_symlink() and d.is_dir()]
    return sorted(d for d in found if (d / "state.safetensors").is_file() and (d / "trainer.json").is_file())


def has_checkpoint(directory) -> bool:
    return pointed(directory) is not None or bool(complete_folders(directory))


def clean_leftovers(directory) -> None:
    """Remove what a killed save leaves: half-written ``.ckpt-*`` folders and ``.latest.*.tmp`` files."""
    directory = Path(directory)
    if not directory.is_dir():
        return
    for old in [*directory.glob(".ckpt-*"), *directory.glob(".latest.*.tmp")]:
        if old.is_dir() and not old.is_symlink():
            shutil.rmtree(old, ignore_errors=True)
        else:
            old.unlink(missing_ok=True)


def load_checkpoint(directory):
    """(arrays, info) of the newest complete checkpoint, or None if there is none."""
    from safetensors.numpy import load_file

    directory = Path(directory)
    named = pointed(directory)
    folders = complete_folders(directory)
    if named is None and not folders:
        return None
    folder = folders[-1] if folders else named
    if named is not None and folders and named.name > folder.name:
        folder = named  # reported unreadable below rather than silently passed over
    try:
        arrays = load_file(str(folder / "state.safetensors"))
        info = json.loads((folder / "trainer.json").read_text())
    except Exception as exc:
        raise ParameterError(f"{folder}: unreadable checkpoint ({exc})") from None
    return arrays, info


NETWORK_SAVERS: dict[type, Callable] = {}  # networks of other packages (the project's: core/kinds.py)


def register_network(cls: type, save: Callable) -> None:
    """Teach :func:`save_network` a network class of another package: ``save(model, path)``."""
    NETWORK_SAVERS[cls] = save


def save_network(model, path) -> Path:
    """Write ``model`` with the saver of its kind (:mod:`cwrnn_audio.core.kinds`), or the one
    registered for its class (or the nearest base class)."""
    for cls in type(model).__mro__:
        if cls in NETWORK_SAVERS:
            NETWORK_SAVERS[cls](model, path)
            return Path(os.fspath(path))
    resolve(kind_of(model).save)(model, path)  # a network of no kind: ParameterTypeError naming it
    return Path(os.fspath(path))
