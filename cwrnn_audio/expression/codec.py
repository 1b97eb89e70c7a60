"""The expression model's codec: the score's frames in, the player's loudness and pitch deviation out.

Inputs (:data:`~.score.COLUMNS`, fixed scales so a model folder needs no dataset statistics): the
pitch as ``(pitch - 69) / 24``, whether a note sounds, the three times over
:data:`~.score.HORIZON_S`, the velocity; then whether the score's future is known (1 reading a
score; 0 played live, where a note's end and the next onset are not known yet and read as the
horizon). The trainer shows the model each recording both ways, so one model serves
``render_notes`` and the live generator plugin. Outputs: the loudness as the harmonic codec reads it
(``dB / 80 + 1``) and the deviation in semitones (cents / 100). Targets carry a third column, 1
where the cents are defined (:class:`~.targets.Targets`); the loss is the loudness's squared error
over every frame plus the deviation's over the frames where it is defined.
"""

from __future__ import annotations

import numpy as np

from ..checks import valid_int
from ..models.codec import FrameCodec
from .score import COLUMNS, HORIZON_S


def score_input(frames: np.ndarray, *, lookahead: bool = True) -> np.ndarray:
    """:func:`~.score.score_frames` ``(..., T, 6)`` -> model inputs ``(..., T, 7)`` float32;
    ``lookahead=False``: as played live (see the module)."""
    x = np.array(frames, np.float64, copy=True)
    if not lookahead:
        x[..., 3:5] = HORIZON_S
    x[..., 0] = (x[..., 0] - 69.0) / 24.0
    x[..., 2:5] /= HORIZON_S
    known = np.full(x.shape[:-1] + (1,), float(lookahead))
    return np.concatenate([x, known], -1).astype(np.float32)


class ExpressionCodec(FrameCodec):
    name = "expression"
    domain = "expression"
    options = ("frame_rate",)

    def __init__(self, *, frame_rate: int = 250):
        self.frame_rate = valid_int(frame_rate, name="frame_rate", minimum=1)

    @property
    def input_size(self) -> int:
        return len(COLUMNS) + 1

    @property
    def output_size(self) -> int:
        return 2

    @property
    def step_rate(self) -> float:
        return float(self.frame_rate)

    def settings(self) -> dict:
        return {"frame_rate": self.frame_rate}

    def encode(self, data):
        """``(score_frames (T, 6), targets[, lookahead])`` -> inputs ``(T, 7)``, targets ``(T, 3)``
        (loudness, deviation, defined); ``lookahead`` (default True): see :func:`score_input`."""
        frames, t = data[0], data[1]
        lookahead = bool(data[2]) if len(data) > 2 else True
        y = np.stack([np.asarray(t.loudness_db) / 80.0 + 1.0, np.asarray(t.cents) / 100.0, t.has_cents], 1)
        return score_input(frames, lookahead=lookahead), y.astype(np.float32)

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
