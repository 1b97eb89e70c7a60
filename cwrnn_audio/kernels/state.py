"""One object per stream of voices: the kernels' state and work space, and the calls that advance it.

Streams, the effect and the generator all step voices through these methods, so the kernels'
long argument lists live here only, and nothing is allocated per call.
"""

from __future__ import annotations

import numpy as np

from .forward import forward_kernel
from .sample import sample_categorical_kernel, sample_regression_kernel, sample_voices_kernel
from .weights import KernelWeights


class KernelState:
    """``voices`` independent voices of one model in the Numba kernels' layout.

    ``h`` (voices, n) float32 and ``t`` (voices,) int64 are the state; ``S``/``S_ok`` cache,
    per voice and module, the input from slower modules (see ``forward.step_state``) and are
    invalidated whenever ``h`` is replaced through :meth:`set` or :meth:`reset`.
    """

    def __init__(self, weights: KernelWeights, voices: int):
        n, g, K = weights.WH.shape[0], weights.periods.shape[0], weights.bO.shape[0]
        self.weights = weights
        self.h = np.zeros((voices, n), np.float32)
        self.t = np.zeros(voices, np.int64)
        self.S = np.zeros((voices, n), np.float32)
        self.S_ok = np.zeros((voices, g), np.uint8)
        self._scratch = np.zeros((2, n), np.float32)
        self._phase = np.zeros(g, np.int64)
        self._logits, self._probs = np.zeros(K, np.float32), np.zeros(K, np.float32)
        # Every kernel takes these runs of arguments in this order; the arrays are only ever
        # written in place (reset/set), so the tuples built here stay valid for the object's life.
        self._state = (self.h, self.t, self.S, self.S_ok)
        w = weights
        # ``act`` stays out: only forward and free_run take it
        self._net = (w.WH, w.WI, w.bH, w.WO, w.bO, w.offsets, w.periods)
        self._work = (self._scratch[0], self._phase, self._logits, self._probs)

    def reset(self, t0: int = 0) -> None:
        """Zero state, every voice's clock at ``t0``."""
        self.h[...] = 0.0
        self.t[...] = t0
        self.S_ok[...] = 0

    def set(self, h, t, voice=slice(None)) -> None:
        """Replace the state of ``voice`` (all by default)."""
        self.h[voice] = h
        self.t[voice] = t
        self.S_ok[voice] = 0

    def forward(self, x: np.ndarray, y: np.ndarray) -> None:
        """x (voices, T, I) in, y (voices, T, O) out; every voice advances T steps."""
        act = self.weights.act
        forward_kernel(x, *self._state, *self._net, act, y, self._scratch, self._phase)

    def sample_classes(self, uniforms, class_values, x_last, inv_temp, top_k, out) -> None:
        """Autoregressive categorical sampling: ``out`` (voices, N) int64 classes; x_last updated."""
        sample_categorical_kernel(
            *self._state, x_last, *self._net, class_values, uniforms, inv_temp, top_k, out, *self._work
        )

    def sample_voices(self, x_last, active, class_values, audio_values, uniforms, inv_temp, n_steps, out):
        """An instrument's ``active`` voices, ``n_steps`` samples each into ``out[v, :n_steps]``."""
        top_k = 0  # the instrument has no top-k option: always the whole distribution
        draw = (class_values, audio_values, uniforms, inv_temp, top_k, n_steps, out)
        sample_voices_kernel(*self._state, x_last, active, *self._net, *draw, *self._work)

    def free_run(self, noise, x_last, lo, hi, out) -> None:
        """Outputs fed back as inputs, plus ``noise`` (voices, N, O), clipped to [lo, hi] into ``out``."""
        lo, hi = np.float32(lo), np.float32(hi)
        act = self.weights.act
        sample_regression_kernel(*self._state, x_last, *self._net, act, noise, lo, hi, out, *self._work[:2])
