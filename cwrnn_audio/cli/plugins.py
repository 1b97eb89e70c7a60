"""List the installed plugins (built-in and third-party) with their parameters."""

from __future__ import annotations

HELP = "list installed plugins and their parameters"


def add_arguments(p) -> None:
    pass


def summary(doc) -> str:
    """A docstring's first paragraph on one line (its first line alone may stop mid-sentence)."""
    first = (doc or "").strip().split("\n\n")[0]
    return " ".join(first.split())


def run(args) -> int:
    from ..plugin import available_plugins, get_plugin
    from ..plugin.registry import GROUP

    names = available_plugins()
    if not names:
        print(f"no plugins installed (entry-point group {GROUP!r})")
        return 0
    for name in names:
        try:
            cls = get_plugin(name)
            params = ", ".join(
                f"{p.name} [{p.minimum:g}..{p.maximum:g}{p.unit}] default {p.default:g}"
                for p in cls.parameters
            )
            print(f"{name:<12} ({cls.kind}) {summary(cls.__doc__)}\n{'':<12} parameters: {params or 'none'}")
        except Exception as exc:  # one broken third-party plugin must not hide the others
            print(f"{name:<12} cannot be loaded: {exc}")
    return 0
