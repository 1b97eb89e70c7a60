"""Optimiser settings shared by both engines (torch.optim's formulas)."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np

from ..errors import ParameterError, ParameterTypeError


@dataclass(frozen=True)
class OptimizerConfig:
    name: str = "sgd"  # "sgd" (with momentum, Nesterov by default, as the paper) or "adam"
    lr: float = 3e-4  # the paper's rate for SRN and CW-RNN
    momentum: float = 0.95  # sgd only; the paper's
    nesterov: bool = True  # sgd only
    betas: tuple = (0.9, 0.999)  # adam only
    eps: float = 1e-8  # adam only
    clip: float | None = None  # max gradient norm per network; None: no clipping

    def __post_init__(self):
        if self.name not in ("sgd", "adam"):
            raise ParameterError(f"optimizer must be 'sgd' or 'adam'; got {self.name!r}")
        for key in ("lr", "eps"):
            v = getattr(self, key)
            if isinstance(v, bool) or not isinstance(v, (int, float)):
                raise ParameterTypeError(f"{key} must be a positive number; got {v!r}")
            if not (math.isfinite(v) and v > 0):
                raise ParameterError(f"{key} must be a positive number; got {v!r}")
        if not (0 <= self.momentum < 1):
            raise ParameterError(f"momentum must be in [0, 1); got {self.momentum!r}")
        if self.nesterov and self.momentum == 0 and self.name == "sgd":
            raise ParameterError("nesterov=True needs momentum > 0; got momentum=0")
        b1, b2 = self.betas
        if not (0 <= b1 < 1 and 0 <= b2 < 1):
            raise ParameterError(f"betas must be in [0, 1); got {self.betas!r}")
        if self.clip is not None and not (self.clip > 0):
            raise ParameterError(f"clip must be a positive number or None; got {self.clip!r}")
        object.__setattr__(self, "betas", (float(b1), float(b2)))

    def kernel_args(self):
        """(kind, hyper-parameter vector) for the Numba kernels."""
        from ..kernels.optim import ADAM, SGD

        hp = np.array(
            [self.lr, self.momentum, float(self.nesterov), *self.betas, self.eps, self.clip or 0.0],
            np.float64,
        )
        return (SGD if self.name == "sgd" else ADAM), hp

    def torch_optimizer(self, params):
        import torch

        if self.name == "sgd":
            return torch.optim.SGD(params, lr=self.lr, momentum=self.momentum, nesterov=self.nesterov)
        return torch.optim.Adam(params, lr=self.lr, betas=self.betas, eps=self.eps)

    def to_dict(self) -> dict:
        d = asdict(self)
        d["betas"] = list(self.betas)
        return d


@dataclass(frozen=True)
class NetworkOptimizers:
    """One optimiser setting per network of a population (a search trains many settings at once).

    All settings share the optimiser kind (``name``): the kernels branch on it once per
    population, while learning rate, clip and the rest are read per network. The Numba engine
    takes it; the torch engine steps one ``torch.optim`` optimiser per population and refuses it.
    """

    settings: tuple  # OptimizerConfig per network, in population order

    def __post_init__(self):
        settings = tuple(self.settings)
        if not all(isinstance(s, OptimizerConfig) for s in settings):
            raise ParameterTypeError(
                f"settings must be a non-empty list of OptimizerConfig; got {self.settings!r}"
            )
        if not settings:
            raise ParameterError(
                f"settings must be a non-empty list of OptimizerConfig; got {self.settings!r}"
            )
        names = sorted({s.name for s in settings})
        if len(names) != 1:
            raise ParameterError(f"the networks of one population must share the optimizer; got {names}")
        object.__setattr__(self, "settings", settings)

    @property
    def name(self) -> str:
        return self.settings[0].name

    def kernel_args(self):
        """(kind, hyper-parameters ``(P, 7)``) for the Numba kernels."""
        kind = self.settings[0].kernel_args()[0]
        return kind, np.stack([s.kernel_args()[1] for s in self.settings])

    def torch_optimizer(self, params):
        raise ParameterError(
            "the torch engine takes one optimizer setting per population; train per-network "
            "settings with the numba backend"
        )
