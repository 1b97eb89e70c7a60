"""The expression model's codec: the score's frames in, the player's loudness and pitch deviation out.

Inputs (:data:`~.score.COLUMNS`, fixed scales so a model folder needs no dataset statistics): the
pitch as ``(pitch - 69) / 24``, whether a note sounds, the three times over
:data:`~.score.HORIZON_S`, the velocity. With ``lookahead=False`` (a model that plays live, as the
generator plugin does) a note's end and the next onset are not known: those two columns read the
horizon. A model trained both ways at once read scores worse (held-out flute: 13-16 dB loudness
error against 10-11 for a score model alone), so an instrument has one model for each. Outputs: the loudness as the harmonic codec reads it
(``dB / 80 + 1``) and the deviation in semitones (cents / 100). Targets carry a third column, 1
where the cents are defined (:class:`~.targets.Targets`); the loss is the loudness's squared error
over every frame plus the deviation's over the frames where it is defined.
"""

from __future__ import annotations

import numpy as np

from ..checks import valid_bool, valid_int
from ..models.codec import FrameCodec
from .score import COLUMNS, HORIZON_S


def score_input(frames: np.ndarray, *, lookahead: bool = True) -> np.ndarray:
    """:func:`~.score.score_frames` ``(..., T, 6)`` -> model inputs ``(..., T, 6)`` float32;
    ``lookahead=False``: as played live (see the module)."""
    x = np.array(frames, np.float64, copy=True)
    if not lookahead:
        x[..., 3:5] = HORIZON_S
    x[..., 0] = (x[..., 0] - 69.0) / 24.0
    x[..., 2:5] /= HORIZON_S
    return x.astype(np.float32)


class ExpressionCodec(FrameCodec):
    name = "expression"
    domain = "expression"
    options = ("frame_rate", "lookahead")

    def __init__(self, *, frame_rate: int = 250, lookahead: bool = True):
        self.frame_rate = valid_int(frame_rate, name="frame_rate", minimum=1)
        self.lookahead = valid_bool(lookahead, name="lookahead")

    @property
    def input_size(self) -> int:
        return len(COLUMNS)

    @property
    def output_size(self) -> int:
        return 2

    @property
    def step_rate(self) -> float:
        return float(self.frame_rate)

    def settings(self) -> dict:
        return {"frame_rate": self.frame_rate, "lookahead": self.lookahead}

    def encode(self, data):
        """``(score_frames (T, 6), targets)`` -> inputs ``(T, 6)`` (:func:`score_input`), targets
        ``(T, 3)`` (loudness, deviation, defined)."""
        frames, t = data
        y = np.stack([np.asarray(t.loudness_db) / 80.0 + 1.0, np.asarray(t.cents) / 100.0, t.has_cents], 1)
        return score_input(frames, lookahead=self.lookahead), y.astype(np.float32)

    def decode(self, outputs):
        """Outputs ``(..., 2)`` -> ``(loudness_db, cents)``."""
        out = np.asarray(outputs, np.float64)
        return (out[..., 0] - 1.0) * 80.0, out[..., 1] * 100.0

    def loss_function(self):
        def loss(out, target, inputs):
            defined = target[..., 2]
            loud = (out[..., 0] - target[..., 0]).square().mean()
            dev = ((out[..., 1] - target[..., 1]).square() * defined).sum() / defined.sum().clamp_min(1.0)
            return loud + dev

        return loss
