"""The CW-RNN configuration: sizes, clock periods and output activation."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import Any, Sequence

from ..errors import ParameterError, ParameterTypeError

OUTPUT_ACTIVATIONS = ("linear", "tanh")
# the weights' names, in the model file, the torch module and the kernels' packing alike
TENSOR_NAMES = ("W_H", "W_I", "b_H", "W_O", "b_O")
# "none" (and None) computed exactly what "linear" does; files and code that say so still load
_LEGACY_ACTIVATIONS = {"none": "linear", None: "linear"}


def valid_activation(act) -> str:
    """``"linear"`` (logits, regression) or ``"tanh"``; the legacy ``"none"``/None mean linear."""
    act = _LEGACY_ACTIVATIONS.get(act, act) if isinstance(act, (str, type(None))) else act
    if not isinstance(act, str):
        raise ParameterTypeError(f"output_activation must be one of {OUTPUT_ACTIVATIONS}; got {act!r}")
    if act not in OUTPUT_ACTIVATIONS:
        raise ParameterError(f"output_activation must be one of {OUTPUT_ACTIVATIONS}; got {act!r}")
    return act


def _check_int(name: str, value: Any, *, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) and not (hasattr(value, "__index__")):
        raise ParameterTypeError(f"{name} must be an integer >= {minimum}; got {value!r}")
    value = int(value)
    if value < minimum:
        raise ParameterError(f"{name} must be an integer >= {minimum}; got {value!r}")
    return value


def split_hidden(hidden_size: int, num_modules: int) -> tuple[int, ...]:
    """Split ``hidden_size`` neurons over ``num_modules`` modules.

    The remainder goes to the faster modules (the first ones), as in the paper.
    """
    hidden_size = _check_int("hidden_size", hidden_size, minimum=1)
    num_modules = _check_int("num_modules", num_modules, minimum=1)
    if hidden_size < num_modules:
        raise ParameterError(
            f"hidden_size={hidden_size} cannot be split into num_modules={num_modules} "
            "modules of at least one neuron each"
        )
    base, extra = divmod(hidden_size, num_modules)
    return tuple(base + 1 if i < extra else base for i in range(num_modules))


# The kernels (Numba and CUDA) hold periods, clocks and phases in int64. A phase stays below its
# period, so advancing it by one cannot overflow for any period up to this limit.
MAX_PERIOD = 2**63 - 1
MAX_EXPONENTIAL_MODULES = MAX_PERIOD.bit_length()  # 63: the slowest period is then 2**62


def exponential_periods(num_modules: int) -> tuple[int, ...]:
    """The paper's default periods ``T_i = 2**i`` for ``i = 0 .. num_modules-1``."""
    return tuple(2**i for i in range(num_modules))


def _resolve_periods(periods: Any, num_modules: int) -> tuple[int, ...]:
    if isinstance(periods, str):
        if periods != "exponential":
            raise ParameterError(
                f"periods must be 'exponential' or an increasing list of positive integers; got {periods!r}"
            )
        if num_modules > MAX_EXPONENTIAL_MODULES:  # checked before 2**i is built: num_modules may be huge
            raise ParameterError(
                f"periods='exponential' with num_modules={num_modules} needs a period of "
                f"2**{num_modules - 1}, past the limit of 2**63 - 1 = {MAX_PERIOD} (the kernels count "
                f"steps in int64); use at most {MAX_EXPONENTIAL_MODULES} modules or explicit periods"
            )
        return exponential_periods(num_modules)
    try:
        values = list(periods)
    except TypeError:
        raise ParameterError(
            f"periods must be 'exponential' or an increasing list of positive integers; got {periods!r}"
        ) from None
    out = tuple(_check_int(f"periods[{i}]", p, minimum=1) for i, p in enumerate(values))
    for i, p in enumerate(out):
        if p > MAX_PERIOD:
            raise ParameterError(
                f"periods[{i}]={p} is past the limit of 2**63 - 1 = {MAX_PERIOD} (the kernels count steps in int64)"
            )
    if len(out) != num_modules:
        raise ParameterError(
            f"periods has {len(out)} entries but there are {num_modules} modules; got periods={list(out)!r}"
        )
    if any(b <= a for a, b in zip(out, out[1:])):
        raise ParameterError(f"periods must be strictly increasing (fastest module first); got {list(out)!r}")
    return out


@dataclass(frozen=True)
class CWRNNConfig:
    """Everything that defines a CW-RNN's structure.

    Give the hidden layer either as ``module_sizes``, as ``num_modules`` x
    ``module_size``, or as ``hidden_size`` split over ``num_modules`` (extra
    neurons to the faster modules). With none of them: 8 modules of 16.
    After construction ``module_sizes`` and ``periods`` are always resolved
    tuples, and the other size fields agree with them.
    """

    input_size: int = 1  # features per step; 0 for the paper's no-input generator
    output_size: int = 1  # output units
    num_modules: int | None = None  # g; default 8 when no size is given
    module_size: int | None = None  # neurons per module (all equal); default 16
    hidden_size: int | None = None  # n = total neurons, split over num_modules
    module_sizes: Sequence[int] | None = None  # explicit neurons per module, fastest first
    periods: str | Sequence[int] = "exponential"  # or strictly increasing positive ints
    output_activation: str = "linear"  # "linear" (also raw logits) or "tanh"
    init_std: float = 0.1  # paper: every weight ~ N(0, 0.1), initial state 0
    extra: dict = field(default_factory=dict, compare=False)  # free metadata kept in files

    def __post_init__(self) -> None:
        set_ = object.__setattr__
        set_(self, "input_size", _check_int("input_size", self.input_size, minimum=0))
        set_(self, "output_size", _check_int("output_size", self.output_size, minimum=1))
        set_(self, "module_sizes", self._resolve_sizes())
        g = len(self.module_sizes)
        set_(self, "num_modules", g)
        set_(self, "hidden_size", sum(self.module_sizes))
        same = len(set(self.module_sizes)) == 1
        set_(self, "module_size", self.module_sizes[0] if same else None)
        set_(self, "periods", _resolve_periods(self.periods, g))
        set_(self, "output_activation", valid_activation(self.output_activation))
        std = self.init_std
        if isinstance(std, bool) or not isinstance(std, (int, float)):
            raise ParameterTypeError(f"init_std must be a positive finite number; got {std!r}")
        if not (math.isfinite(std) and std > 0):
            raise ParameterError(f"init_std must be a positive finite number; got {std!r}")
        set_(self, "init_std", float(std))
        if not isinstance(self.extra, dict):
            raise ParameterTypeError(f"extra must be a dict; got {self.extra!r}")

    def _resolve_sizes(self) -> tuple[int, ...]:
        if self.module_sizes is not None:
            if isinstance(self.module_sizes, (str, bytes)):
                raise ParameterTypeError(
                    f"module_sizes must be a list of positive integers; got {self.module_sizes!r}"
                )
            try:
                raw = list(self.module_sizes)
            except TypeError:
                raise ParameterError(
                    f"module_sizes must be a list of positive integers; got {self.module_sizes!r}"
                ) from None
            if not raw:
                raise ParameterError("module_sizes must not be empty; got []")
            sizes = tuple(_check_int(f"module_sizes[{i}]", k, minimum=1) for i, k in enumerate(raw))
            self._agree("num_modules", self.num_modules, len(sizes), sizes)
            self._agree("hidden_size", self.hidden_size, sum(sizes), sizes)
            if self.module_size is not None and set(sizes) != {self.module_size}:
                raise ParameterError(
                    f"module_size={self.module_size!r} disagrees with module_sizes={list(sizes)!r}"
                )
            return sizes
        g = 8 if self.num_modules is None else _check_int("num_modules", self.num_modules, minimum=1)
        if self.hidden_size is not None:
            sizes = split_hidden(self.hidden_size, g)
            if self.module_size is not None and set(sizes) != {self.module_size}:
                raise ParameterError(
                    f"module_size={self.module_size!r} disagrees with hidden_size="
                    f"{self.hidden_size!r} over num_modules={g}"
                )
            return sizes
        k = 16 if self.module_size is None else _check_int("module_size", self.module_size, minimum=1)
        return (k,) * g

    @staticmethod
    def _agree(name: str, given: Any, actual: int, sizes: tuple[int, ...]) -> None:
        if given is not None and given != actual:
            raise ParameterError(f"{name}={given!r} disagrees with module_sizes={list(sizes)!r}")

    # -- derived structure ------------------------------------------------------
    @property
    def offsets(self) -> tuple[int, ...]:
        """Row offset of each module in the hidden vector, plus ``hidden_size`` at the end."""
        out = [0]
        for k in self.module_sizes:
            out.append(out[-1] + k)
        return tuple(out)

    @property
    def num_parameters(self) -> int:
        """Trainable, structurally non-zero weights and biases (periods not included)."""
        n, off = self.hidden_size, self.offsets
        recurrent = sum(k * (n - off[i]) for i, k in enumerate(self.module_sizes))
        return recurrent + n * self.input_size + n + self.output_size * n + self.output_size

    @property
    def num_periods(self) -> int:
        """The clock periods, which the paper counts as parameters too."""
        return self.num_modules

    # -- serialisation ----------------------------------------------------------
    def to_dict(self) -> dict:
        """The resolved configuration as plain JSON-able values."""
        return {
            "input_size": self.input_size,
            "output_size": self.output_size,
            "module_sizes": list(self.module_sizes),
            "periods": list(self.periods),
            "output_activation": self.output_activation,
            "init_std": self.init_std,
            "extra": dict(self.extra),
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True)

    @classmethod
    def from_dict(cls, data: Any, *, source: str = "config") -> "CWRNNConfig":
        """Build from :meth:`to_dict` output; unknown or missing keys are refused."""
        if not isinstance(data, dict):
            raise ParameterTypeError(f"{source}: expected a JSON object; got {type(data).__name__}")
        required = ("input_size", "output_size", "module_sizes", "periods", "output_activation")
        missing = [k for k in required if k not in data]
        if missing:
            raise ParameterError(f"{source}: missing key(s) {missing!r}")
        allowed = set(required) | {"init_std", "extra"}
        unknown = sorted(set(data) - allowed)
        if unknown:
            raise ParameterError(f"{source}: unknown key(s) {unknown!r}")
        try:
            return cls(**data)
        except ParameterError as exc:
            raise ParameterError(f"{source}: {exc}") from None

    def __repr__(self) -> str:
        return (
            f"CWRNNConfig(input_size={self.input_size}, output_size={self.output_size}, "
            f"module_sizes={list(self.module_sizes)}, periods={list(self.periods)}, "
            f"output_activation={self.output_activation!r})"
        )
