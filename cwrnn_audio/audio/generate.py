"""Generation from a trained model: free-running, sampled, or continuing a primed clip."""

from __future__ import annotations

import numpy as np

from ..checks import valid_choice, valid_int
from ..core.sampling import SAMPLING
from ..errors import ParameterError, ParameterTypeError
from ..io.audio_file import valid_audio


def generate(
    model,
    adapter,
    seconds: float,
    *,
    prime=None,
    temperature: float = SAMPLING.temperature,
    top_k: int = SAMPLING.top_k,
    noise: float = SAMPLING.noise,
    voices: int = SAMPLING.voices,
    seed: int | None = None,
    backend: str = SAMPLING.backend,
) -> np.ndarray:
    """Generate ``seconds`` of audio per voice.

    Parameters
    ----------
    model : CWRNN
        Trained with ``adapter`` (see :func:`cwrnn_audio.models.load_model_dir`).
    adapter : Adapter
        Any audio codec: its ``run`` samples (kernels), ``feed`` continues a prime, ``decode`` renders.
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
    _check_options(seconds, temperature, top_k, noise)
    if seed is not None:
        valid_int(seed, name="seed")
    steps = adapter.steps(seconds)
    stream = model.stream(backend=backend, voices=voices)
    if model.config.input_size == 0:  # the paper's no-input networks: nothing to feed back
        return adapter.decode(adapter.most_likely(stream.process(steps=steps)))
    x = adapter.initial_input()[None]
    if prime is not None:
        inputs, targets = adapter.encode(valid_audio(prime, name="prime").mean(axis=0, keepdims=True))
        stream.process(np.repeat(inputs, voices, axis=0))
        x = adapter.feed(inputs[:, -1], targets[:, -1])
    x = np.ascontiguousarray(np.repeat(x, voices, axis=0), np.float32)
    rng = np.random.default_rng(seed)
    return adapter.decode(
        adapter.run(stream, x, steps, rng, temperature=temperature, top_k=top_k, noise=noise)
    )


def _check_options(seconds, temperature, top_k, noise) -> None:
    if isinstance(seconds, bool) or not isinstance(seconds, (int, float)):
        raise ParameterTypeError(f"seconds must be a number in (0, 3600]; got {seconds!r}")
    if not 0 < seconds <= 3600:
        raise ParameterError(f"seconds must be in (0, 3600]; got {seconds!r}")
    if not temperature > 0:
        raise ParameterError(f"temperature must be positive; got {temperature!r}")
    if isinstance(top_k, bool) or not isinstance(top_k, int):
        raise ParameterTypeError(f"top_k must be a non-negative integer; got {top_k!r}")
    if top_k < 0:
        raise ParameterError(f"top_k must be a non-negative integer; got {top_k!r}")
    if noise < 0:
        raise ParameterError(f"noise must be >= 0; got {noise!r}")
