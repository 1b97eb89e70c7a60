"""matplotlib, imported on first use, and atomic PNG writes."""

from __future__ import annotations

from pathlib import Path

from ..errors import ParameterError
from ..io.atomic import atomic_path


def pyplot():
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise ParameterError("plots need matplotlib: pip install 'cwrnn-audio[plot]'") from None
    return plt


def save_png(fig, path) -> Path:
    path = Path(path)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=120, format="png")
    return path
