"""Networks as flat parameter vectors: the order the Numba kernels expect."""

from __future__ import annotations

import numpy as np
import torch

from ..core.kinds import kind_of
from ..errors import ParameterError


def param_names(model) -> tuple:
    """The flat layout of ``model``'s kind (ParameterTypeError for a network of no known kind)."""
    return kind_of(model).layout


def shapes(model) -> list[tuple[str, tuple]]:
    return [(k, tuple(getattr(model, k).shape)) for k in param_names(model)]


def flatten(model) -> np.ndarray:
    """All trainable parameters as one float32 vector ``(D,)``."""
    return np.concatenate(
        [getattr(model, k).detach().to("cpu", torch.float32).numpy().ravel() for k in param_names(model)]
    )


def unflatten(model, theta) -> dict:
    """Views of ``theta`` (``(..., D)``) split into named parameter shapes."""
    theta = torch.as_tensor(theta)
    lead = theta.shape[:-1]
    out, off = {}, 0
    for name, shape in shapes(model):
        size = int(np.prod(shape))
        out[name] = theta[..., off : off + size].reshape(*lead, *shape)
        off += size
    if off != theta.shape[-1]:
        raise ParameterError(f"theta has {theta.shape[-1]} parameters; this model needs {off}")
    return out


def load_flat(model, theta) -> None:
    """Copy a flat vector ``(D,)`` into ``model``'s parameters."""
    with torch.no_grad():
        for name, value in unflatten(model, np.asarray(theta, np.float32)).items():
            getattr(model, name).copy_(value)
