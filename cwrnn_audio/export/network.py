"""A CW-RNN inside an exported file: its weights as buffers and a block run with its read-out."""

from typing import List, Tuple

import numpy as np
import torch

from .recurrence import lstm_weights, stream_block


class StreamedNetwork(torch.nn.Module):
    """The network of ``model`` (a :class:`~cwrnn_audio.runtime.model.RuntimeModel` or anything with
    ``config`` and ``numpy_weights()``; its ``W_H`` is block-upper-triangular, as every loaded model's)."""

    periods: List[int]
    offsets: List[int]
    lstms: List[List[torch.Tensor]]

    def __init__(self, model):
        super().__init__()
        c = model.config
        for name, value in model.numpy_weights().items():
            self.register_buffer(name, torch.from_numpy(np.ascontiguousarray(value, np.float32)))
        self.periods, self.offsets = list(c.periods), list(c.offsets)
        self.hidden_size = int(c.offsets[-1])
        self.tanh = c.output_activation == "tanh"
        W = self.W_H
        self.lstms = [lstm_weights(W[a:b, a:b]) for a, b in zip(c.offsets, c.offsets[1:])]

    def forward(self, x: torch.Tensor, h: torch.Tensor, t: int) -> Tuple[torch.Tensor, torch.Tensor]:
        """x ``(B, L, I)``, h ``(B, n)`` at clock ``t`` -> outputs ``(B, L, O)`` and the state after."""
        if x.shape[1] == 0:
            return x.new_zeros((x.shape[0], 0, self.W_O.shape[0])), h
        H = stream_block(x, h, t, self.W_H, self.W_I, self.b_H, self.periods, self.offsets, self.lstms)
        y = H @ self.W_O.t() + self.b_O
        return (torch.tanh(y) if self.tanh else y), H[:, -1]
