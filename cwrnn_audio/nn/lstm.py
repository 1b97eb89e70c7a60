"""The LSTM baseline (torch path): one layer, no peepholes, one bias, linear read-out.

Gate rows in torch's order (input, forget, cell, output). Initialised as in
the paper's experiments: every weight ~ N(0, init_std), forget-gate bias set
to ``forget_bias`` (the paper uses 5).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

from ..core.config import _check_int, valid_activation
from ..errors import ParameterError


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
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
                raise ParameterError(f"{name} must be a finite number; got {v!r}")
        if self.init_std <= 0:
            raise ParameterError(f"init_std must be positive; got {self.init_std!r}")

    @property
    def num_parameters(self) -> int:
        H, I, O = self.hidden_size, self.input_size, self.output_size
        return 4 * H * (I + H) + 4 * H + O * H + O

    def to_dict(self) -> dict:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


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
        if not isinstance(input, torch.Tensor) or input.dim() != 3 or input.shape[-1] != c.input_size:
            raise ParameterError(
                f"input must be a tensor of shape (batch, time, {c.input_size}); "
                f"got {tuple(getattr(input, 'shape', ()))}"
            )
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
        xz = torch.nn.functional.linear(x, self.W_x, self.b) if c.input_size else self.b.expand(B, T, 4 * H)
        hs = []
        for s in range(T):
            z = xz[:, s] + h @ self.W_h.t()
            i, f, g, o = z.chunk(4, dim=1)
            cell = torch.sigmoid(f) * cell + torch.sigmoid(i) * torch.tanh(g)
            h = torch.sigmoid(o) * torch.tanh(cell)
            hs.append(h)
        Hs = torch.stack(hs, 1) if hs else x.new_zeros(B, 0, H)
        y = torch.nn.functional.linear(Hs, self.W_O, self.b_O)
        if c.output_activation == "tanh":
            y = torch.tanh(y)
        if not self.batch_first:
            y = y.transpose(0, 1)
        return y, (h, cell)
