"""The LSTM baseline (torch path): one layer, no peepholes, one bias, linear read-out.

Gate rows in torch's order (input, forget, cell, output). Initialised as in
the paper's experiments: every weight ~ N(0, init_std), forget-gate bias set
to ``forget_bias`` (the paper uses 5).

``forward`` runs the recurrence in torch's own LSTM kernel (``torch.lstm``, what
``torch.nn.LSTM`` runs: oneDNN or ATen's on the CPU, cuDNN on CUDA), because a
comparison against the CW-RNN is only fair at the LSTM's standard speed: a Python
loop of small ops per time step is far slower. One forward + backward of
``LSTMNet(hidden_size=96)`` on a batch of 64 x 256 steps, float32, one CPU thread,
best of 3, took 1.02 s through the loop and 0.12 s through the kernel (8.5x; a
shared 2-core machine, torch 2.13). The project's one bias ``b`` goes in as
torch's ``bias_ih`` and ``bias_hh`` is a constant zero (no parameter, not saved),
so parameters, files and gradients are the loop's, to float rounding.

The loop (``_step_loop``) stays as the reference and runs where the kernel cannot:
under ``torch.func`` transforms (``vmap`` has no batching rule for it; the
populations of ``train.engine_torch`` are vmapped), with no time steps, in dtypes
other than float32/float64, with mixed dtypes or devices (it raises torch's error,
as before), and without input features off the CPU (not tried with cuDNN).
``CWRNN_AUDIO_CPU_KERNELS=0`` (read at every call, the CW-RNN's Numba switch)
forces it. On CUDA, float32 runs as ``torch.nn.LSTM`` does: under
``torch.backends.cudnn.allow_tf32`` (torch's default) cuDNN may round its
products to TF32, which the loop's matmuls do not.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import torch
from torch import nn

from ..core.config import _check_int, valid_activation
from ..errors import ParameterError, ParameterTypeError
from . import numba_function

FUSED_DEVICES = ("cpu", "cuda")
FUSED_DTYPES = (torch.float32, torch.float64)  # half precisions keep the loop, whose rounding is known

# torch.lstm on CUDA (cuDNN) warns on every call whose weights are not one flat buffer, as LSTMNet's
# separate parameters never are; it packs them itself, a copy far cheaper than the step loop. Only
# calls from this module are silenced.
warnings.filterwarnings(
    "ignore", message="RNN module weights are not part of single contiguous", module=r"cwrnn_audio\.nn\.lstm$"
)


@dataclass(frozen=True)
class LSTMConfig:
    input_size: int = 1  # features per step; 0 for a no-input generator
    hidden_size: int = 16  # LSTM cells
    output_size: int = 1
    output_activation: str = "linear"  # "linear" (also raw logits) or "tanh"
    init_std: float = 0.1  # every weight ~ N(0, init_std)
    forget_bias: float = 5.0  # forget-gate bias at initialisation (paper: 5)

    def __post_init__(self):
        set_ = object.__setattr__
        set_(self, "input_size", _check_int("input_size", self.input_size, minimum=0))
        set_(self, "hidden_size", _check_int("hidden_size", self.hidden_size, minimum=1))
        set_(self, "output_size", _check_int("output_size", self.output_size, minimum=1))
        set_(self, "output_activation", valid_activation(self.output_activation))
        for name in ("init_std", "forget_bias"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, (int, float)):
                raise ParameterTypeError(f"{name} must be a finite number; got {v!r}")
            if not math.isfinite(v):
                raise ParameterError(f"{name} must be a finite number; got {v!r}")
        if self.init_std <= 0:
            raise ParameterError(f"init_std must be positive; got {self.init_std!r}")

    @property
    def num_parameters(self) -> int:
        H, I, O = self.hidden_size, self.input_size, self.output_size
        return 4 * H * (I + H) + 4 * H + O * H + O

    def to_dict(self) -> dict:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


def matching_hidden(input_size: int, output_size: int, parameters: int) -> int:
    """The smallest hidden size whose LSTM of ``input_size`` -> ``output_size`` holds at least
    ``parameters`` parameters: the baseline "of equal parameters" every comparison builds."""
    return next(
        h
        for h in range(1, 1 << 16)
        if LSTMConfig(input_size=input_size, hidden_size=h, output_size=output_size).num_parameters
        >= parameters
    )


class LSTMNet(nn.Module):
    """LSTM with a read-out; ``forward(input, hx=None) -> (output, (h, c))``.

    Input ``(batch, time, input_size)`` (``batch_first=True``, the default)
    or ``(time, batch, input_size)``.
    """

    def __init__(self, config: LSTMConfig | None = None, *, batch_first: bool = True, **fields):
        super().__init__()
        if config is None:
            config = LSTMConfig(**fields)
        elif fields:
            raise ParameterError(f"pass either config or its fields, not both; got {sorted(fields)!r}")
        self.config, self.batch_first = config, batch_first
        H, I, O = config.hidden_size, config.input_size, config.output_size
        self.W_x = nn.Parameter(torch.empty(4 * H, I))
        self.W_h = nn.Parameter(torch.empty(4 * H, H))
        self.b = nn.Parameter(torch.empty(4 * H))
        self.W_O = nn.Parameter(torch.empty(O, H))
        self.b_O = nn.Parameter(torch.empty(O))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        H = self.config.hidden_size
        with torch.no_grad():
            for p in self.parameters():
                p.normal_(0.0, self.config.init_std)
            self.b[H : 2 * H].fill_(self.config.forget_bias)

    @property
    def num_parameters(self) -> int:
        return self.config.num_parameters

    def extra_repr(self) -> str:
        c = self.config
        return f"{c.input_size}, {c.hidden_size}, {c.output_size}, forget_bias={c.forget_bias}"

    def forward(self, input: torch.Tensor, hx=None):
        c = self.config
        want = f"input must be a tensor of shape (batch, time, {c.input_size})"
        if not isinstance(input, torch.Tensor):
            raise ParameterTypeError(f"{want}; got {type(input).__name__}")
        if input.dim() != 3 or input.shape[-1] != c.input_size:
            raise ParameterError(f"{want}; got {tuple(input.shape)}")
        x = input if self.batch_first else input.transpose(0, 1)
        B, T, _ = x.shape
        H = c.hidden_size
        if hx is None:
            h = x.new_zeros(B, H)
            cell = x.new_zeros(B, H)
        else:
            h, cell = hx
            if tuple(h.shape) != (B, H) or tuple(cell.shape) != (B, H):
                raise ParameterError(
                    f"hx must be (h, c) of shape ({B}, {H}); got {tuple(h.shape)}, {tuple(cell.shape)}"
                )
        weights = (self.W_x, self.W_h, self.b)
        run = _fused if _fused_refusal(x, h, cell, weights) is None else _step_loop
        Hs, h, cell = run(x, h, cell, *weights)
        y = torch.nn.functional.linear(Hs, self.W_O, self.b_O)
        if c.output_activation == "tanh":
            y = torch.tanh(y)
        if not self.batch_first:
            y = y.transpose(0, 1)
        return y, (h, cell)


def _fused_refusal(x: torch.Tensor, h: torch.Tensor, cell: torch.Tensor, weights) -> str | None:
    """Why torch's LSTM kernel cannot run this call (the step loop then does), or None."""
    if not numba_function.wanted():  # the CW-RNN kernels' switch turns this kernel off too
        return f"{numba_function.ENV_SWITCH}=0"
    if x.shape[1] == 0:
        return "no time steps (torch's LSTM refuses an empty sequence)"
    tensors = (x, h, cell, *weights)
    if not all(isinstance(t, torch.Tensor) for t in tensors):
        return "hx is not a pair of tensors (the loop behaves as it always did)"
    # vmap has no batching rule for torch's LSTM (it raises); the loop's small ops all batch
    if any(torch._C._functorch.is_functorch_wrapped_tensor(t) for t in tensors):
        return "a torch.func transform (vmap, grad) is active"
    dtype, device = weights[0].dtype, weights[0].device
    if any(t.dtype != dtype or t.device != device for t in tensors):
        return "mixed dtypes or devices (the loop raises torch's own error, as it always did)"
    if device.type not in FUSED_DEVICES or dtype not in FUSED_DTYPES:
        return f"{dtype} on {device}"
    if x.shape[-1] == 0 and device.type != "cpu":
        return "no input features off the CPU (not tried with cuDNN; the loop is known to work)"
    return None


def _fused(x: torch.Tensor, h: torch.Tensor, cell: torch.Tensor, W_x, W_h, b):
    """The recurrence in torch's own LSTM kernel (oneDNN or ATen's on the CPU, cuDNN on CUDA).

    ``x`` is batch-first, ``h, cell`` are ``(B, H)``; returns all states ``(B, T, H)`` and the
    last ``h, cell``. torch's LSTM has two biases; the project's one bias ``b`` is its ``bias_ih``
    and ``bias_hh`` is a constant zero, so the gates are the loop's to rounding.
    """
    if x.shape[-1] == 0:
        # the loop never touches W_x or an input without features: keep their .grad None, as there
        x, W_x = x.detach(), W_x.detach()
    zero = torch.zeros_like(b, requires_grad=False)
    # train=True keeps what backward needs; without autograd, the leaner inference mode
    Hs, hn, cn = torch.lstm(
        x, (h[None], cell[None]), [W_x, W_h, b, zero], True, 1, 0.0, torch.is_grad_enabled(), False, True
    )
    return Hs, hn[0], cn[0]


def _step_loop(x: torch.Tensor, h: torch.Tensor, cell: torch.Tensor, W_x, W_h, b):
    """The recurrence as one step of small torch ops per time step: the reference, and the path
    for what torch's kernel cannot serve (``torch.func`` transforms, empty sequences, other
    dtypes). Same arguments and results as :func:`_fused`."""
    B, T, _ = x.shape
    H = W_h.shape[1]
    xz = torch.nn.functional.linear(x, W_x, b) if x.shape[-1] else b.expand(B, T, 4 * H)
    hs = []
    for s in range(T):
        z = xz[:, s] + h @ W_h.t()
        i, f, g, o = z.chunk(4, dim=1)
        cell = torch.sigmoid(f) * cell + torch.sigmoid(i) * torch.tanh(g)
        h = torch.sigmoid(o) * torch.tanh(cell)
        hs.append(h)
    Hs = torch.stack(hs, 1) if hs else x.new_zeros(B, 0, H)
    return Hs, h, cell
