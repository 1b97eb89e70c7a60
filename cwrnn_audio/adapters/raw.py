"""Raw samples: regression on float values in [-1, 1] (tanh output)."""

from __future__ import annotations

import numpy as np

from ..models.codec import FrameCodec
from .base import Adapter


class RawAdapter(FrameCodec, Adapter):
    name = "raw"
    output_activation = "tanh"
    input_size = 1
    output_size = 1
    bounds = (-1.0, 1.0)

    def encode(self, audio):
        """audio (C, F) -> inputs (C, F, 1) previous sample, targets (C, F, 1) this sample."""
        x = np.asarray(audio, np.float32)
        prev = np.concatenate([np.zeros((x.shape[0], 1), np.float32), x[:, :-1]], axis=1)
        return prev[..., None], x[..., None]

    def decode(self, values):
        """values (C, T, 1) -> audio (C, T)."""
        return np.clip(np.asarray(values, np.float32)[..., 0], -1.0, 1.0)
