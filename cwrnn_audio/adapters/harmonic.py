"""Harmonic-plus-noise frames: the network drives a synthesizer (DDSP) instead of emitting samples.

Per frame (``frame_rate`` a second), the model reads pitch and loudness and outputs the parameters
of :mod:`cwrnn_audio.ddsp.synth`: one overall amplitude, ``n_harmonics`` harmonic weights and
``n_noise`` noise-band magnitudes. Training compares the synthesized audio with the recording by
the multi-scale spectral loss (:meth:`HarmonicAdapter.loss_function`); the targets of a frame are
the recording's ``hop`` samples of that frame. Inputs are fixed-scale: ``log2(f0 / 440) / 4`` and
``loudness_db / 80 + 1``, so a model folder needs no dataset statistics.

Playing (not training), the synthesizer's amplitude and noise are gated by the loudness control
(:func:`control_gain`): silence in the controls is silence in the audio, whatever a model learnt
(or never saw) for the floor's loudness.
"""

from __future__ import annotations

import math
import warnings

import numpy as np

from ..ddsp.features import FMAX_HZ
from ..ddsp.features import LOUDNESS_FLOOR_DB as FLOOR_DB
from ..errors import ParameterError, ParameterTypeError
from ..models.codec import FrameCodec
from .base import Adapter

NOISE_OFFSET = -5.0  # noise logits start low: a new model begins nearly noise-free, as in DDSP
UNVOICED_WARNING = 0.5  # share of frames without a pitch above which training warns
GATE_OPEN_DB = -70.0  # loudness from which the gate is fully open (quietest default note: -48 dB)
QUIET_DB = -60.0  # a frame below this loudness is quiet, one above it sounding
QUIET_WARNING = 0.01  # share of quiet training frames below which training warns


def scale(x):
    """DDSP's ``exp_sigmoid``: logits -> positive magnitudes in (1e-7, 2], smooth in log scale.

    Works on NumPy arrays and torch tensors alike.
    """
    if isinstance(x, np.ndarray):
        s = 1.0 / (1.0 + np.exp(-x))
    else:
        s = x.sigmoid()
    return 2.0 * s ** math.log(10.0) + 1e-7


def f0_input(f0_hz):
    return np.log2(np.maximum(f0_hz, 1.0) / 440.0) / 4.0


def f0_from_input(x):
    return 440.0 * 2.0 ** (4.0 * x)


def loudness_input(db):
    return db / 80.0 + 1.0


def control_gain(loudness_db) -> np.ndarray:
    """The gate on the synthesizer: 0 at the floor, 1 from :data:`GATE_OPEN_DB` up, a smoothstep
    in dB between (a note's attack opens it in a few frames, its release closes it gently).

    A rest's controls sit at the floor, where the model's own output is whatever it extrapolates
    (a recording without quiet frames never taught it silence); the gate makes that silent.
    """
    x = np.clip((np.asarray(loudness_db, np.float64) - FLOOR_DB) / (GATE_OPEN_DB - FLOOR_DB), 0.0, 1.0)
    return x * x * (3.0 - 2.0 * x)


class HarmonicAdapter(FrameCodec, Adapter):
    name = "harmonic"
    # pYIN's top pitch (C7) must lie below Nyquist, else encoding fails on fmin/fmax
    sample_rates = (math.ceil(2 * FMAX_HZ), Adapter.sample_rates[1])
    options = ("sample_rate", "frame_rate", "n_harmonics", "n_noise")
    playback = {"pitch_range": [0.0, 0.0]}  # Hz, the f0 range of the training audio's sounding frames
    input_size = 2

    def __init__(
        self, *, sample_rate: int = 16000, frame_rate: int = 250, n_harmonics: int = 60, n_noise: int = 65
    ):
        super().__init__(sample_rate=sample_rate)
        for key, v, low in (
            ("frame_rate", frame_rate, 1),
            ("n_harmonics", n_harmonics, 1),
            ("n_noise", n_noise, 2),
        ):
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)):
                raise ParameterTypeError(f"{key} must be an integer >= {low}; got {v!r}")
            if v < low:
                raise ParameterError(f"{key} must be an integer >= {low}; got {v!r}")
        if self.sample_rate % frame_rate:
            raise ParameterError(
                f"frame_rate must divide sample_rate ({self.sample_rate} Hz) into whole frames; got {frame_rate!r}"
            )
        self.frame_rate, self.n_harmonics, self.n_noise = int(frame_rate), int(n_harmonics), int(n_noise)
        self.hop = self.sample_rate // self.frame_rate
        self.unvoiced = []  # (frames, share without a pitch) of each channel encoded: the trainer reports it

    @property
    def step_rate(self) -> float:
        return float(self.frame_rate)

    @property
    def output_size(self) -> int:
        return 1 + self.n_harmonics + self.n_noise

    def settings(self) -> dict:
        return {
            "sample_rate": self.sample_rate,
            "frame_rate": self.frame_rate,
            "n_harmonics": self.n_harmonics,
            "n_noise": self.n_noise,
        }

    def features(self, audio):
        """Per channel :func:`~cwrnn_audio.ddsp.features.frame_features`, cut to whole frames."""
        from ..ddsp.features import frame_features

        audio = np.asarray(audio, np.float32)
        T = audio.shape[-1] // self.hop
        out = []
        for channel in audio:
            f = frame_features(channel, sample_rate=self.sample_rate, frame_rate=self.frame_rate)
            if f.unvoiced_share > UNVOICED_WARNING:
                warnings.warn(
                    f"{f.unvoiced_share:.0%} of the frames have no pitch (polyphonic, unpitched or "
                    "mostly silent audio?): the harmonic encoding expects monophonic, pitched recordings",
                    stacklevel=3,
                )
            self.unvoiced.append((f.frames, f.unvoiced_share))
            out.append((f.f0_hz[:T], f.loudness_db[:T], f.unvoiced_share))
        return out

    def controls(self, f0_hz, loudness_db) -> np.ndarray:
        """Model inputs ``(..., T, 2)`` from f0 in Hz and loudness in dB ``(..., T)``."""
        return np.stack([f0_input(np.asarray(f0_hz)), loudness_input(np.asarray(loudness_db))], -1).astype(
            np.float32
        )

    def encode(self, audio):
        """audio ``(C, F)`` -> inputs ``(C, T, 2)`` (f0, loudness), targets ``(C, T, hop)`` (the samples)."""
        audio = np.asarray(audio, np.float32)
        T = audio.shape[-1] // self.hop
        if T < 1:
            raise ParameterError(f"audio of {audio.shape[-1]} frames is shorter than one hop ({self.hop})")
        feats = self.features(audio)
        x = np.stack([self.controls(f0, db) for f0, db, _ in feats])
        y = audio[:, : T * self.hop].reshape(audio.shape[0], T, self.hop)
        return x, np.ascontiguousarray(y)

    def report(self) -> str:
        """The share of the encoded frames without a pitch (measured by pYIN), for the training log."""
        frames = sum(n for n, _ in self.unvoiced)
        share = sum(n * u for n, u in self.unvoiced) / max(1, frames)
        return f"harmonic: {share:.1%} of {frames} frames without a pitch (kept; their f0 is filled)"

    def check_quiet(self, streams, val_fraction: float) -> float:
        """The share of quiet frames (loudness below :data:`QUIET_DB`) in the part of ``streams`` that
        trains (each stream's first ``1 - val_fraction``, as ``data.windows.split_stream`` cuts it);
        warns when it is below :data:`QUIET_WARNING`: such a model never heard silence, so its rests
        are silent only through the gate, and its releases and quiet notes are guesses."""
        quiet = frames = 0
        for inputs, _ in streams:
            x = np.asarray(inputs).reshape(-1, 2)
            x = x[: x.shape[0] - int(round(x.shape[0] * val_fraction))]
            quiet += int(np.count_nonzero(x[:, 1] < loudness_input(QUIET_DB)))
            frames += x.shape[0]
        share = quiet / max(1, frames)
        if frames and share < QUIET_WARNING:
            warnings.warn(
                f"only {share:.1%} of the {frames} training frames are quiet (loudness below {QUIET_DB:.0f} dB; "
                "the validation tail excluded): the instrument never learns how its rests and note "
                "endings sound; record some silence or pauses in the training part",
                stacklevel=2,
            )
        return share

    def playback_settings(self, streams) -> dict:
        """The f0 range (1st to 99th percentile, Hz) of frames louder than :data:`QUIET_DB` in ``streams``."""
        x = np.concatenate([np.asarray(inputs).reshape(-1, 2) for inputs, _ in streams])
        sounding = x[x[:, 1] > loudness_input(QUIET_DB), 0]
        if not sounding.size:
            return {}
        lo, hi = np.percentile(f0_from_input(sounding), [1, 99])
        return {"pitch_range": [round(float(lo), 2), round(float(hi), 2)]}

    def decode(self, targets):
        """Frames of samples ``(C, T, hop)`` -> audio ``(C, T * hop)``."""
        t = np.asarray(targets, np.float32)
        return t.reshape(*t.shape[:-2], -1)

    def synth_params(self, outputs, loudness_db=None):
        """Model outputs ``(..., 1 + N + K)`` -> amplitude ``(...)``, harmonics ``(..., N)``, noise ``(..., K)``
        (NumPy or torch). ``loudness_db`` ``(...)``, the controls the outputs were computed from
        (NumPy outputs only): amplitude and noise gated by :func:`control_gain`, as every player does."""
        N = self.n_harmonics
        amplitude, harmonics, noise = (
            scale(outputs[..., 0]),
            scale(outputs[..., 1 : 1 + N]),
            scale(outputs[..., 1 + N :] + NOISE_OFFSET),
        )
        if loudness_db is not None:
            gain = control_gain(loudness_db).astype(amplitude.dtype)
            amplitude, noise = amplitude * gain, noise * gain[..., None]
        return amplitude, harmonics, noise

    def synthesize(self, outputs, inputs, u):
        """Audio ``(B, T * hop)`` (torch, differentiable) from outputs ``(B, T, O)``, the inputs they
        were computed from ``(B, T, 2)`` and white noise ``u`` ``(B, T * hop)``."""
        from ..ddsp.synth import synthesize

        amplitude, harmonics, noise = self.synth_params(outputs)
        f0 = f0_from_input(inputs[..., 0])
        return synthesize(f0, amplitude, harmonics, noise, u, sample_rate=self.sample_rate, hop=self.hop)

    def loss_function(self):
        return _SpectralLoss(self)

    def run(self, stream, x, steps, rng, **options):
        raise ParameterError("the harmonic encoding plays notes: render them with cwrnn_audio.ddsp.render")


class _SpectralLoss:
    """The sequence trainer's loss for harmonic frames: synthesize, then the multi-scale spectral
    distance to the recording. The white noise is drawn from a generator seeded by the batch's
    targets, so a resumed run draws what an uninterrupted one drew."""

    def __init__(self, codec: HarmonicAdapter):
        self.codec = codec

    def __call__(self, out, target, inputs):
        import torch

        from ..ddsp.loss import multiscale_spectral_loss

        B = target.shape[0]
        audio = target.reshape(B, -1)
        seed = int(
            torch.frombuffer(
                bytearray(audio[:, :64].detach().cpu().numpy().tobytes()), dtype=torch.int32
            ).sum()
        )
        gen = torch.Generator().manual_seed(seed & 0x7FFFFFFF)
        u = torch.randn(audio.shape, generator=gen).to(audio.device)
        pred = self.codec.synthesize(out, inputs, u)
        sizes = tuple(s for s in (2048, 1024, 512, 256, 128, 64) if s <= audio.shape[1])
        return multiscale_spectral_loss(pred, audio, fft_sizes=sizes)
