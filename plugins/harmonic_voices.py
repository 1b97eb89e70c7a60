"""The generator's voices when its model is a harmonic (DDSP) model: notes set pitch and loudness.

Each voice is one line of the instrument, as in :func:`cwrnn_audio.ddsp.render.render_notes`: per
model frame (``codec.frame_rate`` a second, ``hop`` samples at the model's rate) the model reads
the voice's f0 and loudness, its outputs drive :class:`~cwrnn_audio.kernels.harmonic.HarmonicSynth`,
and the voices are mixed. A note-on gives a voice its pitch and a level from the velocity
(:meth:`Envelope.level_db`); the loudness rises from the floor (-100 dB) over ``attack_ms`` and is
held; after note-off it falls back to the floor over ``release_ms``. The synthesizer is gated by
that loudness (:func:`~cwrnn_audio.adapters.harmonic.control_gain`): a voice at the floor is
silent. The loudness curve of a note is exactly :func:`~cwrnn_audio.ddsp.render.note_controls`'s
(a frame's controls hold at its last sample), so a one-voice generator plays a note that starts
at time 0 as ``render_notes`` does (voice 0 draws its white noise from ``default_rng(seed)``, as
``render_notes`` does for one voice).

Timing: an event at host frame ``J`` acts at the first model frame boundary at or after it, frame
``ceil(J * model_rate / (host_rate * hop))``: every frame before that boundary is rendered first.
A note-on takes, as :func:`~cwrnn_audio.ddsp.render.assign_voices` does, the voice whose note
ended last (mono legato: a melody stays one voice), else a voice not used yet, else (every voice
holds a note) the quietest. A voice re-used while its note still releases (or stolen while held,
which ends that note) sounds
the louder of the old note's fading curve and the new note's rising one, as ``note_controls`` does
for a voice's consecutive notes. The model's state and the synthesizer's (phase, previous frame, noise tail) run on across notes; a
voice keeps its pitch while releasing and after, and a re-used voice jumps to the new pitch. All
voices advance together, one model step and one synthesizer frame each per frame (one kernel call
per chunk of frames); voices that have never played are not mixed in.

Rendering ahead: a block needs 2-3 frames (a 512-sample block at 48 kHz), and a call's fixed cost
(a dozen kernel and array calls) outweighed the frames' own: when a block needs more frames,
:data:`RENDER_AHEAD` are rendered at once (the bundled flute, one voice at 48 kHz, blocks of 512:
100-131x real time instead of 55x; with its expression model 98-115x instead of 46x). Frames past those the host has
been owed are a guess that no note event comes first; an event that does rewinds to the state
saved before the guess and renders again up to the event, keeping the audio before it, so the
output is the frame-by-frame one. Saving the plugin's state first forgets the guess the same way.

Expression: with the model folder's expression model (``expression=`` of the generator), each
voice's sounding frames take the loudness and pitch deviation it performs live instead of the
envelope's (:class:`~cwrnn_audio.expression.live.LivePerformer`); releases and rests keep the
envelope.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from cwrnn_audio.ddsp.render import FLOOR_DB, Envelope, note_db

_M64 = 2**64 - 1
#: frames rendered at once when a block needs more (64 ms at 250 frames a second); see the module
RENDER_AHEAD = 16
_SYNTH = ("phase", "prev_f0", "prev_amp", "prev_c", "prev_n", "started", "tail")


@njit(cache=True, nogil=True)
def voices_db(first, frame_rate, on, off, level, prev_on, prev_off, prev_level, attack, release, out):
    """Each voice's loudness over frames ``first ..``: its note's and its previous note's
    :func:`note_db`, the louder; ``off < 0``: still held. A frame's value holds at its last sample."""
    for v in range(out.shape[0]):
        end = np.inf if off[v] < 0 else off[v] / frame_rate
        prev_end = np.inf if prev_off[v] < 0 else prev_off[v] / frame_rate
        for i in range(out.shape[1]):
            t = (first + i + 1) / frame_rate
            now = note_db(t, on[v] / frame_rate, end, level[v], attack, release)
            out[v, i] = max(
                now, note_db(t, prev_on[v] / frame_rate, prev_end, prev_level[v], attack, release)
            )


class HarmonicVoices:
    """``polyphony`` voices of a harmonic ``model`` (codec ``codec``) for ``plugin`` (its parameters
    ``attack_ms``, ``release_ms`` are read as frames are rendered)."""

    _VOICE = ("f0", "level", "on", "off", "prev_level", "prev_on", "prev_off", "note", "used", "db", "mono",
              "pitch", "velocity")  # fmt: skip

    def __init__(self, plugin, model, codec, polyphony: int, seed: int, expression=None):
        from cwrnn_audio.expression.live import LivePerformer

        self.plugin, self.codec, self.V, self.seed = plugin, codec, polyphony, seed
        self.weights = model.kernel_weights()
        self.sr, self.fr, self.hop = codec.sample_rate, codec.frame_rate, codec.hop
        self.performer = None
        if expression is not None:
            self.performer = LivePerformer(expression, frame_rate=self.fr, voices=polyphony)

    # -- life cycle ------------------------------------------------------------------
    def prepare(self, host_rate: int, max_block: int):
        """Allocate, compile the kernels (model step, synthesizer, resampler); returns the latency."""
        from cwrnn_audio.kernels.harmonic import HarmonicSynth
        from cwrnn_audio.kernels.state import KernelState
        from cwrnn_audio.runtime.resample import model_to_host

        c, V, hop = self.codec, self.V, self.hop
        self.host = host_rate
        K = -(-max_block * self.sr // host_rate) + 2  # model samples one block can read
        self.back, latency = model_to_host(self.sr, host_rate, 1, K)
        # rendered but not yet read: whole frames overshoot by < hop, events by the latency too
        self.capacity = K + (3 + RENDER_AHEAD) * hop + -(-(latency + 2) * self.sr // host_rate)
        self.mono = np.zeros((1, self.capacity), np.float32)
        self.out = np.zeros((1, max_block), np.float32)
        self.kernel = KernelState(self.weights, V)
        self.synth = HarmonicSynth(self.sr, hop, c.n_harmonics, c.n_noise, voices=V)
        self.reset()
        self.used[:] = 1
        self._render_frames(1)  # compile (or load the caches) now, never inside process
        self.back.process(self.mono, 1, self.out, 0)
        self.reset()
        return latency

    def reset(self):
        V = self.V
        self.kernel.reset()
        self.synth.reset()
        self.back.reset()
        if self.performer is not None:
            self.performer.reset()
        self.f0 = np.full(V, 440.0)  # Hz: a voice's pitch, kept after its note ends
        self.level = np.full(V, FLOOR_DB)  # dB: its note's level (the floor: no note yet)
        self.on = np.zeros(V, np.int64)  # frame its note started at
        self.off = np.full(V, -1, np.int64)  # frame its note ended at, -1 while held
        # the note it played before, whose release may still sound (stolen: ended when stolen)
        self.prev_level = np.full(V, FLOOR_DB)
        self.prev_on = np.zeros(V, np.int64)
        self.prev_off = np.full(V, -1, np.int64)
        self.note = np.full(V, -1, np.int64)  # the note it holds, -1 when none
        self.pitch = np.full(V, 69.0)  # MIDI: its note's, kept after the note ends
        self.velocity = np.zeros(V)  # MIDI: its note's
        self.used = np.zeros(V, np.uint8)  # played a note yet (mixed in from then on)
        self.db = np.full(V, FLOOR_DB)  # its loudness at the last frame rendered
        self.frames = 0  # model frames rendered
        self.played = 0  # frames the host is owed; those past it are rendered ahead
        self._saved = None  # the state before the frames rendered ahead
        self.host_frames = 0  # host frames rendered
        self.pending = 0  # model samples in self.mono not yet given to the resampler
        # one stream per voice, drawn once per model sample: any split into blocks draws the same
        self.rngs = [np.random.default_rng(self.seed if v == 0 else [self.seed, v]) for v in range(self.V)]

    # -- the voices ------------------------------------------------------------------
    def loudness(self, first: int, n: int) -> np.ndarray:
        """dB ``(V, n)`` of frames ``first .. first + n - 1``: ``note_controls``'s curve (a voice's
        louder of its note's curve and its previous note's, still releasing)."""
        out = np.empty((self.V, n))
        attack, release = self.plugin["attack_ms"] / 1000.0, self.plugin["release_ms"] / 1000.0
        voices_db(first, self.fr, self.on, self.off, self.level, self.prev_on, self.prev_off, self.prev_level,
                  attack, release, out)  # fmt: skip
        return out

    def _render_frames(self, n: int, keep: bool = True):
        """Render ``n`` more frames of every voice and append their mix to ``self.mono`` (``keep``)."""
        if n <= 0:
            return
        V, hop, c = self.V, self.hop, self.codec
        db = self.loudness(self.frames, n)
        f0 = np.repeat(self.f0[:, None], n, 1)
        if self.performer is not None:
            f0, db = self.performer.perform(self.frames, f0, db, pitch=self.pitch, velocity=self.velocity,
                                            on=self.on, off=self.off, used=self.used)  # fmt: skip
        x = c.controls(f0, db)  # (V, n, 2)
        y = np.empty((V, n, c.output_size), np.float32)
        self.kernel.forward(x, y)  # one model step per frame, all voices in one call
        # float32 throughout; gated by the loudness as render_notes is: a voice at the floor is silent
        amplitude, harmonics, noise = c.synth_params(y, db)
        u = np.empty((V, n * hop))
        for v, rng in enumerate(self.rngs):
            rng.standard_normal(out=u[v])
        audio = self.synth.process(f0.astype(np.float32), amplitude, harmonics, noise, u.astype(np.float32))
        self.db[:] = db[:, -1]
        self.frames += n
        if not keep:
            return
        mix = audio[self.used == 1].sum(0)
        if self.pending + mix.size > self.capacity:  # cannot happen: see the capacity in prepare
            raise RuntimeError("generator: harmonic voices rendered further ahead than planned")
        self.mono[0, self.pending : self.pending + mix.size] = mix
        self.pending += mix.size

    def _reach(self, frame: int, ahead: int):
        """Frames up to ``frame`` are owed to the host; when that needs rendering, render ``ahead``."""
        if frame > self.frames:
            s = self.synth.state
            self._saved = (
                self.frames,
                self.kernel.h.copy(),
                self.kernel.t.copy(),
                {k: getattr(s, k).copy() for k in _SYNTH},
                [g.bit_generator.state for g in self.rngs],
                None
                if self.performer is None
                else (self.performer.kernel.h.copy(), self.performer.kernel.t.copy()),
            )
            self._render_frames(max(frame, self.frames + ahead) - self.frames)
        self.played = max(self.played, frame)

    def _rewind(self, frame: int):
        """Forget the frames rendered ahead from ``frame`` on (``played <= frame < frames``): back to
        the state saved before them, then render up to ``frame`` again for the state only."""
        frames, h, t, synth, rngs, performer = self._saved
        self.pending = frame * self.hop - self.back.n_in  # the audio before ``frame`` stays
        self.kernel.set(h, t)
        for k, v in synth.items():
            getattr(self.synth.state, k)[...] = v
        for g, state in zip(self.rngs, rngs):
            g.bit_generator.state = state
        if performer is not None:
            self.performer.kernel.set(*performer)
        self.frames = frames
        self._render_frames(frame - frames, keep=False)

    def note_on(self, note: int, velocity: int):
        released = np.flatnonzero((self.note < 0) & (self.used == 1))
        fresh = np.flatnonzero(self.used == 0)
        if released.size:  # mono legato, as render's assign_voices: the voice whose note ended last
            v = int(released[np.argmax(self.off[released])])
        elif fresh.size:
            v = int(fresh[0])
        else:  # every voice holds a note: steal the quietest
            v = int(np.argmin(self.db))
        if self.used[v]:  # its note's release goes on under the new note (a held note ends now)
            self.prev_level[v], self.prev_on[v] = self.level[v], self.on[v]
            self.prev_off[v] = self.frames if self.off[v] < 0 else self.off[v]
        self.f0[v] = 440.0 * 2.0 ** ((note - 69) / 12)
        self.pitch[v], self.velocity[v] = note, velocity
        self.level[v] = Envelope().level_db(velocity)
        self.on[v], self.off[v], self.note[v], self.used[v] = self.frames, -1, note, 1
        self.db[v] = FLOOR_DB + 1e-6  # sounding from now: not free before its first frame

    def note_off(self, note: int):
        for v in np.flatnonzero((self.note == note) & (self.off < 0)):
            self.off[v], self.note[v] = self.frames, -1

    def process_midi(self, events, num_frames: int) -> np.ndarray:
        """Validated, sorted events ``[(offset, type, note, velocity)]`` -> the mono mix ``(1, num_frames)``."""
        den = self.host * self.hop
        for offset, kind, note, velocity in events:
            at = max(-(-(self.host_frames + offset) * self.sr // den), self.played)
            if at < self.frames:
                self._rewind(at)
            self._reach(at, 0)
            if kind == "note_on" and velocity > 0:
                self.note_on(note, velocity)
            else:
                self.note_off(note)
        self.host_frames += num_frames
        need = self.back.needs(self.host_frames) - self.back.n_in  # model samples this block reads
        owed = self.played * self.hop - self.back.n_in
        if need > owed:
            self._reach(self.played + -(-(need - owed) // self.hop), RENDER_AHEAD)
        need = max(need, 0)
        self.back.process(self.mono, need, self.out, num_frames)
        rest = self.pending - need
        self.mono[0, :rest] = self.mono[0, need : self.pending]
        self.pending = rest
        return self.out[:, :num_frames]

    # -- state -----------------------------------------------------------------------
    def state_arrays(self, prefix: str) -> dict:
        if self.frames > self.played:  # the state saved holds no guess: forget the frames rendered ahead
            self._rewind(self.played)
        rng = np.zeros((self.V, 6), np.uint64)
        for v, g in enumerate(self.rngs):
            s = g.bit_generator.state
            a, b = s["state"]["state"], s["state"]["inc"]
            rng[v] = [a >> 64, a & _M64, b >> 64, b & _M64, s["has_uint32"], s["uinteger"]]
        s = self.synth.state
        arrays = {
            "h": self.kernel.h,
            "t": self.kernel.t,
            "phase": s.phase,
            "prev_f0": s.prev_f0,
            "prev_amp": s.prev_amp,
            "prev_c": s.prev_c,
            "prev_n": s.prev_n,
            "started": s.started,
            "tail": s.tail,
            "rng": rng,
            **{k: getattr(self, k) for k in self._VOICE},
            "clock": np.array([self.frames, self.host_frames, self.pending]),
        }
        if self.performer is not None:
            arrays.update(expression_h=self.performer.kernel.h, expression_t=self.performer.kernel.t)
        out = {prefix + k: v for k, v in arrays.items()}
        out.update(self.back.state_arrays(prefix + "back."))
        return out

    def load_state_arrays(self, a: dict, prefix: str):
        self.kernel.set(a[prefix + "h"], a[prefix + "t"])
        if self.performer is not None:
            self.performer.kernel.set(a[prefix + "expression_h"], a[prefix + "expression_t"])
        s = self.synth.state
        for k in _SYNTH:
            getattr(s, k)[...] = a[prefix + k]
        for k in self._VOICE:
            getattr(self, k)[...] = a[prefix + k]
        self.frames, self.host_frames, self.pending = (int(v) for v in a[prefix + "clock"])
        self.played, self._saved = self.frames, None
        self.back.load_state_arrays(a, prefix + "back.")
        for g, row in zip(self.rngs, a[prefix + "rng"]):
            r = [int(v) for v in row]
            state = g.bit_generator.state
            state["state"] = {"state": (r[0] << 64) | r[1], "inc": (r[2] << 64) | r[3]}
            state["has_uint32"], state["uinteger"] = r[4], r[5]
            g.bit_generator.state = state
