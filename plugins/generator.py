"""Generator: a polyphonic synth whose voices are a trained model: mu-law sampling, or a harmonic
(DDSP) model playing the notes' pitches (see ``plugins/harmonic_voices.py``)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from cwrnn_audio.ddsp.render import Envelope
from cwrnn_audio.errors import ParameterError, ParameterTypeError
from cwrnn_audio.plugin import MidiEvent, Parameter, Plugin
from cwrnn_audio.plugin.base import load_plugin_model

__all__ = ["Generator", "MidiEvent"]  # MidiEvent: where it was defined first

#: a mu-law model folder's priming recording, looked for under these names
PRIME_FILES = ("prime.flac", "prime.wav")
#: bundled models' priming: the recording each was trained on (samples/train_sample_models.py)
BUNDLED_PRIMES = {"bach_mulaw": "bach_prelude_fluidr3.flac"}
PRIME_SECONDS = 0.25


class Generator(Plugin):
    """A note-on starts a voice (from a primed state, or silence), a note-off fades it.

    ``model``: a mu-law or harmonic model folder, or a bundled model's name (default: the
    bundled ``bach_mulaw``, 16 kHz); the voices run at the model's rate and their mix is resampled to the host's (any rate
    ``prepare`` takes). ``polyphony`` voices are sampled together in one kernel call; the quietest
    is stolen when all are busy.

    With a mu-law model a voice starts from a primed state (``primed=True``): the state after the
    model has read the first 0.25 s of ``prime``, an audio file; by default (``prime=None``) the
    model folder's own ``prime.flac`` or ``prime.wav``, for a bundled model the recording it was
    trained on, and for a folder with neither the model's own free run (0.25 s sampled from
    silence with ``seed``). ``primed=False``: voices start from silence. ``prime_source`` says
    which was used.

    A mu-law model is not pitch-conditioned: notes trigger and shape voices, they do not set a
    pitch (parameters ``temperature``, ``release_ms``, ``gain_db``). A harmonic model plays the
    notes: a voice gets the note's pitch and a loudness from its velocity that rises over
    ``attack_ms`` and falls over ``release_ms`` after note-off (parameters ``attack_ms``,
    ``release_ms``, ``gain_db``; ``primed`` does not apply); events act at the first model frame
    boundary at or after their host frame. Where the harmonic model's folder holds an expression
    model (trained with ``train audio ... --score``), the notes are performed by it: their loudness
    and pitch deviation come from the model as it plays live (``expression=False``: the envelopes
    only; ``expression_model`` is the model in use, or None). See :mod:`plugins.harmonic_voices`.
    """

    name = "generator"
    kind = "instrument"
    parameters = (
        Parameter("temperature", 0.1, 2.0, 1.0),
        Parameter("release_ms", 1.0, 2000.0, 200.0, " ms"),
        Parameter("gain_db", -24.0, 24.0, 0.0, " dB"),
    )

    #: the parameters with a harmonic model (an instance's ``parameters`` then)
    harmonic_parameters = (
        Parameter("attack_ms", 0.0, 2000.0, round(Envelope.attack * 1000.0, 9), " ms"),
        Parameter("release_ms", 0.0, 2000.0, round(Envelope.release * 1000.0, 9), " ms"),
        Parameter("gain_db", -24.0, 24.0, 0.0, " dB"),
    )

    def __init__(
        self,
        model=None,
        *,
        polyphony: int = 8,
        primed: bool = True,
        prime=None,
        seed: int = 0,
        expression: bool = True,
        **values,
    ):
        from cwrnn_audio.adapters.harmonic import HarmonicAdapter
        from cwrnn_audio.adapters.mulaw import MuLawAdapter

        folder, (self.model, self.adapter, _), self.model_fingerprint = load_plugin_model(
            model, "bach_mulaw", name=self.name, domain="audio"
        )
        harmonic = isinstance(self.adapter, HarmonicAdapter)
        if not (harmonic or isinstance(self.adapter, MuLawAdapter)):  # its voices sample mu-law classes
            raise ParameterError(
                f"{folder}: the generator needs a mu-law or harmonic model; got {self.adapter.name!r}"
            )
        if not (isinstance(polyphony, int) and 1 <= polyphony <= 64):
            raise ParameterError(f"polyphony must be an integer in 1..64; got {polyphony!r}")
        if not isinstance(expression, bool):
            raise ParameterTypeError(f"{self.name}: expression must be True or False; got {expression!r}")
        self.polyphony, self.primed, self.seed = polyphony, primed, seed
        self._harmonic, self.expression_model = None, None
        if prime is not None and (harmonic or not primed):
            why = "a harmonic model plays notes from silence" if harmonic else "primed=False"
            raise ParameterError(f"{self.name}: prime={prime!r} does not apply: {why}")
        if harmonic:
            from cwrnn_audio.expression.play import load_expression

            from .harmonic_voices import HarmonicVoices

            if expression:
                self.expression_model = load_expression(folder, frame_rate=self.adapter.frame_rate, live=True)
            self.parameters = self.harmonic_parameters
            self._harmonic = HarmonicVoices(
                self, self.model, self.adapter, polyphony, seed, self.expression_model
            )
            super().__init__(**values)
            return
        self.weights = self.model.kernel_weights()
        self.prime_source = self._prime_source(folder, prime) if primed else None
        self._prime_state = self._primed_state() if primed else None
        super().__init__(**values)

    def _prime_source(self, folder: Path, prime):
        """The priming audio file, or ``"free run"``; see the class docstring."""
        import cwrnn_audio_samples

        if prime is not None:
            if not isinstance(prime, (str, os.PathLike)):
                raise ParameterTypeError(f"{self.name}: prime must be an audio file path; got {prime!r}")
            if not Path(os.fspath(prime)).is_file():
                raise ParameterError(f"{self.name}: prime {os.fspath(prime)!r}: no such audio file")
            return Path(os.fspath(prime))
        found = [folder / f for f in PRIME_FILES if (folder / f).is_file()]
        if found:
            return found[0]
        bundled = Path(str(cwrnn_audio_samples.path("models")))
        if folder.resolve().parent == bundled.resolve() and folder.name in BUNDLED_PRIMES:
            return Path(str(cwrnn_audio_samples.path(BUNDLED_PRIMES[folder.name])))
        return "free run"

    def _primed_state(self):
        """The state after reading :attr:`prime_source`'s first 0.25 s: voices start mid-phrase."""
        from cwrnn_audio.audio.dataset import load_clip
        from cwrnn_audio.audio.generate import generate

        sr = self.adapter.sample_rate
        if self.prime_source == "free run":  # the model's own material, as it sounds from silence
            clip = generate(self.model, self.adapter, PRIME_SECONDS, seed=self.seed)
        else:
            clip = load_clip(self.prime_source, sr)
        x, y = self.adapter.encode(clip[:1, : int(sr * PRIME_SECONDS)])
        s = self.model.stream()
        s.process(x[0])
        last = self.adapter.class_value(y[0, ::-1][: self.model.config.input_size])
        return s.state.h[0].copy(), int(s.state.t[0]), last

    def _prepare(self, sample_rate, max_block_size, num_channels):
        if self._harmonic is not None:
            self._out = np.zeros((num_channels, max_block_size), np.float32)
            self.latency_samples = self._harmonic.prepare(sample_rate, max_block_size)
            return
        from cwrnn_audio.kernels.sample import mix_voices_kernel
        from cwrnn_audio.kernels.state import KernelState
        from cwrnn_audio.runtime.resample import model_to_host

        c, V, sr = self.model.config, self.polyphony, self.adapter.sample_rate
        # voices run at the model's rate; the mix is resampled to the host's, band-limited
        K = -(-max_block_size * sr // sample_rate) + 2  # model samples one block can need
        self._back, self.latency_samples = model_to_host(sr, sample_rate, 1, K)
        f32 = lambda *s: np.zeros(s, np.float32)  # noqa: E731
        self._voices, self._x = KernelState(self.weights, V), f32(V, c.input_size)
        self._active, self._note = np.zeros(V, np.uint8), np.full(V, -1, np.int64)
        self._env, self._step, self._gain = f32(V), f32(V), f32(V)
        self._gen, self._u = f32(V, K), np.zeros((V, K), np.float64)
        self._mono, self._out = f32(1, K), f32(num_channels, max_block_size)
        self._class_values = self.adapter.class_value(np.arange(c.output_size))
        self._audio = self.adapter.decode(np.arange(c.output_size)[None])[0]
        self._mix = mix_voices_kernel
        self._reset()
        self._active[0] = 1
        self._render_to(1)  # compile (or load the cache) now, never inside process
        self._back.process(self._mono, 1, self._out[:1], 0)
        self._reset()

    def _reset(self):
        if self._harmonic is not None:
            self._harmonic.reset()
            return
        self._active[:] = 0
        self._note[:] = -1
        self._env[:] = 0
        self._frames = 0  # host frames rendered
        self._steps = 0  # model samples rendered
        self._filled = 0  # of them, in self._mono for the current block
        self._back.reset()
        # one stream per voice, drawn once per model step: any split into blocks draws the same
        self._rngs = [np.random.Generator(np.random.PCG64([self.seed, v])) for v in range(self.polyphony)]

    def _render_to(self, stop):
        """Render model samples up to ``stop`` (exclusive), mixed into ``self._mono``."""
        k = stop - self._steps
        if k <= 0:
            return
        for v, rng in enumerate(self._rngs):
            rng.random(out=self._u[v, :k])
        inv_temp = 1.0 / self["temperature"]
        self._voices.sample_voices(
            self._x, self._active, self._class_values, self._audio, self._u, inv_temp, k, self._gen
        )
        mono = self._mono[0, self._filled : self._filled + k]
        mono[:] = 0.0
        self._mix(self._gen, self._active, self._env, self._step, self._gain, k, mono)
        self._filled += k
        self._steps = stop

    def _note_on(self, note, velocity):
        free = np.flatnonzero(self._active == 0)
        v = int(free[0]) if free.size else int(np.argmin(self._env))  # steal the quietest
        if self._prime_state is not None:
            h, t, last = self._prime_state
            self._voices.set(h, t, v)
            self._x[v] = 0.0
            self._x[v, : last.size] = last
        else:
            self._voices.set(0.0, 0, v)
            self._x[v] = 0.0
        self._active[v], self._note[v] = 1, note
        self._env[v], self._step[v] = 1.0, 0.0
        self._gain[v] = velocity / 127.0

    def _note_off(self, note):
        frames = max(1.0, self["release_ms"] * 1e-3 * self.adapter.sample_rate)
        for v in np.flatnonzero((self._note == note) & (self._active == 1) & (self._step == 0.0)):
            self._step[v] = -1.0 / frames
            self._note[v] = -1

    def _process_midi(self, events, num_frames: int) -> np.ndarray:
        """Render ``num_frames`` with note events at their frame offsets; returns (channels, frames).

        An event at host frame ``J`` acts before the first model sample at or after it (with a
        harmonic model: at the first model frame boundary at or after it); the block ends with
        every model sample its frames need (see ``runtime/resample.py``).
        """
        if self._harmonic is not None:
            return self._harmonic_block(events, num_frames)
        host, model = self.prepared[0], self.adapter.sample_rate
        self._filled = 0
        for ev in events:
            self._render_to(-(-(self._frames + ev.offset) * model // host))
            if ev.type == "note_on" and ev.velocity > 0:
                self._note_on(ev.note, ev.velocity)
            else:
                self._note_off(ev.note)
        self._frames += num_frames
        self._render_to(self._back.needs(self._frames))  # every model sample this block's frames read
        out = self._out[:, :num_frames]
        self._back.process(self._mono, self._filled, self._out[:1], num_frames)
        np.multiply(out[:1], 10.0 ** (self["gain_db"] / 20.0), out=out[:1])
        out[1:] = out[:1]
        return out

    def _harmonic_block(self, events, num_frames):
        mono = self._harmonic.process_midi(events, num_frames)
        out = self._out[:, :num_frames]
        np.multiply(mono, 10.0 ** (self["gain_db"] / 20.0), out=out[:1])
        out[1:] = out[:1]
        return out

    def _process(self, audio):
        """An instrument ignores its audio input: the voices started by MIDI keep sounding."""
        return self._process_midi((), audio.shape[1])

    def _state_arrays(self):
        if self._harmonic is not None:
            return self._harmonic.state_arrays("")
        rng = np.zeros((self.polyphony, 4), np.uint64)
        for v, g in enumerate(self._rngs):
            b = g.bit_generator.state["state"]
            rng[v] = [b["state"] >> 64, b["state"] & (2**64 - 1), b["inc"] >> 64, b["inc"] & (2**64 - 1)]
        return {
            "h": self._voices.h,
            "t": self._voices.t,
            "x": self._x,
            "active": self._active,
            "note": self._note,
            "env": self._env,
            "step": self._step,
            "gain": self._gain,
            "clock": np.array([self._frames, self._steps]),
            "rng": rng,
            **self._back.state_arrays("back."),
        }

    def _check_state_arrays(self, a):
        if self._harmonic is not None:
            return
        bad = next(
            (
                k
                for k, ok in (
                    ("t", (a["t"] >= 0).all()),
                    ("clock", (a["clock"] >= 0).all()),
                    ("back.count", (a["back.count"] >= 0).all() if "back.count" in a else True),
                    ("active", np.isin(a["active"], (0, 1)).all()),
                    ("note", ((a["note"] >= -1) & (a["note"] <= 127)).all()),
                    ("env", ((a["env"] >= 0) & (a["env"] <= 1)).all()),
                    ("gain", ((a["gain"] >= 0) & (a["gain"] <= 1)).all()),
                )
                if not ok
            ),
            None,
        )
        if bad:
            raise ParameterError(f"{self.name}: state array {bad!r} holds values out of range")

    def _load_state_arrays(self, a):
        if self._harmonic is not None:
            return self._harmonic.load_state_arrays(a, "")
        self._voices.set(a["h"], a["t"])
        for k in ("x", "active", "note", "env", "step", "gain"):
            getattr(self, "_" + k)[...] = a[k]
        self._frames, self._steps = (int(v) for v in a["clock"])
        self._back.load_state_arrays(a, "back.")
        for g, row in zip(self._rngs, a["rng"]):
            r = [int(v) for v in row]
            state = g.bit_generator.state
            state["state"] = {"state": (r[0] << 64) | r[1], "inc": (r[2] << 64) | r[3]}
            g.bit_generator.state = state
