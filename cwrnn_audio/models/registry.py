"""Registries of kinds: a name -> a class or callable, or a lazy ``"module:attr"`` reference.

``CODECS`` maps an encoding name to its :class:`~cwrnn_audio.models.codec.Codec` (network kinds
are described in :mod:`cwrnn_audio.core.kinds`).
A new encoding is one new file whose class is decorated with ``@register_codec("name")``; another
package adds one by declaring an entry point in the group ``cwrnn_audio.codecs``
(``name = "package.module:Class"``), found on first use and imported only when that name is asked for.
A built-in name cannot be taken over by an entry point.
"""

from __future__ import annotations

from ..errors import ParameterError, ParameterTypeError
from ..lazy import entry_point_targets, resolve

GROUP = "cwrnn_audio.codecs"
_CODECS: dict = {
    "raw": "cwrnn_audio.adapters.raw:RawAdapter",
    "mulaw": "cwrnn_audio.adapters.mulaw:MuLawAdapter",
    "mel": "cwrnn_audio.adapters.mel:MelAdapter",
    "harmonic": "cwrnn_audio.adapters.harmonic:HarmonicAdapter",
    "roll": "cwrnn_audio.midi.roll:RollEncoding",
    "events": "cwrnn_audio.midi.events:EventEncoding",
    "melody": "cwrnn_audio.midi.melody:MelodyEncoding",
    "expression": "cwrnn_audio.expression.codec:ExpressionCodec",
}
_FROM_ENTRY_POINTS: set = set()
_discovered = False


def _discover() -> None:
    global _discovered
    if _discovered:
        return
    for name, target in entry_point_targets(GROUP).items():
        if name not in _CODECS:
            _CODECS[name] = target
            _FROM_ENTRY_POINTS.add(name)
    _discovered = True


def __getattr__(name):
    # ``CODECS`` is read through here so that a reader outside this module (``from .registry
    # import CODECS``) sees the entry-point codecs too, not only the built-ins.
    if name == "CODECS":
        _discover()
        return _CODECS
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def register_codec(name: str):
    """Class decorator: make ``name`` an encoding (written as ``"encoding": name``)."""
    if not isinstance(name, str) or not name:
        raise ParameterTypeError(f"a codec name must be a non-empty string; got {name!r}")

    def add(cls):
        _discover()
        cls.name = name
        _CODECS[name] = cls
        _FROM_ENTRY_POINTS.discard(name)
        return cls

    return add


def _loads(name: str) -> bool:
    if name not in _FROM_ENTRY_POINTS:
        return True
    try:
        codec_class(name)
    except ParameterError:
        return False
    return True


def codec_names(domain: str | None = None) -> tuple:
    """Registered encodings (of one ``domain``, "audio" or "midi", if given).

    With a domain, a codec from another package that fails to load is left out (asking for it by
    name says why), so one broken package does not break every other encoding.
    """
    _discover()
    if domain is None:
        return tuple(_CODECS)
    return tuple(n for n in _CODECS if _loads(n) and codec_class(n).domain == domain)


def _unknown(name, source: str, known) -> ParameterError:
    return ParameterError(
        f"{source}: no codec named {name!r}; 'encoding' must be one of {sorted(known)}. A codec from "
        f"another package becomes available once that package is installed (pip install ...) and "
        f"declares an entry point in the group {GROUP!r}"
    )


def codec_class(name: str, *, source: str = "encoding"):
    """The codec class registered as ``name`` (imported on first use)."""
    _discover()
    if not isinstance(name, str):
        raise ParameterTypeError(f"{source}: an encoding name must be a string; got {name!r}")
    if name not in _CODECS:
        raise _unknown(name, source, _CODECS)
    target = _CODECS[name]
    if not isinstance(target, str):
        return target
    from .codec import Codec

    if name not in _FROM_ENTRY_POINTS:
        origin, cls = target, resolve(target)  # a built-in that fails to import is our bug: let it show
    else:
        origin = f"entry point {name} = {target!r} (group {GROUP!r})"
        try:
            cls = resolve(target)
        except Exception as exc:  # noqa: BLE001 - whatever another package's import raises, name its entry point
            raise ParameterError(f"{source}: codec {name!r}: {origin} cannot be loaded ({exc!r})") from exc
    if not (isinstance(cls, type) and issubclass(cls, Codec)):
        raise ParameterError(f"{source}: codec {name!r}: {origin} is not a Codec subclass; got {cls!r}")
    if "name" not in vars(cls):  # one not set by the class itself (maybe inherited from a built-in)
        cls.name = name  # as @register_codec does: the name is what to_dict writes as "encoding"
    if cls.name != name:
        raise ParameterError(
            f"{source}: codec {name!r}: {origin} is a codec named {cls.name!r}, which would be saved "
            f"under another name"
        )
    _CODECS[name] = cls
    return cls


def make_codec(name: str, **options):
    """The codec ``name`` from a training config's values (keys it does not take are ignored)."""
    return codec_class(name).from_options(**options)


def codec_from_dict(data, *, source: str = "codec", domain: str | None = None):
    """A codec from its JSON (``{"encoding": name, **settings}``), optionally of one domain."""
    _discover()
    if not isinstance(data, dict):
        raise ParameterTypeError(f"{source}: codec settings must be a JSON object; got {data!r}")
    name = data.get("encoding")
    if not isinstance(name, str):
        raise ParameterTypeError(
            f"{source}: 'encoding' must be one of {sorted(codec_names(domain))}; got {name!r}"
        )
    if name not in _CODECS:
        raise _unknown(name, source, codec_names(domain))
    cls = codec_class(name, source=source)  # a broken entry point says so here, not "unknown"
    if domain is not None and cls.domain != domain:
        raise ParameterError(
            f"{source}: 'encoding' must be one of {sorted(codec_names(domain))}; got {data!r}"
        )
    return cls.from_dict(data, source=source)
