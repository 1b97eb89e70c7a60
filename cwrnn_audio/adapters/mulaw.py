"""8-bit mu-law: 256 classes as in WaveNet, the model predicting logits.

Classes come from librosa's ``mu_compress`` (signed -128..127, shifted to
0..255); the model's input is the previous class mapped linearly onto
[-1, 1], i.e. the companded value.
"""

from __future__ import annotations

import numpy as np

from ..errors import ParameterError, ParameterTypeError
from ..models.codec import ClassCodec
from .base import Adapter


class MuLawAdapter(ClassCodec, Adapter):
    name = "mulaw"
    output_activation = "linear"  # raw logits
    options = ("sample_rate", "context")

    def __init__(self, *, sample_rate: int = 16000, mu: int = 255, context: int = 1):
        super().__init__(sample_rate=sample_rate)
        if isinstance(mu, bool) or not isinstance(mu, int):
            raise ParameterTypeError(f"mu must be 255 (8-bit mu-law); got {mu!r}")
        if mu != 255:
            raise ParameterError(f"mu must be 255 (8-bit mu-law); got {mu!r}")
        if isinstance(context, bool) or not isinstance(context, int):
            raise ParameterTypeError(f"context must be an integer in 1..64; got {context!r}")
        if not 1 <= context <= 64:
            raise ParameterError(f"context must be an integer in 1..64; got {context!r}")
        self.mu = mu
        self.context = context

    @property
    def input_size(self) -> int:
        """The last ``context`` samples, newest first."""
        return self.context

    @property
    def output_size(self) -> int:
        return self.mu + 1

    def settings(self) -> dict:
        return {"sample_rate": self.sample_rate, "mu": self.mu, "context": self.context}

    def classes(self, audio) -> np.ndarray:
        """audio (C, F) in [-1, 1] -> int64 classes 0..255."""
        import librosa

        x = np.asarray(audio, np.float32)
        if x.size and (np.abs(x).max() > 1.0):
            raise ParameterError(f"mu-law needs samples in [-1, 1]; got a peak of {np.abs(x).max():.3f}")
        signed = librosa.mu_compress(x.astype(np.float64), mu=self.mu, quantize=True).astype(np.int64)
        # float rounding can give +128 for a sample of exactly 1.0: keep to the 256 classes
        return np.clip(signed + (self.mu + 1) // 2, 0, self.mu)

    def class_value(self, classes):
        """Class -> the model's input feature (companded value in [-1, 1])."""
        half = self.mu / 2.0
        return ((np.asarray(classes, np.float32) - half) / half).astype(np.float32)

    def encode(self, audio):
        """audio (C, F) -> inputs (C, F, context): the previous classes' values, newest first;
        targets (C, F) int64 classes."""
        c = self.classes(audio)
        v = self.class_value(c)
        C, F = c.shape
        padded = np.concatenate([np.zeros((C, self.context), np.float32), v], axis=1)
        inputs = np.stack(
            [padded[:, self.context - 1 - j : self.context - 1 - j + F] for j in range(self.context)], axis=-1
        )
        return inputs, c

    def feed(self, x, y) -> np.ndarray:
        """The new class's value in front of the last ``context - 1`` (batched over leading axes)."""
        x = np.asarray(x, np.float32)
        return np.concatenate([self.class_value(y)[..., None], x[..., :-1]], axis=-1)

    def run(self, stream, x, steps, rng, *, temperature=1.0, top_k=0, noise=0.0):
        """The kernels' categorical sampler: classes (V, steps), ``x`` updated in place."""
        values = self.class_value(np.arange(self.output_size))
        return stream.sample_classes(
            rng.random((x.shape[0], steps)), values, x, temperature=temperature, top_k=top_k
        )

    def decode(self, classes) -> np.ndarray:
        """int classes (C, T) -> audio (C, T) float32."""
        import librosa

        signed = np.asarray(classes, np.int64) - (self.mu + 1) // 2
        return librosa.mu_expand(signed, mu=self.mu, quantize=True).astype(np.float32)
