"""The expression model playing live, beside the generator plugin's harmonic voices (issue 28).

Each voice has its own stream of the expression model, stepped once per model frame with the
frame's score columns as a player knows them while playing (:func:`~.score.live_frames`: no note's
end, no next onset; the instrument's model trained that way, ``lookahead=False``); its loudness
and pitch deviation replace the envelope's in the frames where the voice's note sounds, as
``render_notes`` does with a score (:func:`~cwrnn_audio.ddsp.render.performed_controls`).
"""

from __future__ import annotations

import numpy as np
from numba import njit

from .. import kernels  # noqa: F401  (installs the per-user kernel cache before the njit below)
from ..ddsp.render import performed_controls
from .codec import ExpressionCodec
from .score import HORIZON_S


@njit(cache=True, nogil=True)
def live_inputs(first, frame_rate, horizon, pitch, velocity, on, off, used, x, sounding):
    """:func:`~.codec.score_input` of :func:`~.score.live_frames` (``lookahead=False``) written into
    ``x`` ``(V, n, 6)`` float32, and whether each frame sounds into ``sounding`` ``(V, n)``: one
    compiled loop where the NumPy reading took 40 small array operations a call (the plugin with
    expression on ran at 31x real time instead of 59x without)."""
    V, n = x.shape[0], x.shape[1]
    for v in range(V):
        for j in range(n):
            i = first + j
            t = (i + 1.0) / frame_rate
            on_s = on[v] / frame_rate
            s = used[v] != 0 and i >= on[v] and (off[v] < 0 or i < off[v])
            if s:
                since = t - on_s
            elif used[v] != 0 and off[v] >= 0 and i >= off[v]:
                since = t - off[v] / frame_rate
            else:
                since = t
            since = min(max(since, 0.0), horizon)
            x[v, j, 0] = (pitch[v] - 69.0) / 24.0
            x[v, j, 1] = 1.0 if s else 0.0
            x[v, j, 2] = since / horizon
            x[v, j, 3] = 1.0
            x[v, j, 4] = 1.0
            x[v, j, 5] = velocity[v] / 127.0 if s else 0.0
            sounding[v, j] = s


class LivePerformer:
    """``voices`` streams of the expression ``model`` (a RuntimeModel) at ``frame_rate``."""

    def __init__(self, model, *, frame_rate: int, voices: int):
        from ..kernels.state import KernelState

        self.codec = ExpressionCodec(frame_rate=frame_rate, lookahead=False)
        self.kernel = KernelState(model.kernel_weights(), voices)

    def reset(self) -> None:
        self.kernel.reset()

    def perform(self, first: int, f0: np.ndarray, db: np.ndarray, *, pitch, velocity, on, off, used):
        """Frames ``first ..`` of every voice: ``f0`` (Hz) and ``db`` ``(V, n)`` from the envelopes,
        the voices' notes as :func:`~.score.live_frames` takes them -> ``(f0, db)`` performed."""
        V, n = db.shape
        x = np.empty((V, n, self.codec.input_size), np.float32)
        sounding = np.empty((V, n), np.bool_)
        live_inputs(first, float(self.codec.frame_rate), HORIZON_S, np.asarray(pitch, np.float64),
                    np.asarray(velocity, np.float64), np.asarray(on, np.int64), np.asarray(off, np.int64),
                    np.asarray(used, np.uint8), x, sounding)  # fmt: skip
        y = np.empty((V, n, self.codec.output_size), np.float32)
        self.kernel.forward(x, y)
        loud, cents = self.codec.decode(y)
        return performed_controls(f0, db, sounding, loud, cents)


__all__ = ["LivePerformer", "live_inputs"]
