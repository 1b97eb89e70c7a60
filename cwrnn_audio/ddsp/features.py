"""Frame features for the DDSP encoding: fundamental frequency, voicing and A-weighted loudness.

A mono recording is cut into ``T`` frames of ``hop = sample_rate // frame_rate`` samples, one frame
of features per frame of the synthesizer (:mod:`cwrnn_audio.ddsp.synth`), which turns ``T`` frames
back into ``T * hop`` samples.

Framing
-------
``T = ceil(F / hop)`` for ``F`` input samples, so ``T * hop >= F`` (the synthesizer's output covers
the input; it is ``T * hop - F < hop`` samples longer, to be trimmed or compared against the input
padded with zeros). Frame ``i`` is analysed in a window of ``frame_length`` samples centred on input
sample ``(i + 1) * hop - 1``: the sample at which the synthesizer's frame ``i`` reaches its
parameters (see :mod:`cwrnn_audio.ddsp`). Samples outside the input (before 0, at or after ``F``)
are read as zeros. pYIN and the loudness STFT use the same frames (``center=True``), so frame ``i``
of every feature describes the same stretch of audio.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import numpy as np

from ..checks import valid_int
from ..errors import ParameterError, ParameterTypeError

#: Peak below which a recording counts as silent (the corpus loader's threshold).
SILENCE_PEAK = 1e-4
#: f0 in Hz given to every frame of a recording with no voiced frame at all.
UNVOICED_F0_HZ = 440.0
#: Floor of ``loudness_db``: the level of silent frames.
LOUDNESS_FLOOR_DB = -100.0
#: Default pitch range: C2 to C7, as in librosa's examples.
FMIN_HZ = 65.40639132514966
FMAX_HZ = 2093.004522404789


@dataclass(frozen=True)
class FrameFeatures:
    """Features of ``T`` frames of ``hop`` samples.

    Attributes
    ----------
    f0_hz : np.ndarray, float32, shape (T,), Hz
        Fundamental frequency; finite in every frame. Unvoiced frames are filled: linearly
        interpolated between the nearest voiced frames, held at the ends; :data:`UNVOICED_F0_HZ`
        everywhere when no frame is voiced.
    voiced : np.ndarray, bool, shape (T,)
        Frames whose f0 pYIN measured (the others' f0 is filled).
    voiced_prob : np.ndarray, float32, shape (T,), in [0, 1]
        pYIN's probability that the frame is voiced.
    loudness_db : np.ndarray, float32, shape (T,), dB
        A-weighted power of the frame in dB relative to a full-scale constant, floored at
        :data:`LOUDNESS_FLOOR_DB` (a full-scale 1 kHz sine reads about -3 dB).
    unvoiced_share : float
        Share of unvoiced frames, in [0, 1].
    sample_rate : int, Hz
    hop : int, samples
        Samples per frame: the synthesizer makes ``T * hop`` samples from these frames.
    """

    f0_hz: np.ndarray
    voiced: np.ndarray
    voiced_prob: np.ndarray
    loudness_db: np.ndarray
    unvoiced_share: float
    sample_rate: int
    hop: int

    @property
    def frames(self) -> int:
        """``T``, the number of frames."""
        return int(self.f0_hz.shape[0])


def _mono(audio) -> np.ndarray:
    """``(F,)`` or ``(1, F)`` float audio -> float32 ``(F,)``; refuses multichannel audio."""
    from ..io.audio_file import valid_audio

    if isinstance(audio, (str, bytes)) or audio is None:
        raise ParameterTypeError(
            f"audio must be a float array of shape (frames,) or (1, frames); got {audio!r}"
        )
    a = np.asarray(audio)
    if a.ndim == 1:
        a = a[None, :]
    if a.ndim == 2 and a.shape[0] != 1:
        raise ParameterError(
            f"audio must be mono, shape (frames,) or (1, frames); got {a.shape[0]} channels, "
            f"shape {a.shape} (mix down first, e.g. audio.mean(axis=0, keepdims=True))"
        )
    if a.dtype.kind != "f":
        raise ParameterTypeError(f"audio must be floating point; got dtype {a.dtype}")
    a = valid_audio(a)  # float32 (1, F), finite
    if a.shape[1] == 0:
        raise ParameterError("audio holds no samples; got shape (1, 0)")
    peak = float(np.abs(a).max())
    if peak < SILENCE_PEAK:
        raise ParameterError(f"audio is silent (peak {peak:.3g} below {SILENCE_PEAK}); no f0 to measure")
    return a[0]


def _valid_hz(value, *, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise ParameterTypeError(f"{name} must be a frequency in Hz; got {value!r}")
    if not (math.isfinite(value) and value > 0):
        raise ParameterError(f"{name} must be a positive, finite frequency in Hz; got {value!r}")
    return float(value)


def _fill_f0(f0: np.ndarray, voiced: np.ndarray) -> np.ndarray:
    """Unvoiced frames' f0: linear between voiced neighbours, held at the ends (constant if none)."""
    idx = np.flatnonzero(voiced)
    if idx.size == 0:
        return np.full(f0.shape, UNVOICED_F0_HZ)
    return np.interp(np.arange(f0.shape[0]), idx, f0[idx])


def frame_features(
    audio,
    *,
    sample_rate: int,
    frame_rate: int = 250,
    fmin: float = FMIN_HZ,
    fmax: float = FMAX_HZ,
    frame_length: int | None = None,
    pitch_every: int = 4,
) -> FrameFeatures:
    """f0 and voicing (pYIN) and A-weighted loudness of a mono recording, frame by frame.

    Parameters
    ----------
    audio : np.ndarray, float, shape (frames,) or (1, frames), in [-1, 1]
        Mono audio; multichannel audio is refused (mix it down first). Not silent: a peak below
        :data:`SILENCE_PEAK` raises.
    sample_rate : int, Hz, keyword-only
    frame_rate : int, Hz, keyword-only
        Frames per second; must divide ``sample_rate``: ``hop = sample_rate // frame_rate``
        samples per frame (250 Hz: 4 ms frames, 64 samples at 16 kHz).
    fmin, fmax : float, Hz, keyword-only
        pYIN's pitch range, ``0 < fmin < fmax <= sample_rate / 2``; default C2 to C7.
    frame_length : int or None, samples, keyword-only
        Analysis window of pYIN and of the loudness STFT, > ``sample_rate / fmin + 1``. Default:
        the smallest power of two holding four periods of ``fmin`` (1024 at 16 kHz with C2).
    pitch_every : int, frames, keyword-only
        pYIN runs every ``pitch_every`` frames (16 ms at the defaults) and its f0 (in log
        frequency) and voicing probability are interpolated to every frame: pYIN's cost is most of
        the analysis, and a pitch moves more slowly than loudness.

    Returns
    -------
    FrameFeatures
        ``T = ceil(frames / hop)`` frames: ``f0_hz``, ``voiced``, ``voiced_prob``,
        ``loudness_db`` (each shape ``(T,)``), ``unvoiced_share``, ``sample_rate``, ``hop``.
        Frame ``i`` is centred on sample ``(i + 1) * hop - 1`` (see the module's docstring).

    Raises
    ------
    ParameterError
        Multichannel, empty, non-finite or silent audio; ``frame_rate`` not dividing
        ``sample_rate``; a pitch range outside ``(0, sample_rate / 2]``; ``frame_length`` too
        short for ``fmin``.
    ParameterTypeError
        Arguments of the wrong type (integer audio, a string rate...).
    """
    sample_rate = valid_int(sample_rate, name="sample_rate", minimum=1)
    frame_rate = valid_int(frame_rate, name="frame_rate", minimum=1)
    if sample_rate % frame_rate:
        raise ParameterError(
            f"frame_rate must divide sample_rate (hop = sample_rate // frame_rate samples per frame); "
            f"got sample_rate={sample_rate}, frame_rate={frame_rate} ({sample_rate / frame_rate:g} samples)"
        )
    hop = sample_rate // frame_rate
    fmin = _valid_hz(fmin, name="fmin")
    fmax = _valid_hz(fmax, name="fmax")
    if not fmin < fmax <= sample_rate / 2:
        raise ParameterError(
            f"need 0 < fmin < fmax <= sample_rate / 2 = {sample_rate / 2:g} Hz; got fmin={fmin:g}, fmax={fmax:g}"
        )
    if frame_length is None:
        frame_length = 1 << (4 * math.ceil(sample_rate / fmin) - 1).bit_length()
    else:
        frame_length = valid_int(frame_length, name="frame_length", minimum=2)
        if sample_rate / fmin >= frame_length - 1:
            raise ParameterError(
                f"frame_length must exceed sample_rate / fmin + 1 = {sample_rate / fmin + 1:.1f} samples "
                f"(one period of fmin={fmin:g} Hz); got frame_length={frame_length}"
            )
    pitch_every = valid_int(pitch_every, name="pitch_every", minimum=1)
    y = _mono(audio)

    import librosa

    F = y.shape[0]
    T = -(-F // hop)
    # One zero before the input and zeros after it up to T * hop + 1 samples: centre j * hop of the
    # padded signal is input sample j * hop - 1, so frames 1..T are the synthesizer's frames 0..T-1.
    padded = np.zeros(T * hop + 1, dtype=np.float64)
    padded[1 : F + 1] = y
    f0, voiced, prob = librosa.pyin(
        padded,
        fmin=fmin,
        fmax=fmax,
        sr=sample_rate,
        frame_length=frame_length,
        hop_length=hop * pitch_every,
        center=True,
        pad_mode="constant",
    )
    # pYIN frame j is centred where synthesizer frame j * pitch_every - 1 is
    at = np.arange(f0.shape[0]) * pitch_every - 1.0
    frames = np.arange(T, dtype=np.float64)
    voiced = np.asarray(voiced, dtype=bool)
    log_f0 = np.log2(_fill_f0(f0, voiced))
    f0 = 2.0 ** np.interp(frames, at, log_f0)
    prob = np.interp(frames, at, np.nan_to_num(prob))
    voiced = voiced[np.clip(np.rint((frames + 1) / pitch_every).astype(int), 0, voiced.shape[0] - 1)]

    with warnings.catch_warnings():  # short inputs: the zero padding is deliberate
        warnings.filterwarnings("ignore", message="n_fft=.* is too large", category=UserWarning)
        spec = librosa.stft(
            padded, n_fft=frame_length, hop_length=hop, window="hann", center=True, pad_mode="constant"
        )[:, 1 : T + 1]
    freqs = librosa.fft_frequencies(sr=sample_rate, n_fft=frame_length)
    with np.errstate(divide="ignore"):  # 0 Hz: log10(0), weighted down to A_weighting's floor
        weight = 10.0 ** (librosa.A_weighting(freqs) / 10.0)  # power gain per bin
    window = librosa.filters.get_window("hann", frame_length, fftbins=True)
    # Parseval: the one-sided sum (DC and Nyquist once, the rest twice) over frame_length * sum(w^2)
    # is the frame's windowed mean square; weighting it per bin gives the A-weighted mean square.
    scale = np.full(freqs.shape, 2.0)
    scale[0] = 1.0
    if frame_length % 2 == 0:
        scale[-1] = 1.0
    scale /= frame_length * np.sum(window**2)
    power = np.einsum("k,kt->t", weight * scale, np.abs(spec) ** 2)
    loudness = 10.0 * np.log10(np.maximum(power, 10.0 ** (LOUDNESS_FLOOR_DB / 10.0)))

    return FrameFeatures(
        f0_hz=f0.astype(np.float32),
        voiced=voiced,
        voiced_prob=np.asarray(prob, dtype=np.float32),
        loudness_db=loudness.astype(np.float32),
        unvoiced_share=float(1.0 - voiced.mean()),
        sample_rate=sample_rate,
        hop=hop,
    )


__all__ = ["FrameFeatures", "frame_features", "LOUDNESS_FLOOR_DB", "SILENCE_PEAK", "UNVOICED_F0_HZ"]
