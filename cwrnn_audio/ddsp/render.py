"""Notes to audio through a harmonic model: pitch and loudness curves, one voice per sounding note.

Each note becomes a voice's f0 (its pitch, held through the release) and loudness curve: from the
floor up to the velocity's level over ``attack`` seconds, held, and back to the floor over
``release`` seconds after note-off. A note that starts after the previous one ended takes over its
voice (mono legato: the pitch jumps, the loudness dips and swells), so a melody is one voice; only
notes held together take separate voices. All voices run through the CW-RNN in one streaming
kernel call, are synthesized in one Numba call and mixed. The synthesizer is gated by the loudness
curves (:func:`cwrnn_audio.adapters.harmonic.control_gain`): rests and the tail are silent.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
from numba import njit

from .. import kernels  # noqa: F401  (installs the per-user kernel cache before the njit below)
from ..errors import ParameterError, ParameterTypeError
from ..midi.read import MAX_SECONDS  # the longest score a MIDI file may hold
from .envelope import Envelope
from .features import LOUDNESS_FLOOR_DB as FLOOR_DB  # the loudness of silence the model learnt


@njit(cache=True, nogil=True)
def note_db(t, start, end, level, attack, release):
    """A note's loudness (dB) at time ``t`` (s): from the floor up to ``level`` over ``attack``,
    held until ``end``, back to the floor over ``release``; the floor outside. The one envelope of
    :func:`note_controls` and the generator plugin."""
    if level <= FLOOR_DB or t < start or t >= end + release:
        return FLOOR_DB
    shape = min(max((t - start) / max(attack, 1e-9), 0.0), 1.0)
    if t >= end:
        shape = min(shape, min(max(1.0 - (t - end) / max(release, 1e-9), 0.0), 1.0))
    # dB interpolation from the floor, so the attack is an exponential swell like a real onset
    return FLOOR_DB + (level - FLOOR_DB) * shape


@njit(cache=True, nogil=True)
def _note_curve(t, start, end, level, attack, release, out):
    """``out[i] = max(out[i], note_db(t[i], ...))``: one note added to a voice's loudness."""
    for i in range(t.shape[0]):
        out[i] = max(out[i], note_db(t[i], start, end, level, attack, release))


def assign_voices(notes) -> list[int]:
    """A voice index per note, as a mono-legato synth assigns them: a note takes the voice whose
    note ended last (its pitch jumps; its loudness takes the louder of the old release and the new
    attack), so a melody stays one voice; a new voice only for a note that starts while every
    voice's note is still held (a chord)."""
    ended: list[float] = []  # per voice, when its last note ended
    voices = []
    for n in notes:
        free = [i for i, end in enumerate(ended) if end <= n.start]
        v = max(free, key=lambda i: ended[i]) if free else len(ended)
        if v == len(ended):
            ended.append(0.0)
        ended[v] = n.end
        voices.append(v)
    return voices


def _check_times(notes) -> None:
    """Each note's start and end: real numbers with ``0 <= start <= end <= MAX_SECONDS``, the note
    named (by its index and value) when not; a NaN or a huge time would else size the render."""
    for i, n in enumerate(notes):
        for key in ("start", "end"):
            v = getattr(n, key, None)
            if isinstance(v, bool) or not isinstance(v, (int, float, np.integer, np.floating)):
                raise ParameterTypeError(f"notes[{i}] {n!r}: {key} must be a number of seconds; got {v!r}")
        if not (0.0 <= n.start <= n.end <= MAX_SECONDS):  # False for NaN too
            raise ParameterError(
                f"notes[{i}] {n!r}: start and end must satisfy 0 <= start <= end <= {MAX_SECONDS:.0f} s; "
                f"got start={n.start!r}, end={n.end!r}"
            )


def note_controls(
    notes, *, frame_rate: int, envelope: Envelope | None = None, transpose: int = 0, tail: float = 0.5
):
    """``(f0_hz (V, T), loudness_db (V, T))`` at ``frame_rate`` for notes ``[Note]`` (pitch, velocity,
    start, end in seconds), one row per voice; ``tail`` seconds of silence after the last release."""
    env = envelope or Envelope()
    if not notes:
        raise ParameterError("the score has no notes to render")
    _check_times(notes)
    voices = assign_voices(notes)
    V = max(voices) + 1
    T = int(math.ceil((max(n.end for n in notes) + env.release + tail) * frame_rate))
    t = (np.arange(T) + 1) / frame_rate  # a frame's parameters hold at its last sample
    f0 = np.full((V, T), np.nan)
    db = np.full((V, T), FLOOR_DB)
    for n, v in zip(notes, voices):
        _note_curve(t, n.start, n.end, env.level_db(n.velocity), env.attack, env.release, db[v])
        f0[v, (t >= n.start) & (t < n.end + env.release)] = 440.0 * 2.0 ** ((n.pitch + transpose - 69) / 12)
    for row in f0:  # a voice's silent frames hold its last pitch (before its first note: that note's)
        known = np.nonzero(~np.isnan(row))[0]
        if not known.size:
            row[:] = 440.0
            continue
        last = np.maximum.accumulate(np.where(np.isnan(row), -1, np.arange(T)))
        row[:] = row[np.where(last < 0, known[0], last)]
    return f0, db


def render_notes(
    model,
    codec,
    notes,
    *,
    envelope: Envelope | None = None,
    transpose: int = 0,
    seed: int = 0,
    pitch_range: tuple | None = None,
    perform=None,
):
    """Mono audio ``(1, T * hop)`` float32 at ``codec.sample_rate``: ``notes`` played by a harmonic
    model (``model``: a CW-RNN whose codec is ``codec``, a :class:`HarmonicAdapter`).

    ``perform``: ``perform(notes, frames) -> (loudness_db, cents)``, each ``(frames,)`` at the codec's
    frame rate, for one voice's line (e.g. an expression model's,
    :func:`cwrnn_audio.expression.fit.performer`): while a note sounds, its loudness and pitch
    deviation come from it instead of the envelope; elsewhere the envelope's release and floor stay
    (a rest is silent whatever it says there).

    ``pitch_range``: (lowest, highest) f0 in Hz seen in training (a model folder's
    ``playback["pitch_range"]``; ``[0, 0]`` or None: unknown); notes outside it still render (the
    synthesizer extrapolates) after a warning naming the range.
    """
    from ..kernels.harmonic import HarmonicSynth

    if getattr(codec, "name", "") != "harmonic":
        raise ParameterError(f"rendering notes needs a model of the harmonic encoding; got {codec!r}")
    f0, db = note_controls(notes, frame_rate=codec.frame_rate, envelope=envelope, transpose=transpose)
    if perform is not None:
        f0, db = _performed(perform, notes, f0, db, codec.frame_rate)
    if pitch_range is not None and any(pitch_range):
        lo, hi = pitch_range
        played = [440.0 * 2.0 ** ((n.pitch + transpose - 69) / 12) for n in notes]
        outside = [p for p in played if p < lo * 0.97 or p > hi * 1.03]
        if outside:
            warnings.warn(
                f"{len(outside)} notes lie outside the pitches seen in training ({lo:.0f}-{hi:.0f} Hz): "
                "the synthesizer extrapolates",
                stacklevel=2,
            )
    V, T = f0.shape
    x = codec.controls(f0, db)  # (V, T, 2)
    out = model.stream(voices=V).process(np.ascontiguousarray(x))
    amplitude, harmonics, noise = codec.synth_params(out.astype(np.float64), db)
    synth = HarmonicSynth(codec.sample_rate, codec.hop, codec.n_harmonics, codec.n_noise, voices=V)
    # one generator per voice: a voice's noise does not depend on how many voices play
    u = np.stack([np.random.default_rng([seed, v]).standard_normal(T * codec.hop) for v in range(V)])
    u = u.astype(np.float32)
    audio = synth.process(
        f0.astype(np.float32),
        amplitude.astype(np.float32),
        harmonics.astype(np.float32),
        noise.astype(np.float32),
        u,
    )
    return audio.sum(0, keepdims=True).astype(np.float32)


def _performed(perform, notes, f0, db, frame_rate: int):
    """``f0``, ``db`` ``(V, T)`` with each voice's sounding frames as ``perform`` plays them."""
    f0, db = f0.copy(), db.copy()
    T = f0.shape[1]
    for v, line in enumerate(_lines(notes)):
        loud, cents = perform(line, T)
        sounding = sounding_frames(line, frames=T, frame_rate=frame_rate)
        f0[v], db[v] = performed_controls(f0[v], db[v], sounding, loud, cents)
    return f0, db


def performed_controls(f0, db, sounding, loud, cents):
    """``f0`` (Hz) and ``db`` with the ``sounding`` frames as an expression model performs them: its
    loudness (dB, clipped to the instrument's range: the floor to 0) and its pitch deviation (cents)
    from the note; releases and rests keep the envelope's. Arrays of one shape; returns new ones."""
    return (
        np.where(sounding, f0 * 2.0 ** (np.asarray(cents) / 1200.0), f0),
        np.where(sounding, np.clip(loud, FLOOR_DB, 0.0), db),
    )


def sounding_frames(notes, *, frames: int, frame_rate: int) -> np.ndarray:
    """``(frames,)`` bool: the frames in which one of ``notes`` sounds: those that start inside a
    note (frame ``i`` starts at ``i / frame_rate``). How a live player plays the notes (the
    generator plugin's events act at the first frame boundary at or after them), and so how an
    expression model reads a score (:func:`cwrnn_audio.expression.score.score_frames`)."""
    t0 = np.arange(frames) / frame_rate
    out = np.zeros(frames, bool)
    for n in notes:
        out |= (t0 >= n.start) & (t0 < n.end)
    return out


def _lines(notes) -> list:
    """The notes of each voice, as :func:`assign_voices` deals them."""
    voices = assign_voices(notes)
    lines = [[] for _ in range(max(voices) + 1)]
    for n, v in zip(notes, voices):
        lines[v].append(n)
    return lines


__all__ = [
    "Envelope",
    "assign_voices",
    "note_controls",
    "performed_controls",
    "render_notes",
    "sounding_frames",
]
