"""What every exported file answers to, as nn~ 1.6 and the project's C++ host ask it.

A subclass sets ``rates`` (the host rates it holds tables for), ``latencies`` (host frames per
rate), ``sample_rate``, ``attributes`` (its parameters, in order) and ``ranges`` (each number's
``[minimum, maximum]``), and implements ``_fresh(batch)`` (new voices at the current rate) and
``_batch()``; it adds ``forward``, its ``<method>_params`` buffer and a ``get_``/``set_`` pair per
attribute (TorchScript has no ``getattr`` by name), the setters checking through :meth:`_in_range`.
"""

from typing import Dict, List

import torch

#: host rates every exported file runs at (nn~ passes the host's); their tables are made at export
HOST_RATES = (22050, 32000, 44100, 48000, 88200, 96000, 176400, 192000)


class NnTilde(torch.nn.Module):
    rates: List[int]
    latencies: Dict[int, int]
    attributes: List[str]
    ranges: Dict[str, List[float]]

    def _fresh(self, batch: int) -> None:
        raise NotImplementedError

    def _batch(self) -> int:
        raise NotImplementedError

    def _in_range(self, name: str, value: float) -> bool:
        return self.ranges[name][0] <= value <= self.ranges[name][1]

    @torch.jit.export
    def get_methods(self) -> List[str]:
        return ["forward"]

    @torch.jit.export
    def get_attributes(self) -> List[str]:
        return self.attributes

    @torch.jit.export
    def get_sample_rate(self) -> int:
        return self.sample_rate

    @torch.jit.export
    def get_sample_rates(self) -> List[int]:
        """The host rates this file runs at; :meth:`set_sample_rate` refuses any other."""
        return self.rates

    @torch.jit.export
    def set_sample_rate(self, rate: int) -> int:
        """0, and fresh voices at ``rate``; -1 (nothing changed) for a rate not in :meth:`get_sample_rates`."""
        if rate not in self.rates:
            return -1
        self.sample_rate = rate
        self._fresh(self._batch())
        return 0

    @torch.jit.export
    def get_latency(self) -> int:
        """Host frames the output lags what it plays at the current rate (its resamplers' delay)."""
        return self.latencies[self.sample_rate]

    @torch.jit.export
    def reset(self) -> int:
        """Back to the state the file starts in (at the current rate)."""
        self._fresh(self._batch())
        return 0
