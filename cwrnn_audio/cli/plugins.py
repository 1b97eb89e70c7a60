"""List the installed plugins (built-in and third-party) with their parameters."""

from __future__ import annotations

HELP = "list installed plugins and their parameters"


def add_arguments(p) -> None:
    pass


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
            doc = (cls.__doc__ or "").strip().splitlines()[0] if cls.__doc__ else ""
            print(f"{name:<12} {doc}\n{'':<12} parameters: {params or 'none'}")
        except Exception as exc:  # one broken third-party plugin must not hide the others
            print(f"{name:<12} cannot be loaded: {exc}")
    return 0
