"""MIDI model folders: ``model.safetensors``, ``config.json``, ``encoding.json``."""

from __future__ import annotations

import json
import os
from pathlib import Path

from ..errors import ParameterError
from ..io.atomic import write_json
from .codec import encoding_from_dict, encoding_to_dict, model_io


def save_midi_model_dir(
    directory, model, enc, info: dict | None = None, *, program: int = 0, tempo_bpm: float = 120.0
):
    from ..train.checkpoint import save_network

    d = Path(os.fspath(directory))
    d.mkdir(parents=True, exist_ok=True)
    save_network(model, d / "model.safetensors")
    write_json(
        d / "config.json",
        {"model": model.config.to_dict(), "kind": type(model).__name__, "training": info or {}},
    )
    write_json(d / "encoding.json", {**encoding_to_dict(enc), "program": program, "tempo_bpm": tempo_bpm})
    return d


def load_midi_model_dir(directory):
    """(model, encoding, settings) where settings holds the program and tempo to write with."""
    d = Path(os.fspath(directory))
    if not (d / "model.safetensors").is_file() or not (d / "encoding.json").is_file():
        raise ParameterError(f"{d}: not a MIDI model folder (needs model.safetensors and encoding.json)")
    try:
        data = json.loads((d / "encoding.json").read_text())
    except json.JSONDecodeError as exc:
        raise ParameterError(f"{d / 'encoding.json'}: not valid JSON ({exc})") from None
    settings = {"program": int(data.pop("program", 0)), "tempo_bpm": float(data.pop("tempo_bpm", 120.0))}
    enc = encoding_from_dict(data)
    kind = (
        json.loads((d / "config.json").read_text()).get("kind", "CWRNN")
        if (d / "config.json").is_file()
        else "CWRNN"
    )
    if kind == "LSTMNet":
        from ..io.lstm_file import load_lstm

        model = load_lstm(d / "model.safetensors")
    else:
        from ..io.model_file import load

        model = load(d / "model.safetensors")
    if (model.config.input_size, model.config.output_size) != model_io(enc):
        raise ParameterError(f"{d}: the model does not fit its encoding {data!r}")
    return model, enc, settings
