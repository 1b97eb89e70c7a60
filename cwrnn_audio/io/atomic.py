"""Atomic writes: a temp file beside the target, renamed over it only on success."""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

# mkstemp makes files private (0600); finished files get the usual permissions
_UMASK = os.umask(0)
os.umask(_UMASK)


@contextlib.contextmanager
def atomic_path(path):
    """Yield a temporary path in ``path``'s folder; on success rename it to ``path``.

    A crash or an exception leaves any earlier file at ``path`` untouched.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp" + path.suffix, dir=path.parent)
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
