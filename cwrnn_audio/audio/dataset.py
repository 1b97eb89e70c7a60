"""Audio corpora: files or folders in, clips at the adapter's rate out; bad files skipped and listed."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from ..adapters.base import Adapter
from ..errors import ParameterError
from ..io.atomic import find_files
from ..io.audio_file import read_audio

AUDIO_SUFFIXES = {".wav", ".flac", ".ogg", ".oga", ".aiff", ".aif", ".mp3"}
SILENCE_PEAK = 1e-4
SCAN_BLOCK = 1 << 16  # frames read at a time while looking for sound


def _silent(path) -> bool:
    """Whether the file has no sample reaching :data:`SILENCE_PEAK`, read block by block and stopped
    at the first sound: a 10-hour silent WAV took 6.8 GB to load whole only to be refused. A file
    soundfile cannot open here is left to :func:`read_audio`, which names the problem."""
    import soundfile as sf

    try:
        with sf.SoundFile(str(path)) as f:
            if f.frames == 0:
                return False  # empty, not silent: read_audio says so
            for block in f.blocks(SCAN_BLOCK, dtype="float32"):
                if not np.all(np.abs(block) < SILENCE_PEAK):  # NaN counts as not silent: refused later
                    return False
    except Exception:
        return False
    return True


def find_audio_files(paths) -> list[Path]:
    """Every audio file named, or found (recursively, sorted) in a named folder."""
    return find_files(paths, AUDIO_SUFFIXES)


def load_clip(path, sample_rate: int, *, channels: str = "mix", codec=Adapter) -> np.ndarray:
    """One file as float32 ``(channels, frames)`` at ``sample_rate``; refuses empty/silent/NaN audio
    and files at a rate ``codec`` (an adapter or its class) cannot use: a header's 1 Hz would
    otherwise be resampled into minutes of made-up samples."""
    import librosa

    sample_rate = codec.check_rate(sample_rate)
    if _silent(path):
        raise ParameterError(f"{path}: the audio is silent (peak below {SILENCE_PEAK})")
    audio, sr = read_audio(path)
    codec.check_rate(sr, name=f"{path}: the file's sample rate")
    if channels == "mix":
        audio = audio.mean(axis=0, keepdims=True)
    elif channels != "keep":
        raise ParameterError(f"channels must be 'mix' or 'keep'; got {channels!r}")
    if sr != sample_rate:
        audio = librosa.resample(audio, orig_sr=sr, target_sr=sample_rate, res_type="soxr_hq", axis=-1)
    audio = np.clip(audio, -1.0, 1.0).astype(np.float32)
    if np.abs(audio).max() < SILENCE_PEAK:
        raise ParameterError(f"{path}: the audio is silent (peak below {SILENCE_PEAK})")
    return np.ascontiguousarray(audio)


def load_corpus(paths, sample_rate: int, *, channels: str = "mix", min_frames: int = 1, codec=Adapter):
    """(clips [(path, audio)], skipped [(path, reason)]); refuses a corpus with no usable file.
    ``codec`` (an adapter or its class) decides the sample rates a file may have."""
    clips, skipped = [], []
    for f in find_audio_files(paths):
        try:
            audio = load_clip(f, sample_rate, channels=channels, codec=codec)
            if audio.shape[1] < min_frames:
                raise ParameterError(
                    f"{f}: {audio.shape[1]} frames at {sample_rate} Hz; need at least {min_frames}"
                )
            clips.append((f, audio))
        except ParameterError as exc:
            skipped.append((f, str(exc)))
    if not clips:
        detail = "; ".join(reason for _, reason in skipped) or "no audio files found"
        raise ParameterError(
            f"no usable audio in {[str(p) for p in ([paths] if isinstance(paths, (str, os.PathLike)) else paths)]}: {detail}"
        )
    return clips, skipped
