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

from ..core.kinds import file_kind
from ..errors import ParameterError, ParameterTypeError
from ..io.atomic import write_json
from ..lazy import resolve
from .fields import check_playback
from .registry import codec_class, codec_from_dict, codec_names

WEIGHTS, CONFIG = "model.safetensors", "config.json"
CODEC_FILES = ("codec.json", "adapter.json", "encoding.json")  # every name a codec JSON is written under
MAX_JSON_BYTES = 16 << 20  # ours are kilobytes (a training record with many paths a few MB); more is not ours


class ModelFolder(NamedTuple):
    model: object
    codec: object
    playback: dict  # settings to render with (MIDI: program, tempo_bpm)


def save_model_dir(directory, model, codec, training: dict | None = None, **playback) -> Path:
    d = Path(os.fspath(directory))
    d.mkdir(parents=True, exist_ok=True)
    kind = getattr(model, "file_kind", type(model).__name__)  # a RuntimeModel names the kind it plays
    resolve(file_kind(kind, source=f"{d}: model").save)(model, d / WEIGHTS)
    write_json(d / CONFIG, {"model": model.config.to_dict(), "kind": kind, "training": training or {}})
    write_json(d / codec.folder_file, {**codec.to_dict(), **playback})
    return d


def _read_json(path: Path):
    """A JSON file's value, or ParameterError naming the file for anything that is not readable
    JSON text (binary bytes, a huge or deeply nested file)."""
    try:
        size = path.stat().st_size
        if size > MAX_JSON_BYTES:
            raise ParameterError(f"{path}: {size} bytes; a model folder's JSON has at most {MAX_JSON_BYTES}")
        text = path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ParameterError(
            f"{path}: not UTF-8 text (byte {exc.start}: {exc.object[exc.start : exc.start + 1]!r})"
        ) from None
    except OSError as exc:
        raise ParameterError(f"{path}: cannot be read ({exc.strerror or exc})") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise ParameterError(f"{path}: not valid JSON ({exc})") from None
    except RecursionError:
        raise ParameterError(f"{path}: JSON nested too deeply") from None
    except ValueError as exc:  # an integer of more digits than Python converts
        raise ParameterError(f"{path}: not usable JSON ({exc})") from None


def _read_mapping(path: Path) -> dict:
    data = _read_json(path)
    if not isinstance(data, dict):
        raise ParameterTypeError(f"{path}: must hold a JSON object ({{...}}); got {_short(data)}")
    return data


def _short(value) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def load_model_dir(directory, *, domain: str | None = None, torch: bool = True) -> ModelFolder:
    """The model, its codec (of ``domain``, if given) and playback settings from a model folder.

    ``torch=True``: the model is its torch module (:class:`~cwrnn_audio.nn.module.CWRNN`).
    ``torch=False``: a CW-RNN is a :class:`~cwrnn_audio.runtime.model.RuntimeModel` (NumPy weights,
    Numba streams), and torch is not imported; streaming and plugins load folders this way.

    Every field read is checked (ParameterError naming the file and key): a model folder is a
    user's input, so a broken one is bad input, not failed work.
    """
    if not isinstance(torch, bool):
        raise ParameterTypeError(f"torch must be a bool; got {torch!r}")
    d = Path(os.fspath(directory))
    codec_file = next((d / f for f in CODEC_FILES if (d / f).is_file()), None)
    if not (d / WEIGHTS).is_file() or codec_file is None:
        raise ParameterError(f"{d}: not a model folder (needs {WEIGHTS} and one of {', '.join(CODEC_FILES)})")
    data = _read_mapping(codec_file)
    names = codec_names(domain)
    encoding = data.get("encoding")
    if not isinstance(encoding, str):
        raise ParameterTypeError(
            f"{codec_file}: encoding must be a string, one of {sorted(names)}; got {_short(encoding)}"
        )
    if encoding not in names:
        codec_class(
            encoding, source=str(codec_file)
        )  # unknown or broken: the registry's message, with its hint
        raise ParameterError(f"{codec_file}: encoding must be one of {sorted(names)}; got {_short(encoding)}")
    playback = check_playback(
        codec_class(encoding, source=str(codec_file)).playback, data, source=str(codec_file)
    )
    codec = codec_from_dict(data, source=str(codec_file), domain=domain)
    config = _read_mapping(d / CONFIG) if (d / CONFIG).is_file() else {}
    net = file_kind(config.get("kind", "CWRNN"), source=str(d / CONFIG))
    model = resolve(net.load if torch or net.runtime_load is None else net.runtime_load)(d / WEIGHTS)
    c = model.config
    if c.output_size != codec.output_size or c.input_size not in (0, codec.input_size):
        raise ParameterError(
            f"{d}: the model (input {c.input_size}, output {c.output_size}) does not fit its codec {codec!r}"
        )
    return ModelFolder(model, codec, playback)
