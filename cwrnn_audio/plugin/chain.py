"""A chain mixing project plugins with pedalboard's own effects.

pedalboard cannot host Python plugins, so the chain is ours: project plugins run through
prepare/process, pedalboard plugin objects are called block by block with ``reset=False`` so
their internal state (delay lines, filters) carries across blocks, as in one pedalboard pass.
"""

from __future__ import annotations

import numpy as np

from ..errors import ParameterError, ParameterTypeError
from .base import Plugin


def _is_pedalboard(obj) -> bool:
    # pedalboard's plugins are pybind11 classes from pedalboard_native (or pedalboard)
    return type(obj).__module__.split(".")[0] in ("pedalboard", "pedalboard_native") and callable(obj)


class Chain(Plugin):
    """Plugins in series: ``Chain([get_plugin("effect")(), pedalboard.Reverb()])``."""

    name = "chain"

    def __init__(self, plugins):
        super().__init__()
        plugins = list(plugins)
        for p in plugins:
            if not (isinstance(p, Plugin) or _is_pedalboard(p)):
                raise ParameterTypeError(
                    f"a chain holds project plugins or pedalboard plugins; got {type(p).__name__}"
                )
        self.plugins = plugins

    def _prepare(self, sample_rate, max_block_size, num_channels):
        self._fresh = True
        for p in self.plugins:
            if isinstance(p, Plugin):
                p.prepare(sample_rate, max_block_size, num_channels)
        # in series the delays add up (pedalboard's plugin objects report none to Python)
        self.latency_samples = sum(p.latency_samples for p in self.plugins if isinstance(p, Plugin))

    def _reset(self):
        self._fresh = True
        for p in self.plugins:
            if isinstance(p, Plugin):
                p.reset()

    def _process(self, audio):
        sr = self.prepared[0]
        for p in self.plugins:
            if isinstance(p, Plugin):
                audio = p.process(np.ascontiguousarray(audio, dtype=np.float32))
            else:  # pedalboard: the same (channels, frames) shape, state kept across blocks
                audio = p(audio, sr, buffer_size=audio.shape[1], reset=self._fresh)
        self._fresh = False
        return np.asarray(audio, np.float32)

    def _state_arrays(self):
        raise ParameterError("a chain's state cannot be saved: pedalboard plugins keep theirs internally")

    _load_state_arrays = _state_arrays
