"""Atomic writes: a temp file beside the target, renamed over it only on success."""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

# mkstemp makes files private (0600); finished files get the usual permissions
_UMASK = os.umask(0)
os.umask(_UMASK)


_RANDOM = 8  # the characters mkstemp adds


def _name_max(folder: Path) -> int:
    try:
        return os.pathconf(folder, "PC_NAME_MAX")
    except (OSError, ValueError, AttributeError):
        return 255


def _temp_affixes(path: Path) -> tuple[str, str]:
    """``(prefix, suffix)`` of the temp name, ``.NAME.RANDOM.tmp.SUFFIX``: NAME is cut short where
    the whole would pass the file system's name limit, so any name that fits can be written."""
    suffix = ".tmp" + path.suffix
    room = _name_max(path.parent) - len(os.fsencode(suffix)) - _RANDOM - 2
    name = os.fsencode(path.name)
    if len(name) > room:
        name = name[: max(room, 0)].decode(errors="ignore").encode()  # whole characters only
    return f".{os.fsdecode(name)}.", suffix


def check_writable(path) -> Path:
    """Raise ParameterError, naming ``path`` and why, unless ``atomic_path(path)`` can create its
    temp file: commands call it before their work, so a bad output name fails at once, not after
    a long render. Creates the missing folders, as ``atomic_path`` would."""
    from ..errors import ParameterError

    path = Path(os.fspath(path))
    size, limit = len(os.fsencode(path.name)), _name_max(path.parent) if path.parent.is_dir() else 255
    if size > limit:
        raise ParameterError(f"{path}: the file name is {size} bytes; this file system allows {limit}")
    if path.is_dir():
        raise ParameterError(f"{path}: is a folder; give an output file name")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        prefix, suffix = _temp_affixes(path)
        fd, tmp = tempfile.mkstemp(prefix=prefix, suffix=suffix, dir=path.parent)
        os.close(fd)
        os.unlink(tmp)
    except OSError as exc:
        raise ParameterError(f"{path}: cannot write here ({exc.strerror or exc})") from None
    return path


@contextlib.contextmanager
def atomic_path(path):
    """Yield a temporary path in ``path``'s folder; on success rename it to ``path``.

    A crash or an exception leaves any earlier file at ``path`` untouched.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    prefix, suffix = _temp_affixes(path)
    fd, tmp = tempfile.mkstemp(prefix=prefix, suffix=suffix, dir=path.parent)
    os.close(fd)
    try:
        yield Path(tmp)
        os.chmod(tmp, 0o666 & ~_UMASK)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def write_json(path, data) -> Path:
    """Write ``data`` as indented JSON, atomically."""
    import json

    path = Path(path)
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(data, indent=1, sort_keys=True, allow_nan=True))
    return path


def find_files(paths, suffixes, *, source: str = "path") -> list[Path]:
    """Every file named, or found (recursively, sorted) with one of ``suffixes`` in a named folder."""
    from ..errors import ParameterError

    out: list[Path] = []
    for p in [paths] if isinstance(paths, (str, os.PathLike)) else paths:
        p = Path(os.fspath(p))
        if p.is_dir():
            out.extend(sorted(f for f in p.rglob("*") if f.is_file() and f.suffix.lower() in suffixes))
        elif p.is_file():
            out.append(p)
        else:
            raise ParameterError(f"{p}: no such file or folder")
    return out
