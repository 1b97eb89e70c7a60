"""The one codec protocol: what a model reads and predicts, how it samples and what it feeds back.

Every encoding (audio: raw, mulaw, mel; MIDI: roll, events, melody) is a :class:`Codec`, so
training and generation call methods instead of branching on names. Three families fix the
targets, the loss and the sampling: :class:`ClassCodec` (class indices, logits, softmax),
:class:`FrameCodec` (real-valued frames, regression) and :class:`BernoulliCodec` (multi-hot
frames, logits, independent coins).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import ClassVar

import numpy as np

from ..errors import ParameterError


class Codec(ABC):
    """``name`` is the registry key (written as ``"encoding"``); ``loss`` the sequence trainer's
    loss for the targets ("ce", "mse" or "bce"); ``domain`` "audio" or "midi"; ``options`` the
    constructor keywords a training config may set; ``playback`` settings kept beside the codec
    in a model folder (with their defaults); ``folder_file`` the codec's JSON in a model folder.
    """

    name: ClassVar[str] = ""
    domain: ClassVar[str] = ""
    loss: ClassVar[str] = "mse"
    output_activation: ClassVar[str] = "linear"
    options: ClassVar[tuple] = ()
    playback: ClassVar[dict] = {}
    folder_file: ClassVar[str] = "codec.json"

    @property
    @abstractmethod
    def input_size(self) -> int: ...

    @property
    @abstractmethod
    def output_size(self) -> int: ...

    @abstractmethod
    def encode(self, data):
        """data -> (inputs, targets): inputs[t] is what the model reads before predicting targets[t]."""

    @abstractmethod
    def decode(self, targets):
        """Targets (as :meth:`encode` gives, or sampled) -> data."""

    @abstractmethod
    def sample(self, output, rng, *, temperature: float = 1.0, top_k: int = 0, noise: float = 0.0):
        """One step's model output -> one sampled target."""

    @abstractmethod
    def most_likely(self, outputs):
        """Model outputs -> the most likely targets (no sampling)."""

    @abstractmethod
    def settings(self) -> dict: ...

    def loss_function(self):
        """The sequence trainer's loss: ``loss`` (a built-in kind), or a callable
        ``(outputs, targets, inputs) -> scalar tensor`` for a codec whose loss needs more."""
        return self.loss

    def streams(self, data) -> list:
        """Training streams ``[(inputs (T, I), targets)]`` of one item (a clip, a score)."""
        return [self.encode(data)]

    def initial_input(self) -> np.ndarray:
        """The input before any output: (input_size,) float32."""
        return np.zeros(self.input_size, np.float32)

    def feed(self, x, y) -> np.ndarray:
        """The next input after input ``x`` gave target ``y`` (batched over leading axes)."""
        return np.asarray(y, np.float32)

    def sample_steps(self, step, x, rng, **options):
        """Sampled targets, one per step, forever: ``step(x) -> output``, each fed back."""
        while True:
            y = self.sample(step(x), rng, **options)
            yield y
            x = self.feed(x, y)

    def run(self, stream, x, steps: int, rng, **options) -> np.ndarray:
        """Free-run a stream of ``V`` voices ``steps`` steps from inputs ``x (V, I)``."""
        out = []
        for _ in range(steps):
            ys = [self.sample(o, rng, **options) for o in stream.process(x[:, None])[:, 0]]
            x = np.ascontiguousarray(np.stack([self.feed(a, y) for a, y in zip(x, ys)]), np.float32)
            out.append(ys)
        return np.asarray(out).swapaxes(0, 1)

    def to_dict(self) -> dict:
        return {"encoding": self.name, **self.settings()}

    @classmethod
    def from_dict(cls, data: dict, *, source: str = "codec"):
        kw = {k: v for k, v in data.items() if k != "encoding"}
        try:
            return cls(**kw)
        except ParameterError as exc:  # the codec's own check, which names the key: add the file
            raise type(exc)(f"{source}: {exc}") from None
        except (TypeError, ValueError, OverflowError) as exc:  # an unknown key, or a value no check saw
            raise ParameterError(f"{source}: bad {cls.name} settings ({exc})") from None

    @classmethod
    def from_options(cls, **values):
        """The codec from a training config's values (the keys this codec does not take ignored)."""
        return cls(**{k: values[k] for k in cls.options if k in values})

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.settings().items())
        return f"{type(self).__name__}({args})"


class ClassCodec(Codec):
    """Targets are class indices; the model outputs logits; the input is a one-hot of the last class."""

    loss = "ce"

    def sample(self, output, rng, *, temperature=1.0, top_k=0, noise=0.0):
        from ..kernels.sample import pick_class

        return int(pick_class(np.asarray(output, np.float32), 1.0 / temperature, top_k, rng.random()))

    def most_likely(self, outputs):
        return np.argmax(outputs, axis=-1)

    def feed(self, x, y) -> np.ndarray:
        return np.eye(self.input_size, dtype=np.float32)[np.asarray(y, np.int64)]

    def targets(self, rows) -> np.ndarray:
        return np.asarray(rows, np.int64).reshape(-1)


class FrameCodec(Codec):
    """Targets are real-valued frames (regression); each output, plus noise, is the next input."""

    loss = "mse"
    bounds: ClassVar[tuple] = (-np.inf, np.inf)

    def sample(self, output, rng, *, temperature=1.0, top_k=0, noise=0.0):
        y = np.asarray(output, np.float32)
        if noise:
            y = y + noise * rng.standard_normal(y.shape).astype(np.float32)
        return np.clip(y, *self.bounds)

    def most_likely(self, outputs):
        return outputs

    def run(self, stream, x, steps, rng, *, temperature=1.0, top_k=0, noise=0.0):
        """The kernels' free run (noise drawn up front, outputs clipped to ``bounds``)."""
        shape = (x.shape[0], steps, self.output_size)
        z = (rng.standard_normal(shape) * noise).astype(np.float32) if noise else np.zeros(shape, np.float32)
        return stream.free_run(z, x, lo=self.bounds[0], hi=self.bounds[1])

    def targets(self, rows) -> np.ndarray:
        return np.asarray(rows, np.float32).reshape(-1, self.output_size)


class BernoulliCodec(Codec):
    """Targets are multi-hot frames; the model outputs logits, each unit an independent coin."""

    loss = "bce"

    def sample(self, output, rng, *, temperature=1.0, top_k=0, noise=0.0):
        p = 1.0 / (1.0 + np.exp(-np.asarray(output) / temperature))
        return (rng.random(p.size) < p).astype(np.float32)

    def most_likely(self, outputs):
        return (np.asarray(outputs) > 0).astype(np.float32)

    def targets(self, rows) -> np.ndarray:
        return np.asarray(rows, np.float32).reshape(-1, self.output_size)
