"""Event tokens in the style of Magenta's Performance RNN.

NOTE_ON(p) 0..127, NOTE_OFF(p) 128..255, TIME_SHIFT 256..355 (10 ms .. 1 s),
VELOCITY 356..387 (32 bins): 388 classes.
"""

from __future__ import annotations

import numpy as np

from ..errors import ParameterError
from ..models.codec import ClassCodec
from .codec import MidiCodec
from .notes import Note

NOTE_ON, NOTE_OFF, TIME_SHIFT, VELOCITY = 0, 128, 256, 356
VOCAB = 388
STEP = 0.01  # seconds per time-shift unit
MAX_SHIFT = 100
BINS = 32


def velocity_bin(v: int) -> int:
    return min(BINS - 1, (int(v) - 1) * BINS // 127)


def bin_velocity(b: int) -> int:
    """The velocity a bin decodes to (its centre)."""
    return int(np.clip(round((b + 0.5) * 127 / BINS) + 1, 1, 127))


class EventEncoding(MidiCodec, ClassCodec):
    name = "events"
    size = VOCAB

    def settings(self) -> dict:
        return {}

    def sequence(self, score) -> np.ndarray:
        """Notes -> int64 tokens; times quantised to 10 ms, velocities to 32 bins."""
        notes = score.notes if hasattr(score, "notes") else score
        events = []
        for n in notes:
            s, e = int(round(n.start / STEP)), int(round(n.end / STEP))
            e = max(e, s + 1)  # a note shorter than 10 ms keeps one step
            events.append((s, 1, n.pitch, n.velocity))
            events.append((e, 0, n.pitch, 0))
        events.sort()  # offs before ons at one time
        tokens, now, vbin = [], 0, -1
        for t, kind, pitch, vel in events:
            while t > now:
                shift = min(MAX_SHIFT, t - now)
                tokens.append(TIME_SHIFT + shift - 1)
                now += shift
            if kind == 1:
                b = velocity_bin(vel)
                if b != vbin:
                    tokens.append(VELOCITY + b)
                    vbin = b
                tokens.append(NOTE_ON + pitch)
            else:
                tokens.append(NOTE_OFF + pitch)
        return np.array(tokens, np.int64)

    def decode(self, tokens, *, channel: int = 0, program: int = 0) -> list:
        """Tokens -> notes; an unmatched NOTE_OFF is ignored, notes still on are closed at the end."""
        tokens = np.asarray(tokens)
        if tokens.size and (tokens.min() < 0 or tokens.max() >= VOCAB):
            raise ParameterError(
                f"event tokens must be in 0..{VOCAB - 1}; got {tokens.min()}..{tokens.max()}"
            )
        now, vel, open_ = 0, 80, {}
        notes = []
        for tok in tokens.tolist():
            if tok < NOTE_OFF:
                open_.setdefault(tok, []).append((now, vel))
            elif tok < TIME_SHIFT:
                p = tok - NOTE_OFF
                if open_.get(p):
                    s, v = open_[p].pop(0)
                    notes.append(Note(p, v, s * STEP, now * STEP, channel, program))
            elif tok < VELOCITY:
                now += tok - TIME_SHIFT + 1
            else:
                vel = bin_velocity(tok - VELOCITY)
        for p, items in open_.items():
            for s, v in items:
                notes.append(Note(p, v, s * STEP, max(now, s + 1) * STEP, channel, program))
        return sorted(notes, key=lambda n: (n.start, n.pitch, n.end))

    def steps_for(self, base, start_s, total_s, events) -> int:
        return events if events is not None else 100_000  # else stopped by time

    def elapsed(self, y) -> float:
        return (int(y) - TIME_SHIFT + 1) * STEP if TIME_SHIFT <= y < VELOCITY else 0.0

    def continuation(self, history, sampled, base, start_s, program) -> list:
        """Events restart the clock: the sampled tokens alone, shifted to ``start_s``."""
        notes = self.decode(self.targets(sampled), program=program)
        return [n._replace(start=n.start + start_s, end=n.end + start_s) for n in notes]
