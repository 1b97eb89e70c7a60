"""MIDI continuator: listens to the notes played and answers with a continuation."""

from __future__ import annotations

import numpy as np

from cwrnn_audio.errors import ParameterError
from cwrnn_audio.plugin import MidiEvent, Parameter, Plugin
from cwrnn_audio.plugin.base import load_plugin_model


class Continuator(Plugin):
    """When the player pauses for ``wait_s`` seconds, the MIDI model continues the last notes for
    ``bars`` bars; playing again cancels the answer. Audio passes through unchanged; the answer
    comes out of :meth:`process_midi` as events with frame offsets inside each block.

    ``model``: a MIDI model folder or a bundled model's name (default: the bundled ``melody``).
    """

    name = "continuator"
    kind = "midi_effect"
    parameters = (
        Parameter("temperature", 0.1, 2.0, 0.9),
        Parameter("wait_s", 0.1, 10.0, 1.0, " s"),
        Parameter("bars", 1.0, 16.0, 2.0),
    )
    HISTORY = 64  # notes remembered as the prime
    variable_rows = ("history", "held", "answer")

    def __init__(self, model=None, *, seed: int = 0, **values):
        _, (self.model, self.encoding, self.settings), self.model_fingerprint = load_plugin_model(
            model, "melody", name=self.name, domain="midi", torch=False
        )
        self.seed = seed
        super().__init__(**values)

    def _prepare(self, sample_rate, max_block_size, num_channels):
        from cwrnn_audio.midi.generate import generate_midi

        generate_midi(
            self.model, self.encoding, bars=1, seed=0, **self.settings
        )  # compile now, not in process
        self._reset()

    def _reset(self):
        self._now = 0  # frames since prepare/reset
        self._held = {}  # note -> (start frame, velocity) of notes the player holds
        self._history = []  # (start frame, end frame, note, velocity)
        self._last_input = None
        self._answer = []  # (frame, type, note, velocity) scheduled, sorted
        self._answers = 0

    def _process(self, audio):
        self._process_midi((), audio.shape[1])
        return audio

    def _process_midi(self, events, num_frames: int) -> list:
        """Take the player's events in this block; return the continuation's events in it."""
        start, stop = self._now, self._now + num_frames
        for ev in events:
            t = start + ev.offset
            self._answer = [a for a in self._answer if a[0] < t]  # the player interrupts: drop the rest
            if ev.type == "note_on" and ev.velocity > 0:
                self._held[ev.note] = (t, ev.velocity)
            elif ev.note in self._held:
                s, v = self._held.pop(ev.note)
                self._history = (self._history + [(s, t, ev.note, v)])[-self.HISTORY :]
            self._last_input = t
        wait = int(round(self["wait_s"] * self.prepared[0]))
        if self._last_input is not None and not self._held and self._history:
            due = self._last_input + wait
            if start <= due < stop:
                self._answer = sorted(self._answer + self._continue(due))
        out = [
            MidiEvent(f - start, kind, note, vel) for f, kind, note, vel in self._answer if start <= f < stop
        ]
        self._answer = [a for a in self._answer if a[0] >= stop]
        self._now = stop
        return out

    def _continue(self, at: int) -> list:
        """Generate ``bars`` bars continuing the remembered notes, scheduled from frame ``at``."""
        from cwrnn_audio.midi.generate import generate_midi
        from cwrnn_audio.midi.notes import Note, Score

        sr = self.prepared[0]
        tempo = self.settings["tempo_bpm"]
        beat = 60.0 / tempo
        first = self._history[0][0]
        notes = [Note(p, v, (s - first) / sr, (e - first) / sr) for s, e, p, v in self._history]
        span = (at - first) / sr
        prime_bars = max(1.0, np.ceil(span / (4 * beat)))
        prime = Score(notes=notes, tempos=[(0.0, int(60e6 / tempo))])
        _, new, _ = generate_midi(
            self.model,
            self.encoding,
            bars=self["bars"],
            prime=prime,
            prime_bars=prime_bars,
            temperature=self["temperature"],
            seed=self.seed + self._answers,
            **self.settings,
        )
        self._answers += 1
        offset = prime_bars * 4 * beat  # the continuation starts where the prime ends
        out = []
        for n in new:
            s = at + int(round((n.start - offset) * sr))
            e = max(s + 1, at + int(round((n.end - offset) * sr)))
            out += [(s, "note_on", n.pitch, n.velocity), (e, "note_off", n.pitch, 0)]
        return out

    def _state_arrays(self):
        as_rows = lambda rows, k: np.array(rows, np.int64).reshape(-1, k)  # noqa: E731
        return {
            "history": as_rows(self._history, 4),
            "held": as_rows([(n, s, v) for n, (s, v) in self._held.items()], 3),
            "answer": as_rows([(f, int(kind == "note_on"), n, v) for f, kind, n, v in self._answer], 4),
            "clock": np.array(
                [self._now, -1 if self._last_input is None else self._last_input, self._answers]
            ),
        }

    def _check_state_arrays(self, a):
        def bad(k, ok):
            if a[k].size and not ok:
                raise ParameterError(f"{self.name}: state array {k!r} holds values out of range")

        h, held, ans, clock = a["history"], a["held"], a["answer"], a["clock"]
        bad("history", len(h) <= self.HISTORY and (h[:, :2] >= 0).all() and _midi(h[:, 2], h[:, 3], 1))
        bad("held", (held[:, 1] >= 0).all() and _midi(held[:, 0], held[:, 2], 1))
        bad(
            "answer",
            (ans[:, 0] >= 0).all() and np.isin(ans[:, 1], (0, 1)).all() and _midi(ans[:, 2], ans[:, 3]),
        )
        bad("clock", clock[0] >= 0 and clock[1] >= -1 and clock[2] >= 0)

    def _load_state_arrays(self, a):
        self._history = [tuple(int(x) for x in r) for r in a["history"]]
        self._held = {int(n): (int(s), int(v)) for n, s, v in a["held"]}
        self._answer = [
            (int(f), "note_on" if on else "note_off", int(n), int(v)) for f, on, n, v in a["answer"]
        ]
        now, last, answers = (int(x) for x in a["clock"])
        self._now, self._last_input, self._answers = now, (None if last < 0 else last), answers


def _midi(notes, velocities, lowest_velocity=0) -> bool:
    return bool(((notes >= 0) & (notes <= 127) & (velocities >= lowest_velocity) & (velocities <= 127)).all())
