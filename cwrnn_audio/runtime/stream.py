"""Stateful runners: feed a sequence block by block, state and clock carried across.

Both runners take and return NumPy float32 and expose the same state
(:class:`CWRNNState` of NumPy arrays), so a state taken from one backend can
be set on the other.
"""
from __future__ import annotations

import numpy as np

from ..checks import valid_sequence, valid_steps
from ..core.state import CWRNNState
from ..errors import ParameterError
from ..kernels.forward import forward_kernel


class _Stream:
    backend = ""

    def __init__(self, config, *, voices: int):
        self.config = config
        self.voices = voices

    def process(self, block=None, *, steps=None, out=None) -> np.ndarray:
        """Advance by one block.

        Parameters
        ----------
        block : np.ndarray, ``(time, input_size)`` (one voice) or ``(voices, time, input_size)``
            Float inputs; may be omitted for ``input_size=0`` with ``steps=``.
        steps : int, keyword-only
            Block length when ``block`` is omitted.
        out : np.ndarray, float32, keyword-only
            Optional C-contiguous output buffer of the returned shape, so a host
            can stream without allocating.

        Returns
        -------
        np.ndarray, float32, ``(time, output_size)`` or ``(voices, time, output_size)``
        """
        c = self.config
        if block is None:
            if steps is None or c.input_size != 0:
                raise ParameterError(
                    "process needs a block" + (" (or steps= for input_size=0)" if c.input_size == 0 else "")
                )
            block = np.empty((self.voices, valid_steps(steps), 0), dtype=np.float32)
        elif steps is not None:
            raise ParameterError("pass a block or steps=, not both")
        x = valid_sequence(block, features=c.input_size, name="block")
        single = x.ndim == 2
        if single:
            if self.voices != 1:
                raise ParameterError(
                    f"block must have shape ({self.voices}, time, {c.input_size}) for "
                    f"{self.voices} voices; got {x.shape}"
                )
            x = x[None]
        elif x.shape[0] != self.voices:
            raise ParameterError(
                f"block must have shape ({self.voices}, time, {c.input_size}); got {x.shape}"
            )
        shape = (self.voices, x.shape[1], c.output_size)
        if out is None:
            y = np.empty(shape, dtype=np.float32)
        else:
            want = shape[1:] if single else shape
            if (
                not isinstance(out, np.ndarray)
                or out.shape != want
                or out.dtype != np.float32
                or not out.flags.c_contiguous
            ):
                got = (getattr(out, "shape", None), getattr(out, "dtype", type(out).__name__))
                raise ParameterError(f"out must be a C-contiguous float32 array of shape {want}; got {got}")
            y = out.reshape(shape)
        self._advance(x, y)
        return y[0] if single else y

    @property
    def state(self) -> CWRNNState:
        """A copy of the state: ``h`` float32 ``(voices, n)``, ``t`` int64 ``(voices,)``."""
        h, t = self._get_state()
        return CWRNNState(h.copy(), t.copy())

    @state.setter
    def state(self, value) -> None:
        self.set_state(value)

    def set_state(self, state) -> None:
        """Restore a state taken with :attr:`state` (from either backend)."""
        try:
            h, t = state
        except (TypeError, ValueError):
            raise ParameterError("state must be a CWRNNState or a pair (h, t)") from None
        n = self.config.hidden_size
        h = np.asarray(h)
        if h.shape != (self.voices, n) or not np.issubdtype(h.dtype, np.floating):
            raise ParameterError(
                f"state.h must be a float array of shape ({self.voices}, {n}); got {h.dtype} {h.shape}"
            )
        if not np.isfinite(h).all():
            raise ParameterError("state.h contains NaN or infinite values")
        t = np.asarray(t)
        if t.shape != (self.voices,) or not np.issubdtype(t.dtype, np.integer) or (t < 0).any():
            raise ParameterError(
                f"state.t must be non-negative integers of shape ({self.voices},); got {t.dtype} {t.shape}"
            )
        self._set_state(h.astype(np.float32), t.astype(np.int64))

    def reset(self) -> None:
        """Back to the zero state at step 0."""
        n = self.config.hidden_size
        self._set_state(np.zeros((self.voices, n), np.float32), np.zeros(self.voices, np.int64))

    def __repr__(self) -> str:
        return f"{type(self).__name__}(voices={self.voices}, config={self.config!r})"


class NumbaStream(_Stream):
    """Runs the compiled Numba kernel; allocates nothing per sample."""

    backend = "numba"

    def __init__(self, config, weights, *, voices: int = 1):
        super().__init__(config, voices=voices)
        self.weights = weights
        self._h = np.zeros((voices, config.hidden_size), np.float32)
        self._t = np.zeros(voices, np.int64)
        self._S = np.zeros((voices, config.hidden_size), np.float32)
        self._S_ok = np.zeros((voices, config.num_modules), np.uint8)
        self._scratch = np.zeros(config.hidden_size, np.float32)
        self._phase = np.zeros(config.num_modules, np.int64)

    def _advance(self, x, y) -> None:
        w = self.weights
        forward_kernel(
            x, self._h, self._t, self._S, self._S_ok, w.WH, w.WI, w.bH, w.WO, w.bO,
            w.offsets, w.periods, w.act, y, self._scratch, self._phase,
        )  # fmt: skip

    def _get_state(self):
        return self._h, self._t

    def _set_state(self, h, t) -> None:
        self._h[...] = h
        self._t[...] = t
        self._S_ok[...] = 0


class TorchStream(_Stream):
    """Runs the torch path (on the module's device) without autograd."""

    backend = "torch"

    def __init__(self, module, *, voices: int = 1):
        super().__init__(module.config, voices=voices)
        self.module = module
        self.reset()

    def _advance(self, x, y) -> None:
        import torch

        p = self.module.W_H
        with torch.inference_mode():
            xt = torch.from_numpy(x).to(device=p.device, dtype=p.dtype)
            out, self._h, self._t = self.module.forward_batched(xt, self._h, self._t)
            y[...] = out.to("cpu", torch.float32).numpy()

    def _get_state(self):
        return self._h.to("cpu", dtype=self._h.dtype).float().numpy(), self._t.cpu().numpy()

    def _set_state(self, h, t) -> None:
        import torch

        p = self.module.W_H
        self._h = torch.as_tensor(h, device=p.device, dtype=p.dtype)
        self._t = torch.as_tensor(t, device=p.device, dtype=torch.long)
