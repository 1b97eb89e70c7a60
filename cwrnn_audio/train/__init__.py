"""Training: BPTT on either engine, optimisers, populations, checkpoints."""

from .optimizer import OptimizerConfig
from .trainer import fit

__all__ = ["OptimizerConfig", "fit"]
