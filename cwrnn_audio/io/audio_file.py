"""Audio files at the edge: soundfile in, float32 ``(channels, frames)`` out.

soundfile reads frames-first float64; this is the one place that converts.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import warnings
from pathlib import Path

import numpy as np

from ..errors import ParameterError, ParameterTypeError
from .atomic import atomic_path, check_writable


def valid_audio(audio, *, name: str = "audio") -> np.ndarray:
    """Check float audio ``(channels, frames)`` in [-1, 1]; returns float32."""
    a = np.asarray(audio)
    if a.dtype.kind != "f":
        raise ParameterTypeError(f"{name} must be floating point; got dtype {a.dtype}")
    if a.ndim != 2:
        raise ParameterError(f"{name} must have shape (channels, frames); got {a.shape}")
    a = np.ascontiguousarray(a, dtype=np.float32)
    if not np.isfinite(a).all():
        raise ParameterError(f"{name} contains NaN or infinite samples")
    return a


def audio_info(path):
    """soundfile's ``info`` of an input file, with the file and the cause named when it fails."""
    import soundfile as sf

    path = Path(os.fspath(path))
    if not path.is_file():
        raise ParameterError(f"{path}: no such audio file")
    if not os.access(path, os.R_OK):
        raise ParameterError(f"{path}: permission denied")
    try:
        return sf.info(str(path))
    except Exception as exc:  # soundfile's LibsndfileError and friends
        raise ParameterError(f"{path}: not a readable audio file ({exc})") from None


def read_audio(path) -> tuple[np.ndarray, int]:
    """Read a sound file as float32 ``(channels, frames)`` and its sample rate."""
    import soundfile as sf

    path = Path(os.fspath(path))
    if not path.is_file():
        raise ParameterError(f"{path}: no such audio file")
    try:
        data, sr = sf.read(str(path), dtype="float32", always_2d=True)
    except Exception as exc:  # soundfile's LibsndfileError and friends
        raise ParameterError(f"{path}: not a readable audio file ({exc})") from None
    if data.shape[0] == 0:
        raise ParameterError(f"{path}: the file holds no audio frames")
    audio = np.ascontiguousarray(data.T)
    if not np.isfinite(audio).all():
        raise ParameterError(f"{path}: the file contains NaN or infinite samples")
    return audio, int(sr)


def output_format(path, *, subtype: str | None = None, keep: bool = False) -> tuple[str, str | None]:
    """soundfile's ``(format, subtype)`` for writing ``path``, from its suffix. A ``subtype`` the
    format cannot hold is refused; with ``keep`` (the input's, as ``render`` passes it) it gives
    way to the format's default instead, so 24-bit input stays 24-bit where it can."""
    import soundfile as sf

    path = Path(os.fspath(path))
    fmt = path.suffix.lstrip(".").upper()
    if fmt not in sf.available_formats():
        raise ParameterError(f"{path}: unknown audio format {fmt!r}; use e.g. .wav or .flac")
    if subtype is not None and not sf.check_format(fmt, subtype):
        if not keep:
            raise ParameterError(f"{path}: {fmt} cannot hold samples of subtype {subtype!r}")
        subtype = None
    return fmt, subtype


def check_audio_output(
    path, sample_rate: int, channels: int, *, subtype: str | None = None, keep: bool = False
):
    """Fail now, not after the work, if ``path`` cannot take this audio: ParameterError naming the
    file and why (its format, the channels or rate the format cannot hold, the name, the folder).
    Returns ``(format, subtype)`` as :func:`output_format`."""
    import tempfile

    import soundfile as sf

    fmt, subtype = output_format(path, subtype=subtype, keep=keep)
    path = check_writable(path)
    fd, probe = tempfile.mkstemp(prefix=".probe.", suffix=path.suffix, dir=path.parent)
    os.close(fd)
    try:
        sf.SoundFile(probe, "w", int(sample_rate), int(channels), subtype, format=fmt).close()
    except Exception as exc:
        detail = str(exc).replace(probe, str(path))
        raise ParameterError(
            f"{path}: {fmt} cannot hold {channels} channel(s) at {sample_rate} Hz ({detail})"
        ) from None
    finally:
        os.unlink(probe)
    return fmt, subtype


def _failed_write(path, exc) -> OSError:
    """The error for a write that failed midway: the output named, and a full disk said as such
    (libsndfile reports only "System error.")."""
    folder = Path(path).parent
    try:
        free = shutil.disk_usage(folder).free
    except OSError:
        free = None
    why = f"{type(exc).__name__}: {exc}"
    if free is not None and free < 1 << 20:
        why = f"the disk is full ({free} bytes free in {folder}); {why}"
    return OSError(f"{path}: writing the output failed ({why}); any earlier file there is unchanged")


class _Writer:
    """Writes float blocks ``(channels, frames)`` clipped to [-1, 1], counting what it clipped."""

    def __init__(self, sf_file, path):
        self._file, self._path, self.clipped, self.frames = sf_file, path, 0, 0

    def write(self, block: np.ndarray) -> None:
        over = np.abs(block) > 1.0
        if over.any():
            self.clipped += int(over.sum())
            block = np.clip(block, -1.0, 1.0)
        try:
            self._file.write(block.T)
        except Exception as exc:  # libsndfile: "System error." for a full disk
            raise _failed_write(self._path, exc) from None
        self.frames += block.shape[1]


@contextlib.contextmanager
def open_audio_output(path, sample_rate: int, channels: int, *, subtype: str | None = None):
    """A writer of ``(channels, frames)`` float32 blocks to ``path``, which appears only complete
    (temp file, then rename). A failed write raises OSError naming ``path`` (exit 1 in the CLI);
    samples beyond [-1, 1] are clipped, with one warning at the end giving how many."""
    import soundfile as sf

    path = Path(os.fspath(path))
    fmt, subtype = output_format(path, subtype=subtype)
    with atomic_path(path) as tmp:
        try:
            f = sf.SoundFile(str(tmp), "w", int(sample_rate), int(channels), subtype, format=fmt)
        except Exception as exc:
            raise _failed_write(path, exc) from None
        with contextlib.ExitStack() as stack:
            stack.callback(f.close)  # closed (and its header written) before the rename
            writer = _Writer(f, path)
            yield writer
            stack.pop_all()
            try:
                f.close()
            except Exception as exc:
                raise _failed_write(path, exc) from None
    if writer.clipped:
        warnings.warn(
            f"{path}: {writer.clipped} samples beyond [-1, 1] were clipped", UserWarning, stacklevel=3
        )


def write_audio(path, audio, sample_rate: int, *, subtype: str | None = None) -> Path:
    """Write float audio ``(channels, frames)`` atomically (temp file, then rename); samples beyond
    [-1, 1] are clipped, with a warning."""
    a = valid_audio(audio)
    path = Path(os.fspath(path))
    with open_audio_output(path, sample_rate, a.shape[0], subtype=subtype) as out:
        out.write(a)
    return path
