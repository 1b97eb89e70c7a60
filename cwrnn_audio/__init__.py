"""cwrnn_audio: Clockwork RNNs for audio and music.

Heavy modules (torch, Numba, librosa, matplotlib) load on first use, so
``import cwrnn_audio`` stays cheap.
"""

from ._version import __version__
from .core.config import CWRNNConfig
from .core.state import CWRNNState
from .errors import ParameterError, ParameterTypeError

_LAZY = {
    "CWRNN": "cwrnn_audio.nn.module:CWRNN",
    "load": "cwrnn_audio.nn.module:load",
}

__all__ = [
    "CWRNN",
    "CWRNNConfig",
    "CWRNNState",
    "ParameterError",
    "ParameterTypeError",
    "load",
    "__version__",
]


def __getattr__(name):
    target = _LAZY.get(name)
    if target is None:
        raise AttributeError(f"module 'cwrnn_audio' has no attribute {name!r}")
    import importlib

    module, attr = target.split(":")
    value = getattr(importlib.import_module(module), attr)
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(_LAZY))
