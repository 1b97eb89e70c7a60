"""Plugin base class: prepare / process / reset, named parameters, state as bytes (no pickle)."""

from __future__ import annotations

import abc
import hashlib
import itertools
import os
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..checks import all_finite, valid_int
from ..errors import ParameterError, ParameterTypeError
from .events import EVENT_TYPES, MidiEvent, valid_events  # noqa: F401 - the first two: importable here, as before
from .state import _metadata, checked_state, dump_state  # noqa: F401 - _metadata: importable here, as before

#: the plugin kinds: ``effect`` (audio -> audio), ``instrument`` (notes -> audio),
#: ``midi_effect`` (notes -> notes, audio passes through)
KINDS = ("effect", "instrument", "midi_effect")
#: a host's block and rate where the caller names none: pedalboard's ``buffer_size`` default, and
#: the rate of video and most DAW sessions (instruments render at it; effects at their input's)
HOST_BLOCK = 512
HOST_RATE = 48000


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
    """Subclasses set ``name``, ``kind`` and ``parameters`` and implement the five abstract hooks
    below (note-taking plugins also :meth:`_process_midi`).

    Audio is float32 ``(channels, frames)``; ``process`` accepts any block up to the prepared
    maximum and returns a view of a buffer the plugin owns (valid until the next call).

    The contract every plugin keeps:

    - **Non-finite input samples are silence.** ``process`` never raises for NaN or infinity in a
      block (a host's audio callback must not get exceptions): such samples reach the model, and
      the dry path, as 0, so the state never becomes NaN and the next clean block sounds as if the
      bad samples had been silent. A wrong dtype or shape is still refused.
    - **Malformed events are refused.** ``process_midi`` takes ``(offset, type, note, velocity)``
      events (:class:`MidiEvent`): integer offsets inside the block, notes and velocities 0..127,
      types ``note_on``/``note_off``, and ``num_frames`` in 0..``max_block_size``. Anything else
      raises :class:`ParameterError` naming the event, before the plugin's state changes.
    - **States are checked whole before anything changes.** ``set_state`` takes only a state of
      the same plugin, prepared the same way, with the same model (a fingerprint of its weights is
      stored in the state), every array of the right shape and dtype and finite, every parameter
      in range; otherwise :class:`ParameterError` names what is wrong and the instance is as before.
      ``get_state`` needs ``prepare`` first (the running state exists only then).
    - **One instance per thread.** As in JUCE and pedalboard, an instance is not thread-safe: one
      thread at a time may call it (a host's audio thread, say). Entering ``prepare``, ``process``,
      ``process_midi``, ``reset``, ``get_state``, ``set_state`` or the whole-buffer call while
      another thread is inside one of them raises :class:`ParameterError` (checked with a
      non-blocking lock, so it never waits).
    """

    name = ""
    parameters: tuple = ()
    latency_samples = 0
    #: what the plugin is, as a host asks (pedalboard's ``is_effect`` / ``is_instrument``, JUCE's
    #: MIDI effect): one of :data:`KINDS`
    kind = "effect"
    #: sha256 of the model's weights file ("" for a plugin without a model): states carry it
    model_fingerprint = ""
    #: state arrays whose first dimension may differ from the running state's (lists of notes)
    variable_rows: tuple = ()

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
        self._lock = threading.RLock()  # re-entrant: __call__ holds it across its process calls
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
        """``audio`` float32 C-contiguous finite (channels, frames); return a view of a buffer of its own."""

    @abc.abstractmethod
    def _reset(self) -> None:
        """Back to the state right after ``_prepare``."""

    @abc.abstractmethod
    def _state_arrays(self) -> dict:
        """The running state as NumPy arrays (saved with safetensors)."""

    @abc.abstractmethod
    def _load_state_arrays(self, arrays: dict) -> None:
        """Restore :meth:`_state_arrays`; the stream then continues exactly."""

    def _process_midi(self, events: list, num_frames: int):
        """Validated, sorted :class:`MidiEvent` s inside a block of ``num_frames`` (note-taking plugins)."""
        raise ParameterError(f"{self.name}: not a note-stream plugin; use process(audio)")

    def _check_state_arrays(self, arrays: dict) -> None:
        """Ranges beyond shape, dtype and finiteness (e.g. notes 0..127); raise ParameterError."""
        return None  # shape, dtype and finiteness are all a plugin without ranges needs

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

    # -- one thread at a time ---------------------------------------------------------
    def _enter(self, what: str) -> None:
        if not self._lock.acquire(blocking=False):
            raise ParameterError(
                f"{self.name}: {what}() called while the instance is in use by another thread; a "
                f"plugin instance is not thread-safe: use one instance per thread"
            )

    def _leave(self) -> None:
        self._lock.release()

    def _check_prepared(self) -> None:
        if self.prepared is None:
            raise ParameterError(
                f"{self.name}: call prepare(sample_rate, max_block_size, num_channels) first"
            )

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
        self._enter("prepare")
        try:
            self.latency_samples = 0
            self._clean = np.zeros((channels, block), np.float32)  # non-finite input made silent
            self.prepared = (rate, block, channels)
            try:
                self._prepare(rate, block, channels)
            except BaseException:
                self.prepared = None  # half-allocated: process must not run on it
                raise
        finally:
            self._leave()

    def process(self, audio: np.ndarray) -> np.ndarray:
        self._enter("process")
        try:
            self._check_prepared()
            _, max_block, channels = self.prepared
            if not isinstance(audio, np.ndarray) or audio.dtype != np.float32:
                raise ParameterTypeError(self._block_message(audio))
            if audio.ndim != 2 or audio.shape[0] != channels or audio.shape[1] > max_block:
                raise ParameterError(self._block_message(audio))
            if not all_finite(audio):  # the contract: silence, never an exception in the callback
                clean = self._clean[:, : audio.shape[1]]
                np.copyto(clean, audio)
                clean[~np.isfinite(clean)] = 0.0
                audio = clean
            return self._process(np.ascontiguousarray(audio))  # a strided view would recompile the kernels
        finally:
            self._leave()

    def _block_message(self, audio) -> str:
        # formatted only for a refused block: process runs in the audio callback
        _, max_block, channels = self.prepared
        got = f"{getattr(audio, 'dtype', type(audio).__name__)} {getattr(audio, 'shape', '')}"
        return f"{self.name}: process takes float32 ({channels}, frames <= {max_block}); got {got}"

    def process_midi(self, events, num_frames: int):
        """Render a block of ``num_frames`` with ``(offset, type, note, velocity)`` events in it.

        An instrument returns audio ``(channels, num_frames)``, a MIDI effect the events it plays
        in the block; see the class docstring for what is refused.
        """
        if self.is_effect:
            return self._process_midi(events, num_frames)  # refuses: not a note-stream plugin
        self._enter("process_midi")
        try:
            self._check_prepared()
            max_block = self.prepared[1]
            n = valid_int(num_frames, name=f"{self.name}: num_frames")
            if n > max_block:
                raise ParameterError(
                    f"{self.name}: num_frames must be in 0..{max_block} (max_block_size); got {num_frames!r}"
                )
            return self._process_midi(valid_events(events, n, name=self.name), n)
        finally:
            self._leave()

    def reset(self) -> None:
        """Back to the state right after ``prepare``."""
        self._enter("reset")
        try:
            if self.prepared is not None:
                self._reset()
        finally:
            self._leave()

    # -- state -----------------------------------------------------------------------
    def get_state(self) -> bytes:
        """Parameters and the running state (e.g. hidden values and clock) as safetensors bytes."""
        self._enter("get_state")
        try:
            self._check_prepared()
            return dump_state(self)
        finally:
            self._leave()

    def set_state(self, data: bytes) -> None:
        """Restore a state from :meth:`get_state`: the continuation is then exactly the same.

        Everything is checked before anything changes (see the class docstring).
        """
        self._enter("set_state")
        try:
            values, arrays = checked_state(self, data)
            before = {k: np.array(v, copy=True) for k, v in self._state_arrays().items()}
            try:
                self._load_state_arrays(arrays)
            except Exception:
                self._load_state_arrays(before)
                raise
            self._values = values
        finally:
            self._leave()

    # -- pedalboard-style whole-buffer call -----------------------------------------
    def __call__(
        self, audio, sample_rate: float, *, buffer_size: int = HOST_BLOCK, reset: bool = True
    ) -> np.ndarray:
        """Process a whole buffer ``(channels, frames)`` or ``(frames,)`` in blocks, as a pedalboard
        plugin is called: float32 or float64 (converted), as pedalboard takes.

        With ``reset=True`` the buffer is one whole piece: the plugin's latency is compensated
        (the output lines up with the input, same length). With ``reset=False`` the call
        continues a stream, so the output is delayed by ``latency_samples``, as in a host.
        """
        from ..runtime.resample import valid_rate

        rate = valid_rate(sample_rate, name=f"{self.name}: sample_rate")
        block = valid_int(buffer_size, name=f"{self.name}: buffer_size", minimum=1)
        try:
            audio = np.asarray(audio)
        except Exception as exc:  # ragged lists and the like
            raise ParameterTypeError(f"{self.name}: audio must be an array ({exc})") from None
        if audio.dtype not in (np.float32, np.float64):
            raise ParameterTypeError(
                f"{self.name}: audio must be float32 or float64; got dtype {audio.dtype}"
            )
        if audio.ndim not in (1, 2):
            raise ParameterError(
                f"{self.name}: audio must be (channels, frames) or (frames,); got shape {audio.shape}"
            )
        a = np.ascontiguousarray(audio, dtype=np.float32)
        if a.ndim == 1:
            a = a[None]
        self._enter("__call__")  # held across the blocks: another thread's reset cannot cut in
        try:
            if self.prepared != (rate, block, a.shape[0]):
                self.prepare(rate, block, a.shape[0])
            elif reset:
                self.reset()
            blocks = (np.ascontiguousarray(a[:, i : i + block]) for i in range(0, a.shape[1], block))
            out, pos = np.empty_like(a), 0
            for y in aligned(self, blocks) if reset else map(self.process, blocks):
                out[:, pos : pos + y.shape[1]] = y
                pos += y.shape[1]
            return out
        finally:
            self._leave()

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


def model_folder(model, default: str, *, name: str) -> Path:
    """The model folder ``model`` names: a path that exists, else a bundled model by its name
    (``"flute_harmonic"`` or ``"samples/models/flute_harmonic"``, wherever the process runs);
    ``None``: the bundled ``default``."""
    import cwrnn_audio_samples

    bundled = Path(str(cwrnn_audio_samples.path("models")))
    if model is None:
        return bundled / default
    if not isinstance(model, (str, os.PathLike)):
        raise ParameterTypeError(f"{name}: model must be a model folder path; got {model!r}")
    p = Path(os.fspath(model))
    if p.exists() or p.is_absolute():
        return p
    if p.parts[:-1] in ((), ("models",), ("samples", "models")) and (bundled / p.name).is_dir():
        return bundled / p.name
    choices = sorted(d.name for d in bundled.iterdir() if d.is_dir())
    raise ParameterError(
        f"{name}: model folder {os.fspath(model)!r} does not exist (relative to {Path.cwd()}); "
        f"bundled models, usable by name: {choices}"
    )


def load_plugin_model(model, default: str, *, name: str, domain: str, torch: bool = False):
    """``(folder, ModelFolder, fingerprint)``: the model a plugin plays, and the sha256 of its
    weights file, which the plugin's states carry so that another model's state is refused.

    A CW-RNN loads without torch (a :class:`~cwrnn_audio.runtime.model.RuntimeModel`), so a host
    that plays plugins need not import it; ``torch=True`` loads the torch module instead."""
    from ..models.folder import WEIGHTS, load_model_dir

    folder = model_folder(model, default, name=name)
    loaded = load_model_dir(folder, domain=domain, torch=torch)
    return folder, loaded, hashlib.sha256((folder / WEIGHTS).read_bytes()).hexdigest()
