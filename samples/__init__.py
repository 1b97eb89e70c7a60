"""Sample clips made by the project itself (see ``make_samples.py`` and README.md here)."""

from importlib import resources


def path(name: str):
    """Filesystem path of a bundled sample, e.g. ``path("pluck_melody.wav")``."""
    return resources.files(__name__) / name
