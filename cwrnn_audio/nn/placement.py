"""Tensors made where a module lives: the one place the torch paths take a device and dtype from.

A tensor made by default sits on the CPU in float32; fed to a module on CUDA it fails with "Expected
all tensors to be on the same device". Made through these helpers it matches the module's first
parameter in device and dtype, so a float64 model on the CPU (whose dtype a default tensor also
misses) exercises the same call graph in CI that a CUDA model runs on a GPU.
"""

from __future__ import annotations

import numpy as np
import torch


def like(module) -> dict:
    """``device=`` and ``dtype=`` of ``module``'s first parameter, for ``torch.zeros(..., **like(m))``."""
    p = next(module.parameters())
    return {"device": p.device, "dtype": p.dtype}


def device_of(module) -> torch.device:
    """The device alone, for integer tensors (clock phases, class indices) that keep their own dtype."""
    return next(module.parameters()).device


def zeros_like_params(module, *shape) -> torch.Tensor:
    return torch.zeros(*shape, **like(module))


def as_params(module, array) -> torch.Tensor:
    """A NumPy array (or tensor) as a tensor on ``module``'s device in its dtype; no copy when it already is."""
    if not isinstance(array, torch.Tensor):
        array = np.ascontiguousarray(array)
    return torch.as_tensor(array, **like(module))


def to_numpy(tensor) -> np.ndarray:
    """Back to the host as float32, whatever device and dtype the model computed in."""
    return tensor.detach().to("cpu", torch.float32).numpy()
