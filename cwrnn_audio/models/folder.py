"""Model folders: ``model.safetensors`` + ``config.json`` + the codec's JSON, for any codec.

The codec's JSON is ``{"encoding": name, **settings, **playback}`` under the codec's
``folder_file`` name (``adapter.json`` for audio, ``encoding.json`` for MIDI, as folders have
always been written); ``config.json`` holds the network's config, its ``kind`` (type name)
and the training record.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import NamedTuple

from ..errors import ParameterError
from ..io.atomic import write_json
from .registry import CODECS, codec_class, codec_from_dict, network_io

WEIGHTS, CONFIG = "model.safetensors", "config.json"
CODEC_FILES = ("codec.json", "adapter.json", "encoding.json")  # every name a codec JSON is written under


class ModelFolder(NamedTuple):
    model: object
    codec: object
    playback: dict  # settings to render with (MIDI: program, tempo_bpm)


def save_model_dir(directory, model, codec, training: dict | None = None, **playback) -> Path:
    d = Path(os.fspath(directory))
    d.mkdir(parents=True, exist_ok=True)
    kind = type(model).__name__
    save, _ = network_io(kind, source=f"{d}: model")
    save(model, d / WEIGHTS)
    write_json(d / CONFIG, {"model": model.config.to_dict(), "kind": kind, "training": training or {}})
    write_json(d / codec.folder_file, {**codec.to_dict(), **playback})
    return d


def _read_json(path: Path):
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise ParameterError(f"{path}: not valid JSON ({exc})") from None


def load_model_dir(directory, *, domain: str | None = None) -> ModelFolder:
    """The model, its codec (of ``domain``, if given) and playback settings from a model folder."""
    d = Path(os.fspath(directory))
    codec_file = next((d / f for f in CODEC_FILES if (d / f).is_file()), None)
    if not (d / WEIGHTS).is_file() or codec_file is None:
        raise ParameterError(f"{d}: not a model folder (needs {WEIGHTS} and one of {', '.join(CODEC_FILES)})")
    data = _read_json(codec_file)
    if isinstance(data, dict) and data.get("encoding") in CODECS:
        cls = codec_class(data["encoding"])
        playback = {k: type(v)(data.pop(k, v)) for k, v in cls.playback.items()}
    else:
        playback = {}
    codec = codec_from_dict(data, source=str(codec_file), domain=domain)
    config = _read_json(d / CONFIG) if (d / CONFIG).is_file() else {}
    _, load = network_io(config.get("kind", "CWRNN"), source=str(d / CONFIG))
    model = load(d / WEIGHTS)
    c = model.config
    if c.output_size != codec.output_size or c.input_size not in (0, codec.input_size):
        raise ParameterError(
            f"{d}: the model (input {c.input_size}, output {c.output_size}) does not fit its codec {codec!r}"
        )
    return ModelFolder(model, codec, playback)
