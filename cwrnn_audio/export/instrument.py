"""The generator plugin playing a harmonic model (``plugins/harmonic_voices.py``) as TorchScript.

nn~ passes signals, not MIDI, so the notes come as two audio-rate inputs per batch entry: the pitch
(a MIDI note number, fractional for bends; in Hz with ``pitch_in_hz``) and the velocity (0: no
note; (0, 1] is MIDI velocity / 127). A rise of the velocity from 0, or a new pitch while it is
above 0, is a note-on at that frame; a fall to 0 a note-off. Each batch entry is one voice, played
as the plugin plays a voice: the note's loudness curve (attack, release, the previous note's release
under a new one), a model step and a synthesizer frame per model frame, events acting at the first
frame boundary at or after their host frame, the synthesizer gated by the loudness, and the mix
resampled to the host's rate by the plugins' resampler. The white noise is the plugin's stream (its
``seed``) for the first :data:`NOISE_SAMPLES` model samples, then that stretch again.
"""

import math
from typing import Dict, List

import torch

from .expression import ExportedPerformer
from .network import StreamedNetwork
from .protocol import NnTilde
from .resample import needs, push
from .synth import TorchSynth

NOISE_SAMPLES = 2**18  # 16.4 s at 16 kHz: 1 MB of the file


def render_ahead() -> int:
    """Frames rendered at once when a block needs more: a call's fixed cost (about 100 small ops
    in the network, the synthesizer and the note curves, 150 more with an expression model: 0.9 ms
    a 512-sample block at 48 kHz rendering its 2.7 frames) is paid once in 16 frames. In the C++
    host, blocks of 512 at 48 kHz, the bundled flute with its expression model: 16 frames 20x real
    time with the worst block 4.3 ms of its 10.7; 32 frames 16-25x, but a rewind then took up to
    10.9 ms, a whole block. Frames rendered past what is needed are a guess that no note event
    comes before them; an event that does rewinds to the guess's start and renders again, so the
    output is what rendering frame by frame gives. A function, as TorchScript reads no
    module-level ints."""
    return 16


def note_db(t: torch.Tensor, start: torch.Tensor, end: torch.Tensor, level: torch.Tensor, attack: float,
            release: float, floor: float) -> torch.Tensor:  # fmt: skip
    """``ddsp.render.note_db`` for each voice ``(B,)`` at times ``t`` ``(B, n)`` (s, float64)."""
    start, end, level = start.unsqueeze(1), end.unsqueeze(1), level.unsqueeze(1)
    shape = ((t - start) / max(attack, 1e-9)).clamp(0.0, 1.0)
    fading = (1.0 - (t - end) / max(release, 1e-9)).clamp(0.0, 1.0)
    shape = torch.where(t >= end, torch.minimum(shape, fading), shape)
    out = floor + (level - floor) * shape
    silent = (level <= floor) | (t < start) | (t >= end + release)
    return torch.where(silent, torch.full_like(out, floor), out)


class ExportedInstrument(NnTilde):
    rates: List[int]
    taps_back: Dict[int, torch.Tensor]
    grids: Dict[int, List[int]]
    latencies: Dict[int, int]
    attributes: List[str]
    ranges: Dict[str, List[float]]
    snap_synth: List[torch.Tensor]

    def __init__(self, model, codec, parameters, envelope, floor_db: float, gate_open_db: float, noise_offset: float,
                 seed: int, host_rates, expression=None, horizon_s: float = 4.0):  # fmt: skip
        super().__init__()
        import numpy as np

        from ..runtime.resample import model_to_host
        from .resample import tables

        self.net = StreamedNetwork(model)
        # the plugin's expression model, if it plays with one (a list of 0 or 1: scripts hold no None module)
        self.performers = torch.nn.ModuleList(
            [ExportedPerformer(expression, int(codec.frame_rate), float(floor_db), horizon_s)]
            if expression
            else []
        )
        self.expression_size = expression.config.hidden_size if expression else 0
        # nn~: (pitch, velocity) in, audio out, every ratio 1
        self.register_buffer("forward_params", torch.tensor([2, 1, 1, 1]))
        self.sr, self.fr, self.hop = int(codec.sample_rate), int(codec.frame_rate), int(codec.hop)
        self.n_harmonics = int(codec.n_harmonics)
        self.synth = TorchSynth(self.sr, self.hop, int(codec.n_harmonics), int(codec.n_noise))
        rng = np.random.default_rng(seed)  # voice 0's stream in the plugin
        self.register_buffer("noise", torch.from_numpy(rng.standard_normal(NOISE_SAMPLES).astype(np.float32)))
        self.rates = sorted(set(host_rates) | {self.sr})
        self.taps_back, self.grids, self.latencies = {}, {}, {}
        for rate in self.rates:
            back, latency = model_to_host(self.sr, rate, 1, 1)
            t = tables(back)
            self.taps_back[rate], self.grids[rate], self.latencies[rate] = (
                t["taps"],
                t["grid"].tolist(),
                latency,
            )
        self.floor, self.gate_open, self.noise_offset = (
            float(floor_db),
            float(gate_open_db),
            float(noise_offset),
        )
        self.top_db, self.range_db = float(envelope.top_db), float(envelope.range_db)
        self.attributes = [p.name for p in parameters] + ["pitch_in_hz"]
        self.ranges = {p.name: [float(p.minimum), float(p.maximum)] for p in parameters}
        self.attack_ms, self.release_ms, self.gain_db = 0.0, 0.0, 0.0
        for p in parameters:
            setattr(self, p.name, float(p.default))
        self.pitch_in_hz = False
        self.sample_rate = 48000  # until the host says (one of HOST_RATES)
        self._fresh(1)  # one voice until a call brings another batch size

    # -- state -------------------------------------------------------------------------------
    def _fresh(self, B: int) -> None:
        """``B`` fresh voices at the current rate: no note yet, silence, clocks at 0."""
        self.h = torch.zeros(B, self.net.hidden_size)
        self.t = 0
        self.eh = torch.zeros(B, self.expression_size)  # the expression model's state and clock
        self.et = 0
        self.voice_pitch = torch.full((B,), 69.0, dtype=torch.float64)  # MIDI, as the plugin keeps it
        self.voice_velocity = torch.zeros(B, dtype=torch.float64)  # MIDI / 127
        self.synth.reset_voices(B)
        self.f0 = torch.full((B,), 440.0, dtype=torch.float64)
        # each voice's note and the note before it (still releasing): rows level (dB), on, off (frames,
        # off -1 while held), then the same of the previous note. One tensor made by one stack: the
        # script compiler merges identical zeros(...) calls into one tensor, which in-place writes
        # then shared (a previous note that was the current one, found by the export's tests)
        floor, zero, held = torch.full((B,), self.floor), torch.zeros(B), torch.full((B,), -1.0)
        self.notes = torch.stack([floor, zero, held, floor, zero, held]).double()
        self.used = torch.zeros(B, dtype=torch.bool)
        self.last_pitch = torch.zeros(B)
        self.last_velocity = torch.zeros(B)
        self.frames, self.host_frames = 0, 0
        self.played = 0  # frames heard or owed to the host; frames past it are rendered ahead
        self._snapshot()
        grid = self.grids[self.sample_rate]
        self.mono = torch.zeros(B, 0)
        self.buf_back = torch.zeros(B, grid[3])
        self.counts = [0, 0]  # the resampler's inputs and outputs

    # -- the voices --------------------------------------------------------------------------
    def _loudness(self, first: int, n: int) -> torch.Tensor:
        """dB ``(B, n)`` of frames ``first ..``: the louder of each voice's note and previous note."""
        t = (torch.arange(n, dtype=torch.float64) + first + 1).unsqueeze(0) / self.fr
        v = self.notes
        ends = torch.where(v[[2, 5]] < 0, torch.full_like(v[[2, 5]], math.inf), v[[2, 5]] / self.fr)
        a, r = self.attack_ms / 1000.0, self.release_ms / 1000.0
        now = note_db(t, v[1] / self.fr, ends[0], v[0], a, r, self.floor)
        before = note_db(t, v[4] / self.fr, ends[1], v[3], a, r, self.floor)
        return torch.maximum(now, before)

    def _snapshot(self) -> None:
        """The state at frame ``frames`` (references: rendering replaces these tensors)."""
        self.snap_frames, self.snap_t, self.snap_h = self.frames, self.t, self.h
        self.snap_et, self.snap_eh = self.et, self.eh
        self.snap_synth = self.synth.state()

    def _reach(self, frame: int, ahead: int) -> None:
        """Frames up to ``frame`` are played; when that needs rendering, render ``ahead`` frames."""
        if frame > self.frames:
            self._snapshot()
            self._render(max(frame, self.frames + ahead) - self.frames, True)
        self.played = max(self.played, frame)

    def _rewind(self, frame: int) -> None:
        """Forget the frames rendered ahead from ``frame`` on (``played <= frame``): back to the
        snapshot, taken at or before ``played``, then render up to ``frame`` again for the state
        only (their audio is already in ``mono``)."""
        self.mono = self.mono[:, : frame * self.hop - self.counts[0]]
        self.frames, self.t, self.h = self.snap_frames, self.snap_t, self.snap_h
        self.et, self.eh = self.snap_et, self.snap_eh
        self.synth.set_state(self.snap_synth)
        self._render(frame - self.frames, False)

    def _render(self, n: int, keep: bool) -> None:
        """``n`` more frames of every voice, appended to ``mono`` if ``keep``."""
        if n <= 0:
            return
        B = self.h.shape[0]
        db = self._loudness(self.frames, n)
        f0 = self.f0.unsqueeze(1).expand(B, n)
        for performer in self.performers:
            v = self.notes
            f0, db, self.eh = performer.perform(self.frames, f0, db, self.voice_pitch, self.voice_velocity, v[1], v[2],
                                                self.used, self.eh, self.et)  # fmt: skip
            self.et += n
        x = torch.stack([torch.log2(f0.clamp(min=1.0) / 440.0) / 4.0, db / 80.0 + 1.0], 2).float()
        y, self.h = self.net(x, self.h, self.t)
        self.t += n
        N = self.n_harmonics
        g = ((db - self.floor) / (self.gate_open - self.floor)).clamp(0.0, 1.0)
        gain = (g * g * (3.0 - 2.0 * g)).float()
        amplitude = self._scale(y[:, :, 0]) * gain
        harmonics = self._scale(y[:, :, 1 : 1 + N])
        noise = self._scale(y[:, :, 1 + N :] + self.noise_offset) * gain.unsqueeze(2)
        start = self.frames * self.hop
        idx = torch.remainder(torch.arange(start, start + n * self.hop), self.noise.shape[0])
        u = self.noise.index_select(0, idx).unsqueeze(0).expand(B, n * self.hop)
        audio = self.synth.process(f0.float(), amplitude, harmonics, noise, u.contiguous())
        if keep:
            audio = torch.where(self.used.unsqueeze(1), audio, torch.zeros_like(audio))
            self.mono = torch.cat([self.mono, audio], 1)
        self.frames += n

    def _scale(self, x: torch.Tensor) -> torch.Tensor:
        return 2.0 * torch.sigmoid(x) ** math.log(10.0) + 1e-7  # adapters.harmonic.scale

    def _note_on(self, b: int, pitch: float, velocity: float) -> None:
        v = self.notes
        now = float(self.frames)
        if bool(self.used[b]):  # its note's release goes on under the new one (a held note ends now)
            v[3, b], v[4, b] = v[0, b].clone(), v[1, b].clone()
            v[5, b] = self._f64(now) if bool(v[2, b] < 0) else v[2, b].clone()
        hz = pitch if self.pitch_in_hz else 440.0 * 2.0 ** ((pitch - 69.0) / 12.0)
        self.f0[b] = self._f64(hz)
        midi = 69.0 + 12.0 * math.log(max(hz, 1e-9) / 440.0) / math.log(2.0) if self.pitch_in_hz else pitch
        self.voice_pitch[b], self.voice_velocity[b] = self._f64(midi), self._f64(velocity)
        level = self.top_db + self.range_db * math.log(max(1.0, velocity * 127.0) / 127.0) / math.log(127.0)
        v[0, b], v[1, b], v[2, b] = self._f64(level), self._f64(now), self._f64(-1.0)
        self.used[b] = True

    def _note_off(self, b: int) -> None:
        if bool(self.notes[2, b] < 0):
            self.notes[2, b] = self._f64(float(self.frames))

    def _f64(self, x: float) -> torch.Tensor:
        # exactly x: a script's torch.tensor(x, dtype=torch.float64) rounds through float32 (a note's
        # f0 then differed from the plugin's in the 8th digit, and with an expression model's pitch
        # deviation on top the upper harmonics' phases drifted 1.3e-4 apart in half a second)
        return torch.full([], x, dtype=torch.float64)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(batch, 2, frames)``: pitch and velocity in; ``(batch, 1, frames)`` audio out."""
        B, n = x.shape[0], x.shape[2]
        if B != self.h.shape[0]:
            self._fresh(B)
        pitch, velocity = x[:, 0].float(), x[:, 1].float()
        before_p = torch.cat([self.last_pitch.unsqueeze(1), pitch[:, :-1]], 1)
        before_v = torch.cat([self.last_velocity.unsqueeze(1), velocity[:, :-1]], 1)
        sounding = velocity > 0
        starts = sounding & ((before_v <= 0) | (pitch != before_p))
        ends = ~sounding & (before_v > 0)
        changes = starts | ends
        if bool(changes.any()):  # most blocks hold no event (nonzero alone cost 174 us a block)
            frames = changes.nonzero()  # (events, 2): batch entry, frame
            order = torch.argsort(frames[:, 1] * B + frames[:, 0])
            den = self.sample_rate * self.hop
            frames = frames.index_select(0, order)
            for k in range(frames.shape[0]):
                b, j = int(frames[k, 0]), int(frames[k, 1])
                at = max(-(-(self.host_frames + j) * self.sr // den), self.played)
                if at < self.frames:
                    self._rewind(at)
                self._reach(at, 0)
                if bool(starts[b, j]):
                    self._note_on(b, float(pitch[b, j]), float(velocity[b, j]))
                else:
                    self._note_off(b)
        self.last_pitch, self.last_velocity = pitch[:, -1], velocity[:, -1]
        self.host_frames += n
        grid = self.grids[self.sample_rate]
        need = max(needs(grid, self.host_frames) - self.counts[0], 0)
        owed = self.played * self.hop - self.counts[0]  # samples of played frames not yet taken
        if need > owed:
            self._reach(self.played - (owed - need) // self.hop, render_ahead())
        out, self.buf_back = push(self.taps_back[self.sample_rate], grid, self.buf_back, self.mono[:, :need],
                                  self.counts[0], self.counts[1], n)  # fmt: skip
        self.counts = [self.counts[0] + need, self.counts[1] + n]
        self.mono = self.mono[:, need:]
        return (out * 10.0 ** (self.gain_db / 20.0)).unsqueeze(1)

    # -- the nn~ protocol (the rest: .protocol.NnTilde) --------------------------------------
    @torch.jit.export
    def get_attack_ms(self) -> float:
        return self.attack_ms

    @torch.jit.export
    def set_attack_ms(self, value: float) -> int:
        if not self._in_range("attack_ms", value):
            return -1
        self.attack_ms = value
        return 0

    @torch.jit.export
    def get_release_ms(self) -> float:
        return self.release_ms

    @torch.jit.export
    def set_release_ms(self, value: float) -> int:
        if not self._in_range("release_ms", value):
            return -1
        self.release_ms = value
        return 0

    @torch.jit.export
    def get_gain_db(self) -> float:
        return self.gain_db

    @torch.jit.export
    def set_gain_db(self, value: float) -> int:
        if not self._in_range("gain_db", value):
            return -1
        self.gain_db = value
        return 0

    @torch.jit.export
    def get_pitch_in_hz(self) -> bool:
        return self.pitch_in_hz

    @torch.jit.export
    def set_pitch_in_hz(self, value: bool) -> int:
        self.pitch_in_hz = value
        return 0

    def _batch(self) -> int:
        return self.h.shape[0]
