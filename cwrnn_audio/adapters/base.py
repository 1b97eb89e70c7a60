"""What every audio codec (adapter) provides, and clock periods set in seconds."""

from __future__ import annotations

import math

import numpy as np

from ..errors import ParameterError, ParameterTypeError
from ..models.codec import Codec
from ..models.registry import codec_from_dict


class Adapter(Codec):
    """An audio codec: float32 ``(channels, frames)`` at ``sample_rate`` in, per channel an AR pair
    out (``inputs (C, T, I)``, ``targets (C, T, ...)``); ``decode`` turns targets back into audio."""

    domain = "audio"
    output_activation = "linear"
    folder_file = "adapter.json"
    options = ("sample_rate",)

    def __init__(self, *, sample_rate: int):
        if isinstance(sample_rate, bool) or not isinstance(sample_rate, (int, np.integer)):
            raise ParameterTypeError(f"sample_rate must be an integer >= 1000 Hz; got {sample_rate!r}")
        if sample_rate < 1000:
            raise ParameterError(f"sample_rate must be an integer >= 1000 Hz; got {sample_rate!r}")
        self.sample_rate = int(sample_rate)

    @property
    def step_rate(self) -> float:
        """Model steps per second of audio."""
        return float(self.sample_rate)

    def steps(self, seconds: float) -> int:
        return max(1, int(round(seconds * self.step_rate)))

    def settings(self) -> dict:
        return {"sample_rate": self.sample_rate}

    def streams(self, audio) -> list:
        """One training stream per channel."""
        return list(zip(*self.encode(audio)))

    def playback_settings(self, streams) -> dict:
        """Settings learnt from the training streams that the model folder keeps (none by default)."""
        return {}


def adapter_from_dict(data: dict, *, source: str = "adapter") -> Adapter:
    """An audio codec from its JSON (``{"encoding": name, **settings}``)."""
    return codec_from_dict(data, source=source, domain="audio")


def periods_for_seconds(shortest: float, longest: float, num_modules: int, step_rate: float) -> list[int]:
    """Strictly increasing periods (in steps) spread geometrically from ``shortest`` to ``longest`` seconds.

    E.g. 1 ms .. 1 s over 8 modules at 16 kHz -> [16, 43, ..., 16000].
    """
    if not (0 < shortest <= longest):
        raise ParameterError(f"need 0 < shortest <= longest seconds; got {shortest!r}, {longest!r}")
    lo, hi = max(1.0, shortest * step_rate), max(1.0, longest * step_rate)
    out: list[int] = []
    for i in range(num_modules):
        p = lo * (hi / lo) ** (i / max(1, num_modules - 1))
        p = max(int(round(p)), (out[-1] + 1) if out else 1)
        out.append(p)
    if math.isclose(shortest * step_rate, 1.0) and out[0] != 1:
        out[0] = 1
    return out
