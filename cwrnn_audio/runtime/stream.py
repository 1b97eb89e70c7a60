"""Stateful runners: feed a sequence block by block, state and clock carried across.

Both runners take and return NumPy float32 and expose the same state
(:class:`CWRNNState` of NumPy arrays), so a state taken from one backend can
be set on the other.
"""

from __future__ import annotations

import numpy as np

from ..checks import valid_out, valid_sequence, valid_steps
from ..core.state import CWRNNState
from ..errors import ParameterError
from ..kernels.state import KernelState


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
        y = valid_out(out, shape[1:] if single else shape).reshape(shape)
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
        self.kernel = KernelState(weights, voices)

    def _advance(self, x, y) -> None:
        self.kernel.forward(x, y)

    def _get_state(self):
        return self.kernel.h, self.kernel.t

    def _set_state(self, h, t) -> None:
        self.kernel.set(h, t)

    def sample_classes(self, uniforms, class_values, x_last, *, temperature=1.0, top_k=0):
        """Autoregressive categorical sampling (logits output); see :mod:`cwrnn_audio.kernels.sample`.

        uniforms (voices, N) in [0, 1); x_last (voices, I) float32 (the last I classes'
        values, newest first), updated in place.
        Returns int64 classes (voices, N).
        """
        out = np.empty(uniforms.shape, np.int64)
        self.kernel.sample_classes(uniforms, class_values, x_last, 1.0 / temperature, int(top_k), out)
        return out

    def free_run(self, noise, x_last, *, lo=-np.inf, hi=np.inf):
        """Feed each output back as the next input (input_size == output_size), plus ``noise``.

        noise (voices, N, O) float32; x_last (voices, I) updated. Returns (voices, N, O).
        """
        out = np.empty(noise.shape, np.float32)
        self.kernel.free_run(noise, x_last, lo, hi, out)
        return out


class TorchStream(_Stream):
    """Runs the torch path (on the module's device) without autograd."""

    backend = "torch"

    def __init__(self, module, *, voices: int = 1):
        super().__init__(module.config, voices=voices)
        self.module = module
        self.reset()

    def _advance(self, x, y) -> None:
        import torch

        from ..nn.placement import as_params, to_numpy

        with torch.inference_mode():
            out, self._h, self._t = self.module.forward_batched(as_params(self.module, x), self._h, self._t)
            y[...] = to_numpy(out)

    def _get_state(self):
        from ..nn.placement import to_numpy

        return to_numpy(self._h), self._t.cpu().numpy()

    def _one_step(self, x):
        """One step of ``x`` (voices, I), a tensor made like the module."""
        import torch

        with torch.inference_mode():
            out, self._h, self._t = self.module.forward_batched(x[:, None], self._h, self._t)
        return out[:, 0]

    def sample_classes(self, uniforms, class_values, x_last, *, temperature=1.0, top_k=0):
        """The torch twin of :meth:`NumbaStream.sample_classes` (same draws from the same uniforms)."""
        import torch

        from ..nn.placement import as_params, device_of, to_numpy

        V, N = uniforms.shape
        out = np.empty((V, N), np.int64)
        values, x = as_params(self.module, class_values), as_params(self.module, x_last)
        u = torch.as_tensor(uniforms, device=device_of(self.module), dtype=torch.float64)  # as the CDF
        for s in range(N):
            logits = self._one_step(x).double()
            if 0 < top_k < logits.shape[1]:
                kth = torch.topk(logits, top_k, dim=1).values[:, -1:]
                logits = logits.masked_fill(logits < kth, float("-inf"))
            p = torch.exp((logits - logits.max(dim=1, keepdim=True).values) / temperature)
            cdf = torch.cumsum(p, dim=1)
            c = torch.searchsorted(cdf, (u[:, s] * cdf[:, -1])[:, None], right=True).clamp(
                max=p.shape[1] - 1
            )[:, 0]
            out[:, s] = c.cpu().numpy()
            x = torch.cat([values[c][:, None], x[:, :-1]], dim=1)
        x_last[...] = to_numpy(x)
        return out

    def free_run(self, noise, x_last, *, lo=-np.inf, hi=np.inf):
        """The torch twin of :meth:`NumbaStream.free_run`."""
        from ..nn.placement import as_params, to_numpy

        V, N, O = noise.shape
        out = np.empty((V, N, O), np.float32)
        x, nz = as_params(self.module, x_last), as_params(self.module, noise)
        for s in range(N):
            x = (self._one_step(x) + nz[:, s]).clamp(float(lo), float(hi))
            out[:, s] = to_numpy(x)
        x_last[...] = to_numpy(x)
        return out

    def _set_state(self, h, t) -> None:
        import torch

        from ..nn.placement import as_params, device_of

        self._h = as_params(self.module, h)
        self._t = torch.as_tensor(t, device=device_of(self.module), dtype=torch.long)
