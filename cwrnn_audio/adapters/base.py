"""What every adapter provides, and clock periods set in seconds."""

from __future__ import annotations

import math

import numpy as np

from ..errors import ParameterError


class Adapter:
    """Base class. Subclasses set ``name`` and implement the encode/decode pair."""

    name = ""
    output_activation = "linear"

    def __init__(self, *, sample_rate: int):
        if (
            isinstance(sample_rate, bool)
            or not isinstance(sample_rate, (int, np.integer))
            or sample_rate < 1000
        ):
            raise ParameterError(f"sample_rate must be an integer >= 1000 Hz; got {sample_rate!r}")
        self.sample_rate = int(sample_rate)

    @property
    def step_rate(self) -> float:
        """Model steps per second of audio."""
        return float(self.sample_rate)

    def steps(self, seconds: float) -> int:
        return max(1, int(round(seconds * self.step_rate)))

    # encode(audio (C, F)) -> (inputs (C, T, I), targets (C, T, ...)); decode(values (C, T, O)) -> audio (C, F)
    def settings(self) -> dict:
        return {"sample_rate": self.sample_rate}

    def to_dict(self) -> dict:
        return {"encoding": self.name, **self.settings()}

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.settings().items())
        return f"{type(self).__name__}({args})"


def adapter_from_dict(data: dict, *, source: str = "adapter") -> Adapter:
    from . import ENCODINGS

    if not isinstance(data, dict) or data.get("encoding") not in ENCODINGS:
        raise ParameterError(f"{source}: 'encoding' must be one of {sorted(ENCODINGS)}; got {data!r}")
    kw = {k: v for k, v in data.items() if k != "encoding"}
    try:
        return ENCODINGS[data["encoding"]](**kw)
    except TypeError as exc:
        raise ParameterError(f"{source}: bad adapter settings ({exc})") from None


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
