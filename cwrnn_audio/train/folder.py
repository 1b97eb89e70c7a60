"""The training folder: claimed by one run at a time, checked before any work, published whole.

:func:`claim` runs before the data are analysed, so a wrong ``--out`` or ``--resume`` fails in
a second, not after minutes of pitch analysis: the folder must be writable, free of another
live training (``.lock`` holds its PID; a lock whose process is gone is taken over), empty or
resumable, and a checkpoint there must have been made with the same settings and data.
:func:`publish` writes the model files into a staging folder and moves them in only when all
are written, so ``model.safetensors`` and ``config.json`` never describe different epochs; a
kill between the moves is finished at the next claim.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import shutil
from pathlib import Path

from ..errors import ParameterError
from .checkpoint import clean_leftovers, complete_folders, has_checkpoint, pointed

LOCK, STAGING, DONE = ".lock", ".publish", ".complete"
# atomic_path's temporary names (".NAME.RANDOM.tmp.SUFFIX") for the files a training writes
_TEMP = re.compile(
    r"\.(history\.json|metrics\.csv|loss_curve\.png|[\w-]+\.safetensors|[\w-]+\.json)\..+\.tmp.*"
)
_HELD: set[Path] = set()  # folders this process has claimed (a trainer called by a trainer)
GROWABLE = ("epochs",)  # settings a resumed run may change


def file_digests(files) -> list[list[str]]:
    """``[[name, sha256 of the bytes]]`` for the training files, to recognise them on resume."""
    out = []
    for f in files:
        h = hashlib.sha256()
        with open(f, "rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                h.update(block)
        out.append([str(f), h.hexdigest()])
    return out


def array_digest(*arrays) -> str:
    """SHA-256 of arrays' dtypes, shapes and values."""
    import numpy as np

    h = hashlib.sha256()
    for a in arrays:
        a = np.ascontiguousarray(a)
        h.update(str((a.dtype.str, a.shape)).encode())
        h.update(a.tobytes())
    return h.hexdigest()


def array_digests(streams) -> list[list[str]]:
    """:func:`file_digests` for streams held in memory: ``[["stream i", sha256]]``."""
    return [[f"stream {i}", array_digest(*s)] for i, s in enumerate(streams)]


def differences(old: dict, new: dict) -> list[str]:
    """What differs between a checkpoint's settings and this run's, one phrase per key.

    Keys the checkpoint lacks (written before they existed) and :data:`GROWABLE` keys are not
    compared; ``data`` is compared by content, naming the files that are new or gone."""
    out = []
    for key in sorted(set(old) & set(new)):
        if key in GROWABLE or old[key] == new[key]:
            continue
        if key == "data":
            was, now = {d for _, d in old[key]}, {d for _, d in new[key]}
            added = [n for n, d in new[key] if d not in was]
            gone = [n for n, d in old[key] if d not in now]
            if added:
                out.append("training data not in the checkpoint: " + ", ".join(added))
            if gone:
                out.append("training data in the checkpoint but not given now: " + ", ".join(gone))
        else:
            out.append(f"{key} {old[key]!r} (checkpoint) vs {new[key]!r} (now)")
    return out


def refuse_other_settings(directory, old: dict, new: dict) -> None:
    diff = differences(old, new)
    if diff:
        raise ParameterError(
            f"{directory}: the checkpoint was made with other settings: {'; '.join(diff)}. Resume with the "
            "same settings and data (only --epochs may change), or train into another folder"
        )


def checkpoint_settings(directory) -> dict | None:
    """The settings of the newest complete checkpoint in ``directory`` (its JSON only), or None."""
    folders = complete_folders(directory)
    named = pointed(directory)
    folder = folders[-1] if folders else named
    if folder is None:
        return None
    try:
        return json.loads((folder / "trainer.json").read_text()).get("settings")
    except (OSError, ValueError, AttributeError) as exc:
        raise ParameterError(f"{folder}: unreadable checkpoint ({exc})") from None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's live process
        return True
    return True


@contextlib.contextmanager
def _serialized(out: Path):
    """Hold an advisory lock on the folder itself while a run reads, takes over and writes ``.lock``:
    without it, two runs that both found a dead run's lock both took the folder (8 rounds in 20,
    six runs starting together), and a run could read another's lock before its PID was written."""
    try:
        import fcntl
    except ImportError:  # not POSIX: the lock file alone
        yield
        return
    try:
        fd = os.open(out, os.O_RDONLY)
    except OSError:
        yield  # the lock file's own errors name the problem
        return
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)  # held for microseconds: the check and the write below
        yield
    finally:
        os.close(fd)


def _lock(out: Path) -> Path:
    with _serialized(out):
        return _take_lock(out)


def _take_lock(out: Path) -> Path:
    lock = out / LOCK
    for _ in range(3):
        try:
            fd = os.open(lock, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        except FileExistsError:
            try:
                pid = int(lock.read_text().strip() or 0)
            except (OSError, ValueError):
                pid = 0  # half-written by a killed run
            if pid and pid != os.getpid() and _alive(pid):
                raise ParameterError(
                    f"{out}: another training (PID {pid}) is writing to this folder; wait for it to "
                    f"finish or choose another --out (remove {lock} if that process is not a training)"
                ) from None
            lock.unlink(missing_ok=True)  # its process is gone: take the folder over
            continue
        except OSError as exc:
            raise ParameterError(f"{out}: cannot write to this folder ({exc.strerror or exc})") from None
        with os.fdopen(fd, "w") as fh:
            fh.write(f"{os.getpid()}\n")
        return lock
    raise ParameterError(f"{out}: could not take {lock}; another training may be starting there")


def _finish_publishing(out: Path) -> None:
    staging = out / STAGING
    if not staging.is_dir():
        return
    if (staging / DONE).is_file():  # killed while moving the files in: move the rest
        for f in staging.iterdir():
            if f.name != DONE:
                os.replace(f, out / f.name)
    shutil.rmtree(staging, ignore_errors=True)


def _tidy(out: Path) -> None:
    """Remove what killed runs leave; finish a publication that was complete."""
    _finish_publishing(out)
    for f in out.iterdir():
        if _TEMP.fullmatch(f.name) and f.is_file():
            f.unlink(missing_ok=True)
    clean_leftovers(out / "checkpoint")


def _contents(out: Path) -> list[str]:
    return [f.name for f in out.iterdir() if f.name != LOCK]


@contextlib.contextmanager
def claim(out, *, resume: bool, settings: dict | None = None, main: bool = True):
    """Hold ``out`` for one training; refuse a folder that is busy, not writable, not empty
    (without a checkpoint to resume) or holding a checkpoint of other ``settings``.

    ``main``: only rank 0 of a group takes the lock and tidies (the others may run the checks)."""
    out = Path(os.fspath(out)).absolute()
    if out in _HELD:
        yield out
        return
    if out.exists() and not out.is_dir():
        raise ParameterError(f"{out}: not a folder")
    if main:
        try:
            out.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ParameterError(f"{out}: cannot create this folder ({exc.strerror or exc})") from None
        lock = _lock(out)
        _HELD.add(out)
    try:
        if main:
            _tidy(out)
        ckpt = out / "checkpoint"
        if out.is_dir() and _contents(out):
            if not (resume and has_checkpoint(ckpt)):
                raise ParameterError(f"{out} is not empty; use --resume to continue or choose another folder")
            old = checkpoint_settings(ckpt)
            if settings is not None and old is not None:
                refuse_other_settings(ckpt, old, json.loads(json.dumps(settings)))
        yield out
    finally:
        if main:
            _HELD.discard(out)
            lock.unlink(missing_ok=True)


def publish(out, write) -> None:
    """``write(folder)`` the model files into a staging folder, then move them all into ``out``."""
    out = Path(out)
    staging = out / STAGING
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    write(staging)
    (staging / DONE).touch()
    _finish_publishing(out)
