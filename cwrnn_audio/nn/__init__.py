"""The torch path: the CW-RNN as a ``torch.nn.Module``."""

from .module import CWRNN

__all__ = ["CWRNN"]
