"""The CW-RNN model: one definition, run by the torch path or the Numba kernels."""

from __future__ import annotations

from typing import Optional

import numpy as np
import torch
from torch import nn

from ..checks import valid_choice, valid_int, valid_sequence, valid_steps
from ..core.clock import block_upper_mask
from ..core.config import TENSOR_NAMES, CWRNNConfig
from ..core.state import CWRNNState
from ..errors import ParameterError, ParameterTypeError
from ..io.model_file import check_weights, read_model_file, save_model
from .functional import cwrnn_readout

BACKENDS = ("numba", "torch")


class CWRNN(nn.Module):
    r"""Clockwork RNN (Koutník et al., 2014) with one hidden layer.

    .. math::
        h_t[A_t] = \tanh(W_H[A_t] h_{t-1} + W_I[A_t] x_t + b_H[A_t]), \quad
        y_t = f_O(W_O h_t + b_O)

    where :math:`A_t` are the rows of the modules with ``t % T_i == 0``; the
    other rows keep their values. ``W_H`` is block-upper-triangular: a module
    reads itself and the slower modules only.

    Parameters
    ----------
    config : CWRNNConfig, optional
        The structure. Alternatively pass its fields as keywords
        (``CWRNN(input_size=1, num_modules=8, module_size=16)``).
    batch_first : bool, keyword-only
        ``True`` (default): ``forward`` takes ``(batch, time, features)``;
        ``False``: ``(time, batch, features)``, as ``torch.nn.RNN`` does.

    Inputs: ``input, hx``
        ``input``: ``(batch, time, input_size)`` (or unbatched ``(time, input_size)``).
        ``hx``: optional :class:`CWRNNState` ``(h, t)``, ``h`` of shape
        ``(batch, hidden_size)`` and ``t`` an int or ``(batch,)`` step counters.
        Defaults to zeros at step 0.

    Outputs: ``output, state``
        ``output``: ``(batch, time, output_size)``; ``state``: the final
        :class:`CWRNNState`, its counter advanced by ``time``.
    """

    def __init__(self, config: Optional[CWRNNConfig] = None, *, batch_first: bool = True, **fields):
        super().__init__()
        if config is None:
            config = CWRNNConfig(**fields)
        elif fields:
            raise ParameterError(
                f"pass either config or its fields, not both; got config and {sorted(fields)!r}"
            )
        elif not isinstance(config, CWRNNConfig):
            raise ParameterTypeError(f"config must be a CWRNNConfig; got {type(config).__name__}")
        if not isinstance(batch_first, bool):
            raise ParameterTypeError(f"batch_first must be a bool; got {batch_first!r}")
        self.config = config
        self.batch_first = batch_first
        n, i, o = config.hidden_size, config.input_size, config.output_size
        self.W_H = nn.Parameter(torch.empty(n, n))
        self.W_I = nn.Parameter(torch.empty(n, i))
        self.b_H = nn.Parameter(torch.empty(n))
        self.W_O = nn.Parameter(torch.empty(o, n))
        self.b_O = nn.Parameter(torch.empty(o))
        mask = torch.from_numpy(block_upper_mask(config.module_sizes))
        self.register_buffer("W_H_mask", mask, persistent=False)
        self.reset_parameters()

    @classmethod
    def from_weights(cls, config: CWRNNConfig, weights: dict, **kwargs) -> CWRNN:
        """A module holding ``weights``: NumPy arrays named and shaped as in the model file (checked
        as a file's are); ``kwargs`` as the constructor's (``batch_first``)."""
        model = cls(config, **kwargs)
        check_weights(config, weights, source="weights")
        with torch.no_grad():
            for name in TENSOR_NAMES:  # np.array copies: torch warns on wrapping a read-only array
                getattr(model, name).copy_(torch.from_numpy(np.array(weights[name], np.float32)))
        return model

    def reset_parameters(self) -> None:
        """The paper's initialisation: every weight ~ N(0, init_std); zeros below the blocks."""
        with torch.no_grad():
            for p in self.parameters():
                p.normal_(0.0, self.config.init_std)
            self.W_H.mul_(self.W_H_mask)

    # -- structure ---------------------------------------------------------------
    @property
    def hidden_size(self) -> int:
        return self.config.hidden_size

    @property
    def num_parameters(self) -> int:
        """Trainable, structurally non-zero weights (see :attr:`CWRNNConfig.num_parameters`)."""
        return self.config.num_parameters

    def extra_repr(self) -> str:
        c = self.config
        s = (
            f"{c.input_size}, {c.output_size}, module_sizes={list(c.module_sizes)}, "
            f"periods={list(c.periods)}, output_activation={c.output_activation!r}"
        )
        if not self.batch_first:
            s += ", batch_first=False"
        return s

    # -- torch path ----------------------------------------------------------------
    def forward(self, input: torch.Tensor, hx=None):
        c = self.config
        if not isinstance(input, torch.Tensor):
            raise ParameterTypeError(f"input must be a torch.Tensor; got {type(input).__name__}")
        if input.dim() not in (2, 3) or input.shape[-1] != c.input_size:
            raise ParameterError(
                f"input must have shape (batch, time, {c.input_size}) or (time, {c.input_size}); "
                f"got {tuple(input.shape)}"
            )
        if not input.is_floating_point():
            raise ParameterTypeError(f"input must be floating point; got dtype {input.dtype}")
        if input.numel() and not bool(torch.isfinite(input).all()):
            raise ParameterError("input contains NaN or infinite values")
        unbatched = input.dim() == 2
        x = input.unsqueeze(0) if unbatched else (input if self.batch_first else input.transpose(0, 1))
        x = x.to(self.W_H.dtype)
        h, t = self._initial_state(hx, x.shape[0], unbatched)
        y, h_n, t_n = self.forward_batched(x, h, t)
        if unbatched:
            return y[0], CWRNNState(h_n[0], t_n[0])
        if not self.batch_first:
            y = y.transpose(0, 1)
        return y, CWRNNState(h_n, t_n)

    def forward_batched(self, x, h, t):
        """The unchecked core of :meth:`forward`: x ``(B, T, I)``, h ``(B, n)``, t ``(B,)``."""
        c = self.config
        W = self.W_H * self.W_H_mask
        y, h_n = cwrnn_readout(x, h, t, W, self.W_I, self.b_H, self.W_O, self.b_O, c.periods, c.offsets)
        if c.output_activation == "tanh":
            y = torch.tanh(y)
        return y, h_n, t + x.shape[1]

    def _initial_state(self, hx, batch: int, unbatched: bool):
        n = self.config.hidden_size
        dev, dtype = self.W_H.device, self.W_H.dtype
        if hx is None:
            return torch.zeros(batch, n, device=dev, dtype=dtype), torch.zeros(
                batch, dtype=torch.long, device=dev
            )
        try:
            h, t = hx
        except (TypeError, ValueError):
            raise ParameterTypeError(
                f"hx must be a CWRNNState or a pair (h, t); got {type(hx).__name__}"
            ) from None
        try:
            h, t = torch.as_tensor(h, device=dev, dtype=dtype), torch.as_tensor(t, device=dev)
        except (TypeError, ValueError, RuntimeError) as exc:  # strings, ragged lists...
            raise ParameterTypeError(f"hx must hold tensors (h, t); could not convert ({exc})") from None
        want = (n,) if unbatched else (batch, n)
        if tuple(h.shape) != want:
            raise ParameterError(f"hx.h must have shape {want}; got {tuple(h.shape)}")
        if t.is_floating_point() or t.is_complex() or t.dtype == torch.bool:
            raise ParameterTypeError(f"hx.t must hold integer step counters; got dtype {t.dtype}")
        t = t.to(torch.long)
        if t.dim() == 0:
            t = t.expand(batch)
        if tuple(t.shape) != (batch,):
            raise ParameterError(f"hx.t must be an int or have shape ({batch},); got {tuple(t.shape)}")
        if bool((t < 0).any()):
            raise ParameterError("hx.t must be non-negative")
        return (h.unsqueeze(0) if unbatched else h), t.contiguous()

    # -- NumPy-facing helpers -------------------------------------------------------
    def numpy_weights(self) -> dict:
        """The weights as float32 NumPy arrays, named as in the model file."""
        return {
            name: getattr(self, name).detach().to("cpu", torch.float32).numpy().copy()
            for name in TENSOR_NAMES
        }

    def kernel_weights(self):
        """A snapshot of the weights in the Numba kernels' layout."""
        from ..kernels.weights import pack

        return pack(self.config, **self.numpy_weights())

    def stream(self, *, backend: str = "numba", voices: int = 1):
        """A stateful runner: ``process(block)`` carries the state and clock across blocks.

        The weights are captured when the stream is made (``numba``) or read
        live from this module (``torch``).
        """
        valid_choice(backend, BACKENDS, name="backend")
        voices = valid_int(voices, name="voices", minimum=1)
        from ..runtime.stream import NumbaStream, TorchStream

        if backend == "numba":
            return NumbaStream(self.config, self.kernel_weights(), voices=int(voices))
        return TorchStream(self, voices=int(voices))

    def run(self, inputs=None, *, steps: Optional[int] = None, backend: str = "numba") -> np.ndarray:
        """Run a whole sequence from the zero state at step 0.

        Parameters
        ----------
        inputs : np.ndarray, shape ``(time, input_size)`` or ``(voices, time, input_size)``
            Float inputs. May be omitted for a no-input model (``input_size=0``).
        steps : int, keyword-only
            Number of steps for a no-input model when ``inputs`` is omitted.
        backend : {"numba", "torch"}

        Returns
        -------
        np.ndarray, float32, shape ``(time, output_size)`` (or with a leading voice axis)
        """
        valid_choice(backend, BACKENDS, name="backend")
        if inputs is None:
            if steps is None:
                raise ParameterError("run needs inputs, or steps= for a model with input_size=0")
            if self.config.input_size != 0:
                raise ParameterError(
                    f"steps= alone only works for input_size=0; this model has "
                    f"input_size={self.config.input_size}, so pass inputs"
                )
            inputs = np.zeros((valid_steps(steps), 0), dtype=np.float32)
        elif steps is not None:
            raise ParameterError("pass inputs or steps=, not both")
        x = valid_sequence(inputs, features=self.config.input_size)
        voices = 1 if x.ndim == 2 else x.shape[0]
        return self.stream(backend=backend, voices=voices).process(x)

    # -- files ---------------------------------------------------------------------
    def save(self, path) -> None:
        """Write a ``.safetensors`` file (atomically); see the README for its layout."""
        save_model(self, path)


def load(path, *, map_location="cpu") -> CWRNN:
    """Load a model written by :meth:`CWRNN.save` (``cwrnn_audio.load``).

    Parameters
    ----------
    path : str or os.PathLike
        The ``.safetensors`` file.
    map_location : str or torch.device, keyword-only
        Device for the returned module's parameters.

    Returns
    -------
    CWRNN
    """
    config, tensors = read_model_file(path)
    return CWRNN.from_weights(config, tensors).to(map_location)
