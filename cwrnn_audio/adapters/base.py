"""What every audio codec (adapter) provides, and clock periods set in seconds."""

from __future__ import annotations

import math
from typing import ClassVar

from ..checks import valid_rate
from ..errors import ParameterError
from ..models.codec import Codec
from ..models.registry import codec_from_dict


class Adapter(Codec):
    """An audio codec: float32 ``(channels, frames)`` at ``sample_rate`` in, per channel an AR pair
    out (``inputs (C, T, I)``, ``targets (C, T, ...)``); ``decode`` turns targets back into audio."""

    domain = "audio"
    output_activation = "linear"
    folder_file = "adapter.json"
    options = ("sample_rate",)
    # The rates (Hz, inclusive) this codec can use, for its own rate and for the files it reads:
    # below 1 kHz no audio band is left; above 384 kHz (the highest rate converters offer) a
    # rate is a broken header or setting, and resampling to or from it takes unbounded memory.
    sample_rates: ClassVar[tuple] = (1000, 384_000)

    def __init__(self, *, sample_rate: int):
        self.sample_rate = self.check_rate(sample_rate)

    @classmethod
    def check_rate(cls, rate, *, name: str = "sample_rate") -> int:
        """``rate`` as an int Hz if this codec can use it, else ParameterError naming the range."""
        return valid_rate(rate, name=name, lo=cls.sample_rates[0], hi=cls.sample_rates[1])

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
