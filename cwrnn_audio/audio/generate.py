"""Generation from a trained model: free-running, sampled, or continuing a primed clip."""

from __future__ import annotations

import numpy as np

from ..checks import valid_choice
from ..errors import ParameterError
from ..io.audio import valid_audio


def generate(
    model,
    adapter,
    seconds: float,
    *,
    prime=None,
    temperature: float = 1.0,
    top_k: int = 0,
    noise: float = 0.0,
    voices: int = 1,
    seed: int | None = None,
    backend: str = "numba",
) -> np.ndarray:
    """Generate ``seconds`` of audio per voice.

    Parameters
    ----------
    model : CWRNN
        Trained with ``adapter`` (see :func:`load_model_dir`).
    adapter : Adapter
    seconds : float
        Length of the generated continuation.
    prime : np.ndarray ``(channels, frames)`` at the adapter's rate, optional
        A clip the model reads first (teacher-forced), so it continues that sound.
    temperature, top_k : sampling of categorical (mu-law) models; top_k=0 keeps all classes.
    noise : float
        Standard deviation of Gaussian noise added to each fed-back output of regression models.
    voices : int
        Independent voices generated in one batch.
    seed : int, optional
        Fixes the random draws (the same audio on either backend).
    backend : {"numba", "torch"}

    Returns
    -------
    np.ndarray, float32, ``(voices, frames)`` in [-1, 1] at ``adapter.sample_rate``.
    """
    valid_choice(backend, ("numba", "torch"), name="backend")
    if not (isinstance(seconds, (int, float)) and 0 < seconds <= 3600):
        raise ParameterError(f"seconds must be in (0, 3600]; got {seconds!r}")
    if not temperature > 0:
        raise ParameterError(f"temperature must be positive; got {temperature!r}")
    if not (isinstance(top_k, int) and top_k >= 0):
        raise ParameterError(f"top_k must be a non-negative integer; got {top_k!r}")
    if noise < 0:
        raise ParameterError(f"noise must be >= 0; got {noise!r}")
    steps = adapter.steps(seconds)
    rng = np.random.default_rng(seed)
    stream = model.stream(backend=backend, voices=voices)
    c = model.config
    if c.input_size == 0:  # the paper's no-input networks: nothing to feed back
        return adapter.decode(stream.process(steps=steps))
    x_last = np.zeros((voices, c.input_size), np.float32)
    if adapter.name == "mel":
        x_last[:] = np.log(1e-5)
    if prime is not None:
        p = valid_audio(prime, name="prime").mean(axis=0, keepdims=True)
        inputs, targets = adapter.encode(p)
        stream.process(np.repeat(inputs, voices, axis=0))
        if adapter.name == "mulaw":  # the last `context` classes, newest first
            last = adapter.class_value(targets[0, ::-1][: c.input_size])
            x_last[:, : last.size] = last
        else:
            x_last[:] = targets[:, -1].reshape(1, -1)
    if adapter.name == "mulaw":
        values = adapter.class_value(np.arange(adapter.output_size))
        classes = stream.sample_classes(
            rng.random((voices, steps)), values, x_last, temperature=temperature, top_k=top_k
        )
        return adapter.decode_classes(classes)
    shape = (voices, steps, c.output_size)
    z = (rng.standard_normal(shape) * noise).astype(np.float32) if noise else np.zeros(shape, np.float32)
    bounds = (-1.0, 1.0) if adapter.name == "raw" else (-np.inf, np.inf)
    return adapter.decode(stream.free_run(z, x_last, lo=bounds[0], hi=bounds[1]))
