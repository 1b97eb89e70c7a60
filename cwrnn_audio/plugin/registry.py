"""Plugins by name: lazy "module:attr" targets, entry points discovered on first use.

Third-party packages register plugins under the entry-point group ``cwrnn_audio.plugins``
(``name = "package.module:Class"``), exactly as the built-ins in ``plugins/`` do.
"""

from __future__ import annotations

from ..errors import ParameterError, ParameterTypeError
from ..lazy import entry_point_targets, resolve

GROUP = "cwrnn_audio.plugins"
_registry: dict[str, str] = {}
_discovered = False


def _discover() -> None:
    global _discovered
    if _discovered:
        return
    for name, target in entry_point_targets(GROUP).items():
        _registry.setdefault(name, target)
    _discovered = True


def register_plugin(name: str, target, *, clobber: bool = False) -> None:
    """Register ``target`` (a class or a ``"module:attr"`` string) under ``name``."""
    _discover()
    if not isinstance(name, str) or not name:
        raise ParameterTypeError(f"plugin name must be a non-empty string; got {name!r}")
    if name in _registry and not clobber and _registry[name] != target:
        raise ParameterError(
            f"a plugin named {name!r} is already registered ({_registry[name]!r}); pass clobber=True"
        )
    _registry[name] = target


def available_plugins() -> list[str]:
    _discover()
    return sorted(_registry)


def get_plugin(name: str):
    """The plugin class registered as ``name``."""
    _discover()
    if not isinstance(name, str):
        raise ParameterTypeError(f"plugin name must be a string; got {name!r}")
    if name not in _registry:
        raise ParameterError(
            f"no plugin named {name!r}; installed: {available_plugins()}. A third-party plugin becomes "
            f"available once its package is installed (pip install ...) and declares the entry point "
            f"group {GROUP!r}"
        )
    target = _registry[name]
    if isinstance(target, str):
        try:
            target = resolve(target)
        except (ImportError, AttributeError) as exc:
            raise ParameterError(
                f"plugin {name!r} points at {_registry[name]!r}, which cannot be loaded ({exc})"
            ) from None
        _registry[name] = target
    return target
