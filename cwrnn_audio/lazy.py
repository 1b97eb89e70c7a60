"""Lazy references: ``"module:attr"`` strings resolved on first use, so registries import nothing heavy."""

from __future__ import annotations

import importlib


def resolve(target):
    """A ``"module:attr"`` (``attr`` may be dotted) -> the object; anything else is returned as is."""
    if not isinstance(target, str):
        return target
    module, _, attr = target.partition(":")
    value = importlib.import_module(module)
    for part in attr.split("."):
        value = getattr(value, part)
    return value


def entry_point_targets(group: str) -> dict:
    """``{name: "module:attr"}`` of the entry points installed packages declare in ``group``
    (nothing is imported)."""
    from importlib.metadata import entry_points

    return {ep.name: ep.value for ep in entry_points(group=group)}
