"""Registries of kinds: a name -> a class or callable, or a lazy ``"module:attr"`` reference.

``CODECS`` maps an encoding name to its :class:`~cwrnn_audio.models.codec.Codec`; ``NETWORKS``
maps a network's type name (``config.json``'s ``"kind"``) to its ``(save, load)`` functions.
A new encoding is one new file whose class is decorated with ``@register_codec("name")``.
"""

from __future__ import annotations

import importlib

from ..errors import ParameterError, ParameterTypeError

CODECS: dict = {
    "raw": "cwrnn_audio.adapters.raw:RawAdapter",
    "mulaw": "cwrnn_audio.adapters.mulaw:MuLawAdapter",
    "mel": "cwrnn_audio.adapters.mel:MelAdapter",
    "harmonic": "cwrnn_audio.adapters.harmonic:HarmonicAdapter",
    "roll": "cwrnn_audio.midi.roll:RollEncoding",
    "events": "cwrnn_audio.midi.events:EventEncoding",
    "melody": "cwrnn_audio.midi.melody:MelodyEncoding",
}
NETWORKS: dict = {
    "CWRNN": ("cwrnn_audio.io.model_file:save_model", "cwrnn_audio.io.model_file:load"),
    "LSTMNet": ("cwrnn_audio.io.lstm_file:save_lstm", "cwrnn_audio.io.lstm_file:load_lstm"),
}


def resolve(target):
    """A ``"module:attr"`` string -> the object; anything else is returned as is."""
    if not isinstance(target, str):
        return target
    module, _, attr = target.partition(":")
    return getattr(importlib.import_module(module), attr)


def register_codec(name: str):
    """Class decorator: make ``name`` an encoding (written as ``"encoding": name``)."""
    if not isinstance(name, str) or not name:
        raise ParameterTypeError(f"a codec name must be a non-empty string; got {name!r}")

    def add(cls):
        cls.name = name
        CODECS[name] = cls
        return cls

    return add


def codec_names(domain: str | None = None) -> tuple:
    """Registered encodings (of one ``domain``, "audio" or "midi", if given)."""
    return tuple(n for n in CODECS if domain is None or codec_class(n).domain == domain)


def codec_class(name: str, *, source: str = "encoding"):
    if not isinstance(name, str):
        raise ParameterTypeError(f"{source}: an encoding name must be a string; got {name!r}")
    if name not in CODECS:
        raise ParameterError(f"{source}: 'encoding' must be one of {sorted(CODECS)}; got {name!r}")
    return resolve(CODECS[name])


def make_codec(name: str, **options):
    """The codec ``name`` from a training config's values (keys it does not take are ignored)."""
    return codec_class(name).from_options(**options)


def codec_from_dict(data, *, source: str = "codec", domain: str | None = None):
    """A codec from its JSON (``{"encoding": name, **settings}``), optionally of one domain."""
    if not isinstance(data, dict):
        raise ParameterTypeError(f"{source}: codec settings must be a JSON object; got {data!r}")
    names = codec_names(domain) if domain else tuple(CODECS)
    if not isinstance(data.get("encoding"), str):
        raise ParameterTypeError(
            f"{source}: 'encoding' must be one of {sorted(names)}; got {data.get('encoding')!r}"
        )
    if data["encoding"] not in names:
        raise ParameterError(f"{source}: 'encoding' must be one of {sorted(names)}; got {data!r}")
    return codec_class(data["encoding"]).from_dict(data, source=source)


def network_io(kind: str, *, source: str = "config.json"):
    """(save(model, path), load(path)) for a network type name."""
    if not isinstance(kind, str):
        raise ParameterTypeError(f"{source}: 'kind' must be one of {sorted(NETWORKS)}; got {kind!r}")
    if kind not in NETWORKS:
        raise ParameterError(f"{source}: 'kind' must be one of {sorted(NETWORKS)}; got {kind!r}")
    save, load = NETWORKS[kind]
    return resolve(save), resolve(load)
