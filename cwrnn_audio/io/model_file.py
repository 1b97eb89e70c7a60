"""Model files: safetensors tensors plus the configuration as JSON metadata, read and written with
NumPy only (the torch module is built by :func:`cwrnn_audio.nn.module.load`, the NumPy one by
:class:`cwrnn_audio.runtime.model.RuntimeModel`).

Tensors: ``W_H`` (n, n, zeros below the block diagonal), ``W_I`` (n, input),
``b_H`` (n), ``W_O`` (output, n), ``b_O`` (output); metadata key
``cwrnn_config`` holds :meth:`CWRNNConfig.to_json`. No pickle anywhere: a file
from a stranger can hold numbers, never code.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

from .._version import __version__
from ..core.clock import block_upper_mask
from ..core.config import TENSOR_NAMES, CWRNNConfig
from ..errors import ParameterError, ParameterTypeError
from .atomic import atomic_path

CONFIG_KEY = "cwrnn_config"


def expected_shapes(config: CWRNNConfig) -> dict:
    n, i, o = config.hidden_size, config.input_size, config.output_size
    return {"W_H": (n, n), "W_I": (n, i), "b_H": (n,), "W_O": (o, n), "b_O": (o,)}


def save_model(model, path) -> Path:
    """Write ``model`` to ``path`` (temp file, then rename)."""
    from safetensors.numpy import save_file

    path = Path(os.fspath(path))
    tensors = model.numpy_weights()
    meta = {CONFIG_KEY: model.config.to_json(), "format": "cwrnn_audio", "version": __version__}
    with atomic_path(path) as tmp:
        save_file(tensors, str(tmp), metadata=meta)
    return path


def check_weights(config: CWRNNConfig, tensors: dict, *, source: str) -> None:
    """Refuse missing/extra tensors, wrong shapes, non-finite values, a non-triangular ``W_H``."""
    if not isinstance(tensors, dict):
        raise ParameterTypeError(f"{source} must be a dict of NumPy arrays; got {type(tensors).__name__}")
    names = set(tensors)
    if names != set(TENSOR_NAMES):
        raise ParameterError(f"{source}: expected tensors {sorted(TENSOR_NAMES)}; got {sorted(names)}")
    for name, shape in expected_shapes(config).items():
        a = tensors[name]
        if not isinstance(a, np.ndarray):
            raise ParameterTypeError(f"{source}: tensor {name} must be a NumPy array; got {type(a).__name__}")
        if tuple(a.shape) != shape:
            raise ParameterError(
                f"{source}: tensor {name} must have shape {shape} for this config; got {tuple(a.shape)}"
            )
        if not np.issubdtype(a.dtype, np.floating):
            raise ParameterTypeError(f"{source}: tensor {name} must be floating point; got {a.dtype}")
        if a.size and not np.isfinite(a).all():
            raise ParameterError(f"{source}: tensor {name} contains NaN or infinite values")
    below = tensors["W_H"][~block_upper_mask(config.module_sizes)]
    if np.any(below != 0):
        raise ParameterError(
            f"{source}: W_H is not block-upper-triangular for module_sizes="
            f"{list(config.module_sizes)} ({int(np.count_nonzero(below))} non-zero weights "
            "below the block diagonal, where slow modules would read fast ones)"
        )


def read_model_file(path) -> tuple[CWRNNConfig, dict]:
    """Read and validate a model file without torch: (config, NumPy tensors)."""
    from safetensors import safe_open

    path = Path(os.fspath(path))
    source = str(path)
    if not path.is_file():
        raise ParameterError(f"{source}: no such model file")
    try:
        with safe_open(str(path), framework="numpy") as f:
            meta = f.metadata() or {}
            tensors = {k: f.get_tensor(k) for k in f.keys()}
    except ParameterError:
        raise
    except Exception as exc:  # safetensors raises its own error types for bad headers
        raise ParameterError(f"{source}: not a readable safetensors file ({exc})") from None
    if CONFIG_KEY not in meta:
        raise ParameterError(f"{source}: metadata has no '{CONFIG_KEY}' entry; not a CW-RNN model file")
    try:
        data = json.loads(meta[CONFIG_KEY])
    except json.JSONDecodeError as exc:
        raise ParameterError(f"{source}: '{CONFIG_KEY}' is not valid JSON ({exc})") from None
    except (ValueError, RecursionError) as exc:  # deep nesting, a 5000-digit number
        raise ParameterError(
            f"{source}: '{CONFIG_KEY}' is not usable JSON ({type(exc).__name__}: {exc})"
        ) from None
    config = CWRNNConfig.from_dict(data, source=f"{source}: {CONFIG_KEY}")
    check_weights(config, tensors, source=source)
    return config, tensors
