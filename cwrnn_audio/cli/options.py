"""What the commands' options share: defaults read from a configuration dataclass, never restated."""

from __future__ import annotations

from dataclasses import fields


def config_defaults(config_class) -> dict:
    """``{field: default}`` of a configuration dataclass: an option's default is read here."""
    return {f.name: f.default for f in fields(config_class)}
