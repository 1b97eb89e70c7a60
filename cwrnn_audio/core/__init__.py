"""Model structure: configuration, clock, state. No torch, no Numba."""

from .config import CWRNNConfig, exponential_periods, split_hidden
from .state import CWRNNState

__all__ = ["CWRNNConfig", "CWRNNState", "split_hidden", "exponential_periods"]
