"""Model folders: ``model.safetensors`` (the core format), ``config.json``, ``adapter.json``."""

from __future__ import annotations

import json
import os
from pathlib import Path

from ..adapters import adapter_from_dict
from ..errors import ParameterError
from ..io.atomic import write_json


def save_model_dir(directory, model, adapter, training: dict | None = None) -> Path:
    d = Path(os.fspath(directory))
    d.mkdir(parents=True, exist_ok=True)
    model.save(d / "model.safetensors")
    write_json(d / "config.json", {"model": model.config.to_dict(), "training": training or {}})
    write_json(d / "adapter.json", adapter.to_dict())
    return d


def load_model_dir(directory):
    """(model, adapter) from a folder written by :func:`save_model_dir`."""
    from ..io.model_file import load

    d = Path(os.fspath(directory))
    if not (d / "model.safetensors").is_file() or not (d / "adapter.json").is_file():
        raise ParameterError(f"{d}: not a model folder (needs model.safetensors and adapter.json)")
    try:
        adapter_data = json.loads((d / "adapter.json").read_text())
    except json.JSONDecodeError as exc:
        raise ParameterError(f"{d / 'adapter.json'}: not valid JSON ({exc})") from None
    adapter = adapter_from_dict(adapter_data, source=str(d / "adapter.json"))
    model = load(d / "model.safetensors")
    c = model.config
    if c.output_size != adapter.output_size or c.input_size not in (0, adapter.input_size):
        raise ParameterError(
            f"{d}: the model (input {c.input_size}, output {c.output_size}) does not fit its adapter {adapter!r}"
        )
    return model, adapter
