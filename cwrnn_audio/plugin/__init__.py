"""The plugin API: block processors with a JUCE/pedalboard-like life cycle, found by name."""

from .base import Parameter, Plugin, aligned
from .chain import Chain
from .registry import available_plugins, get_plugin, register_plugin

__all__ = ["Chain", "Parameter", "Plugin", "aligned", "available_plugins", "get_plugin", "register_plugin"]
