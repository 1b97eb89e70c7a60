"""The expression model playing live, beside the generator plugin's harmonic voices (issue 28).

Each voice has its own stream of the expression model, stepped once per model frame with the
frame's score columns as a player knows them while playing (:func:`~.score.live_frames`: no note's
end, no next onset; the instrument's model trained that way, ``lookahead=False``); its loudness and pitch deviation
replace the envelope's in the frames where the voice's note sounds, as ``render_notes`` does with
a score (:func:`~cwrnn_audio.ddsp.render.performed_controls`).
"""

from __future__ import annotations

import numpy as np

from .codec import ExpressionCodec, score_input
from .score import live_frames


class LivePerformer:
    """``voices`` streams of the expression ``model`` (a RuntimeModel) at ``frame_rate``."""

    def __init__(self, model, *, frame_rate: int, voices: int):
        from ..kernels.state import KernelState

        self.codec = ExpressionCodec(frame_rate=frame_rate, lookahead=False)
        self.kernel = KernelState(model.kernel_weights(), voices)

    def reset(self) -> None:
        self.kernel.reset()

    def perform(self, first: int, f0: np.ndarray, db: np.ndarray, **notes):
        """Frames ``first ..`` of every voice: ``f0`` (Hz) and ``db`` ``(V, n)`` from the envelopes,
        the voices' notes as :func:`~.score.live_frames` takes them -> ``(f0, db)`` performed."""
        from ..ddsp.render import performed_controls

        V, n = db.shape
        frames = live_frames(first, n, frame_rate=self.codec.frame_rate, **notes)
        x = np.ascontiguousarray(score_input(frames, lookahead=False))
        y = np.empty((V, n, self.codec.output_size), np.float32)
        self.kernel.forward(x, y)
        loud, cents = self.codec.decode(y)
        return performed_controls(f0, db, frames[..., 1] > 0, loud, cents)


__all__ = ["LivePerformer"]
