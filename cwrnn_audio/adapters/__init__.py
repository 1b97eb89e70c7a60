"""Adapters: audio <-> sequences for the CW-RNN, each with its own step rate.

``encode(audio)`` takes float32 ``(channels, frames)`` at the adapter's
sample rate and returns per channel an AR pair: ``inputs`` (the previous
step's value) and ``targets`` (this step's value or class). ``decode``
turns targets (or sampled outputs) back into audio. Each is a
:class:`~cwrnn_audio.models.codec.Codec`, registered in :mod:`cwrnn_audio.models.registry`.
"""

from .base import Adapter, adapter_from_dict, periods_for_seconds
from .mel import MelAdapter
from .mulaw import MuLawAdapter
from .raw import RawAdapter

__all__ = [
    "Adapter",
    "MelAdapter",
    "MuLawAdapter",
    "RawAdapter",
    "adapter_from_dict",
    "periods_for_seconds",
]
