"""LSTM baseline files: safetensors tensors plus ``lstm_config`` JSON metadata."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

from ..errors import ParameterError
from .atomic import atomic_path

CONFIG_KEY = "lstm_config"
NAMES = ("W_x", "W_h", "b", "W_O", "b_O")


def save_lstm(model, path) -> Path:
    from safetensors.numpy import save_file

    path = Path(os.fspath(path))
    tensors = {k: getattr(model, k).detach().cpu().float().numpy().copy() for k in NAMES}
    with atomic_path(path) as tmp:
        save_file(tensors, str(tmp), metadata={CONFIG_KEY: json.dumps(model.config.to_dict())})
    return path


def load_lstm(path):
    import torch
    from safetensors import safe_open

    from ..nn.lstm import LSTMConfig, LSTMNet

    path = Path(os.fspath(path))
    try:
        with safe_open(str(path), framework="numpy") as f:
            meta = f.metadata() or {}
            tensors = {k: f.get_tensor(k) for k in f.keys()}
        config = LSTMConfig(**json.loads(meta[CONFIG_KEY]))
    except Exception as exc:
        raise ParameterError(f"{path}: not a readable LSTM model file ({exc})") from None
    model = LSTMNet(config)
    for k in NAMES:
        want = tuple(getattr(model, k).shape)
        if k not in tensors or tensors[k].shape != want:
            raise ParameterError(f"{path}: tensor {k} must have shape {want}")
    with torch.no_grad():
        for k in NAMES:
            getattr(model, k).copy_(torch.from_numpy(np.asarray(tensors[k], np.float32)))
    return model
