"""Stateful runners: feed a sequence block by block, state and clock carried across.

Both runners take and return NumPy float32 and expose the same state
(:class:`CWRNNState` of NumPy arrays), so a state taken from one backend can
be set on the other.

The Numba kernels release the GIL and index their arrays unchecked, taking every size from the
arrays themselves: an array of the wrong shape reads or writes past the stream's state. So every
public method checks its arrays here, against the stream's voices and the model's sizes, before a
kernel sees them (the kernels' folder is left alone: editing it recompiles every kernel).
"""

from __future__ import annotations

import math

import numpy as np

from ..checks import all_finite, float_array, valid_int, valid_out, valid_sequence, valid_steps
from ..core.state import CWRNNState
from ..errors import ParameterError, ParameterTypeError
from ..kernels.state import KernelState

_INT64_MAX = int(np.iinfo(np.int64).max)  # the kernels' clocks are int64


def _in_place(x, *, name: str, shape: tuple) -> np.ndarray:
    """An array the run updates in place: exactly float32, C-contiguous, writeable, finite, ``shape``.

    No copy is made (the caller reads the update), so a near miss is refused rather than converted.
    """
    if not isinstance(x, np.ndarray):
        raise ParameterTypeError(
            f"{name} must be a float32 NumPy array of shape {shape} (updated in place); got {type(x).__name__}"
        )
    if x.dtype != np.float32:
        raise ParameterTypeError(f"{name} must be float32 (it is updated in place); got dtype {x.dtype}")
    if x.shape != shape:
        raise ParameterError(f"{name} must have shape {shape}; got {x.shape}")
    if not x.flags.c_contiguous or not x.flags.writeable:
        raise ParameterError(f"{name} must be C-contiguous and writeable (it is updated in place)")
    if x.size and not all_finite(x):
        raise ParameterError(f"{name} contains NaN or infinite values")
    return x


def _floats(x, *, name: str, dtype, want: str, ndim: int) -> np.ndarray:
    """A read-only float input as a C-contiguous ``dtype`` array (a copy only when needed)."""
    x = float_array(x, name=name)
    if x.ndim != ndim:
        raise ParameterError(f"{name} must have shape {want}; got {x.shape}")
    return np.ascontiguousarray(x, dtype=dtype)


def _number(value, *, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise ParameterTypeError(f"{name} must be a number; got {value!r}")
    return float(value)


class _Stream:
    backend = ""

    def __init__(self, config, *, voices: int):
        self.config = config
        self.voices = valid_int(voices, name="voices", minimum=1)
        self._headroom = _INT64_MAX  # steps left before the latest clock would wrap (int64)

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
        if not y.flags.writeable:
            raise ParameterError("out must be a writeable array; got a read-only one")
        self._take_steps(x.shape[1])
        self._advance(x, y)
        return y[0] if single else y

    def sample_classes(self, uniforms, class_values, x_last, *, temperature=1.0, top_k=0):
        """Autoregressive categorical sampling (logits output); see :mod:`cwrnn_audio.kernels.sample`.

        uniforms (voices, N) floats in [0, 1); class_values (output_size,) floats, the input
        value of each class; x_last (voices, input_size) float32 (the last input_size classes'
        values, newest first), updated in place. Returns int64 classes (voices, N).
        """
        c, V = self.config, self.voices
        if c.input_size == 0:
            raise ParameterError(
                "sample_classes feeds each class back as the next input, so it needs input_size >= 1; "
                "this model has input_size=0 (use process(steps=...))"
            )
        u = _floats(uniforms, name="uniforms", dtype=np.float64, want=f"({V}, N)", ndim=2)  # as the CDF
        if u.shape[0] != V:
            raise ParameterError(f"uniforms must have shape ({V}, N) for {V} voice(s); got {u.shape}")
        if u.size and not (0.0 <= u.min() and u.max() < 1.0):  # NaN fails both
            raise ParameterError(f"uniforms must lie in [0, 1); got values in [{u.min()}, {u.max()}]")
        K = c.output_size
        values = _floats(class_values, name="class_values", dtype=np.float32, want=f"({K},)", ndim=1)
        if values.shape != (K,):
            raise ParameterError(f"class_values must have shape ({K},), one per class; got {values.shape}")
        if not all_finite(values):
            raise ParameterError("class_values contains NaN or infinite values")
        x = _in_place(x_last, name="x_last", shape=(V, c.input_size))
        temperature = _number(temperature, name="temperature")
        if not (math.isfinite(temperature) and temperature > 0 and math.isfinite(1.0 / temperature)):
            raise ParameterError(f"temperature must be a positive finite number; got {temperature!r}")
        top_k = min(valid_int(top_k, name="top_k", minimum=0), K)  # K or more keep every class, as 0 does
        self._take_steps(u.shape[1])
        return self._sample_classes(u, values, x, temperature, top_k)

    def free_run(self, noise, x_last, *, lo=-np.inf, hi=np.inf):
        """Feed each output back as the next input (input_size == output_size), plus ``noise``.

        noise (voices, N, output_size) floats; x_last (voices, input_size) float32, updated in
        place; each output is clipped to [lo, hi]. Returns float32 (voices, N, output_size).
        """
        c, V = self.config, self.voices
        if c.input_size != c.output_size:
            raise ParameterError(
                "free_run feeds each output back as the next input, so it needs input_size == output_size; "
                f"this model has input_size={c.input_size}, output_size={c.output_size}"
            )
        O = c.output_size
        want = f"({V}, N, {O})"
        z = _floats(noise, name="noise", dtype=np.float32, want=want, ndim=3)
        if z.shape[0] != V or z.shape[2] != O:
            raise ParameterError(f"noise must have shape {want} for {V} voice(s); got {z.shape}")
        if z.size and not all_finite(z):
            raise ParameterError("noise contains NaN or infinite values")
        x = _in_place(x_last, name="x_last", shape=(V, c.input_size))
        lo, hi = _number(lo, name="lo"), _number(hi, name="hi")
        if not lo <= hi:  # NaN fails too
            raise ParameterError(f"lo must be <= hi (neither NaN); got lo={lo!r}, hi={hi!r}")
        self._take_steps(z.shape[1])
        return self._free_run(z, x, lo, hi)

    def _take_steps(self, steps: int) -> None:
        """Refuse a run that would carry a clock past 2**63 - 1, where it would wrap to a negative step.

        Only a state set near the limit gets there (from 0 it takes millions of years of audio), so
        the stream counts down its headroom instead of reading the clocks on every block.
        """
        if steps > self._headroom:
            raise ParameterError(
                f"{steps} more steps would carry the stream's clock past 2**63 - 1 (it is at "
                f"{_INT64_MAX - self._headroom}); reset() the stream or set a smaller state.t"
            )
        self._headroom -= steps

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
        # a uint64 clock past the int64 range would wrap to a negative one in the cast below
        if (
            t.shape != (self.voices,)
            or not np.issubdtype(t.dtype, np.integer)
            or (t < 0).any()
            or (t > _INT64_MAX).any()
        ):
            raise ParameterError(
                f"state.t must be integers in [0, 2**63 - 1] of shape ({self.voices},); got {t.dtype} {t.shape}"
            )
        self._set_state(h.astype(np.float32), t.astype(np.int64))
        self._headroom = _INT64_MAX - int(t.max())

    def reset(self) -> None:
        """Back to the zero state at step 0."""
        n = self.config.hidden_size
        self._set_state(np.zeros((self.voices, n), np.float32), np.zeros(self.voices, np.int64))
        self._headroom = _INT64_MAX

    def __repr__(self) -> str:
        return f"{type(self).__name__}(voices={self.voices}, config={self.config!r})"


class NumbaStream(_Stream):
    """Runs the compiled Numba kernel; allocates nothing per sample."""

    backend = "numba"

    def __init__(self, config, weights, *, voices: int = 1):
        super().__init__(config, voices=voices)
        c, n = config, config.hidden_size
        want = {
            "WH": (n, n),
            "WI": (n, c.input_size),
            "bH": (n,),
            "WO": (c.output_size, n),
            "bO": (c.output_size,),
            "offsets": (c.num_modules + 1,),
            "periods": (c.num_modules,),
        }
        for name, shape in want.items():
            got = getattr(weights, name).shape
            if got != shape:
                raise ParameterError(f"weights.{name} must have shape {shape} for {config!r}; got {got}")
        if list(weights.offsets) != list(c.offsets) or list(weights.periods) != list(c.periods):
            raise ParameterError(f"weights' offsets and periods do not match {config!r}")
        self.weights = weights
        self.kernel = KernelState(weights, self.voices)

    def _advance(self, x, y) -> None:
        self.kernel.forward(x, y)

    def _get_state(self):
        return self.kernel.h, self.kernel.t

    def _set_state(self, h, t) -> None:
        self.kernel.set(h, t)

    def _sample_classes(self, uniforms, class_values, x_last, temperature, top_k):
        out = np.empty(uniforms.shape, np.int64)
        self.kernel.sample_classes(uniforms, class_values, x_last, 1.0 / temperature, top_k, out)
        return out

    def _free_run(self, noise, x_last, lo, hi):
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

    def _sample_classes(self, uniforms, class_values, x_last, temperature, top_k):
        """The torch twin of the Numba sampler (same draws from the same uniforms)."""
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

    def _free_run(self, noise, x_last, lo, hi):
        """The torch twin of the Numba free run."""
        from ..nn.placement import as_params, to_numpy

        V, N, O = noise.shape
        out = np.empty((V, N, O), np.float32)
        x, nz = as_params(self.module, x_last), as_params(self.module, noise)
        for s in range(N):
            x = (self._one_step(x) + nz[:, s]).clamp(lo, hi)
            out[:, s] = to_numpy(x)
        x_last[...] = to_numpy(x)
        return out

    def _set_state(self, h, t) -> None:
        import torch

        from ..nn.placement import as_params, device_of

        self._h = as_params(self.module, h)
        self._t = torch.as_tensor(t, device=device_of(self.module), dtype=torch.long)
