"""The plugin API: block processors with a JUCE/pedalboard-like life cycle, found by name."""

from .base import KINDS, Parameter, Plugin, aligned
from .chain import Chain
from .events import MidiEvent, valid_events
from .registry import available_plugins, get_plugin, register_plugin

__all__ = [
    "KINDS",
    "Chain",
    "MidiEvent",
    "Parameter",
    "Plugin",
    "aligned",
    "available_plugins",
    "get_plugin",
    "register_plugin",
    "valid_events",
]
