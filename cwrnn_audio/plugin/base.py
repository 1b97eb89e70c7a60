"""Plugin base class: prepare / process / reset, named parameters, state as bytes (no pickle)."""

from __future__ import annotations

import abc
import itertools
import json
from dataclasses import dataclass

import numpy as np

from ..checks import valid_int
from ..errors import ParameterError, ParameterTypeError

#: the plugin kinds: ``effect`` (audio -> audio), ``instrument`` (notes -> audio),
#: ``midi_effect`` (notes -> notes, audio passes through)
KINDS = ("effect", "instrument", "midi_effect")


@dataclass(frozen=True)
class Parameter:
    name: str
    minimum: float
    maximum: float
    default: float
    unit: str = ""

    def check(self, value) -> float:
        if (
            isinstance(value, bool)
            or not isinstance(value, (int, float, np.floating))
            or not (self.minimum <= value <= self.maximum)
        ):
            raise ParameterError(
                f"parameter {self.name!r} must be in [{self.minimum}, {self.maximum}]; got {value!r}"
            )
        return float(value)


class Plugin(abc.ABC):
    """Subclasses set ``name`` and ``parameters`` and implement the five abstract hooks below.

    Audio is float32 ``(channels, frames)``; ``process`` accepts any block up to the prepared
    maximum and returns a view of a buffer the plugin owns (valid until the next call).
    """

    name = ""
    parameters: tuple = ()
    latency_samples = 0
    #: what the plugin is, as a host asks (pedalboard's ``is_effect`` / ``is_instrument``, JUCE's
    #: MIDI effect): one of :data:`KINDS`
    kind = "effect"

    @property
    def is_effect(self) -> bool:
        """Audio in, audio out (:meth:`process`)."""
        return self.kind == "effect"

    @property
    def is_instrument(self) -> bool:
        """Notes in (:meth:`process_midi`), audio out."""
        return self.kind == "instrument"

    @property
    def is_midi_effect(self) -> bool:
        """Notes in, notes out (:meth:`process_midi` returns events); audio passes through."""
        return self.kind == "midi_effect"

    def __init__(self, **values):
        self._values = {p.name: p.default for p in self.parameters}
        for k, v in values.items():
            self[k] = v
        self.prepared = None  # (sample_rate, max_block_size, num_channels)

    # -- hooks: what a plugin implements ---------------------------------------------
    @abc.abstractmethod
    def _prepare(self, sample_rate: int, max_block_size: int, num_channels: int) -> None:
        """Allocate buffers, set ``latency_samples``, compile: nothing may compile in ``_process``."""

    @abc.abstractmethod
    def _process(self, audio: np.ndarray) -> np.ndarray:
        """``audio`` float32 C-contiguous (channels, frames); return a view of a buffer of its own."""

    @abc.abstractmethod
    def _reset(self) -> None:
        """Back to the state right after ``_prepare``."""

    @abc.abstractmethod
    def _state_arrays(self) -> dict:
        """The running state as NumPy arrays (saved with safetensors)."""

    @abc.abstractmethod
    def _load_state_arrays(self, arrays: dict) -> None:
        """Restore :meth:`_state_arrays`; the stream then continues exactly."""

    # -- parameters ----------------------------------------------------------------
    def _param(self, name) -> Parameter:
        for p in self.parameters:
            if p.name == name:
                return p
        raise ParameterError(
            f"{self.name}: no parameter {name!r}; it has {[p.name for p in self.parameters]}"
        )

    def __getitem__(self, name):
        self._param(name)
        return self._values[name]

    def __setitem__(self, name, value):
        self._values[name] = self._param(name).check(value)

    # -- life cycle ----------------------------------------------------------------
    def prepare(self, sample_rate: float, max_block_size: int, num_channels: int) -> None:
        """Allocate and compile everything ``process`` needs; call again to change the format.

        ``sample_rate`` is any whole number of Hz from 22050 to 192000 (hosts' floats included);
        a plugin whose model runs at another rate resamples inside and reports the delay in
        ``latency_samples``.
        """
        from ..runtime.resample import valid_rate

        rate = valid_rate(sample_rate, name=f"{self.name}: sample_rate")
        block = valid_int(max_block_size, name=f"{self.name}: max_block_size", minimum=1)
        channels = valid_int(num_channels, name=f"{self.name}: num_channels", minimum=1)
        self.latency_samples = 0
        self.prepared = (rate, block, channels)
        self._prepare(*self.prepared)

    def process(self, audio: np.ndarray) -> np.ndarray:
        if self.prepared is None:
            raise ParameterError(
                f"{self.name}: call prepare(sample_rate, max_block_size, num_channels) first"
            )
        _, max_block, channels = self.prepared
        got = f"{getattr(audio, 'dtype', type(audio).__name__)} {getattr(audio, 'shape', '')}"
        want = f"{self.name}: process takes float32 ({channels}, frames <= {max_block}); got {got}"
        if not isinstance(audio, np.ndarray) or audio.dtype != np.float32:
            raise ParameterTypeError(want)
        if audio.ndim != 2 or audio.shape[0] != channels or audio.shape[1] > max_block:
            raise ParameterError(want)
        return self._process(np.ascontiguousarray(audio))  # a strided view would recompile the kernels

    def process_midi(self, events, num_frames: int):
        """Note-stream plugins take ``(offset, type, note, velocity)`` events inside a block here."""
        raise ParameterError(f"{self.name}: not a note-stream plugin; use process(audio)")

    def reset(self) -> None:
        """Back to the state right after ``prepare``."""
        if self.prepared is not None:
            self._reset()

    # -- state -----------------------------------------------------------------------
    def get_state(self) -> bytes:
        """Parameters and the running state (e.g. hidden values and clock) as safetensors bytes."""
        from safetensors.numpy import save

        arrays = {k: np.ascontiguousarray(v) for k, v in self._state_arrays().items()}
        meta = {
            "plugin": self.name,
            "parameters": json.dumps(self._values),
            "prepared": json.dumps(self.prepared),
        }
        return save(arrays, metadata=meta)

    def set_state(self, data: bytes) -> None:
        """Restore a state from :meth:`get_state`: the continuation is then exactly the same."""
        from safetensors.numpy import load

        try:
            arrays = load(bytes(data))
            meta = _metadata(bytes(data))
        except Exception as exc:
            raise ParameterError(f"{self.name}: not a plugin state ({exc})") from None
        if meta.get("plugin") != self.name:
            raise ParameterError(f"{self.name}: the state belongs to plugin {meta.get('plugin')!r}")
        prepared = tuple(json.loads(meta["prepared"])) if json.loads(meta["prepared"]) else None
        if prepared != self.prepared:
            raise ParameterError(
                f"{self.name}: the state was taken prepared as {prepared}; this one is {self.prepared}"
            )
        for k, v in json.loads(meta["parameters"]).items():
            self[k] = v
        self._load_state_arrays(arrays)

    # -- pedalboard-style whole-buffer call -----------------------------------------
    def __call__(
        self, audio, sample_rate: float, *, buffer_size: int = 512, reset: bool = True
    ) -> np.ndarray:
        """Process a whole buffer ``(channels, frames)`` in blocks, as a pedalboard plugin is called.

        With ``reset=True`` the buffer is one whole piece: the plugin's latency is compensated
        (the output lines up with the input, same length). With ``reset=False`` the call
        continues a stream, so the output is delayed by ``latency_samples``, as in a host.
        """
        a = np.ascontiguousarray(audio, dtype=np.float32)
        if a.ndim == 1:
            a = a[None]
        if self.prepared != (sample_rate, buffer_size, a.shape[0]):
            self.prepare(sample_rate, buffer_size, a.shape[0])
        elif reset:
            self.reset()
        blocks = (np.ascontiguousarray(a[:, i : i + buffer_size]) for i in range(0, a.shape[1], buffer_size))
        out, pos = np.empty_like(a), 0
        for y in aligned(self, blocks) if reset else map(self.process, blocks):
            out[:, pos : pos + y.shape[1]] = y
            pos += y.shape[1]
        return out

    def describe(self) -> str:
        ps = ", ".join(
            f"{p.name} [{p.minimum:g}..{p.maximum:g}{p.unit}] = {self._values[p.name]:g}"
            for p in self.parameters
        )
        return f"{self.name}: {ps or 'no parameters'}; latency {self.latency_samples} samples"

    def __repr__(self) -> str:
        return f"{type(self).__name__}({', '.join(f'{k}={v:g}' for k, v in self._values.items())})"


def aligned(plugin: Plugin, blocks):
    """Yield ``plugin``'s output for a whole piece, lined up with its input blocks.

    The first ``latency_samples`` output frames (the delay) are dropped and the end is flushed
    with that many frames of silence, so the frames yielded add up to the frames given.
    """
    skip = owed = plugin.latency_samples
    _, max_block, channels = plugin.prepared
    flush = (np.zeros((channels, min(max_block, owed - i)), np.float32) for i in range(0, owed, max_block))
    for block in itertools.chain(blocks, flush):
        y = plugin.process(block)
        drop = min(skip, y.shape[1])
        skip -= drop
        if drop < y.shape[1]:
            yield y[:, drop:]


def _metadata(data: bytes) -> dict:
    n = int.from_bytes(data[:8], "little")
    return json.loads(data[8 : 8 + n]).get("__metadata__", {})
