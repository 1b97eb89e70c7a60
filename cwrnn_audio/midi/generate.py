"""MIDI generation: free or primed with the first bars of a file, sampled step by step."""

from __future__ import annotations

import itertools

import numpy as np

from ..checks import valid_int
from ..core.sampling import SAMPLING
from ..errors import ParameterError
from .notes import Score


def _stepper(model, backend):
    """(step(x (I,)) -> logits (O,), step_many(xs (T, I))): the CW-RNN's stream, or the LSTM's torch state carried by hand."""
    if hasattr(model, "stream"):  # a CW-RNN, torch or NumPy (RuntimeModel); the LSTM has no stream
        s = model.stream(backend=backend)
        return lambda x: s.process(x[None])[0], lambda xs: s.process(xs)
    import torch

    from ..nn.placement import as_params, to_numpy

    state = [None]

    def step_many(xs):
        with torch.no_grad():
            y, state[0] = model(as_params(model, xs)[None], state[0])
        return to_numpy(y[0])

    return lambda x: step_many(x[None])[0], step_many


def generate_midi(
    model,
    enc,
    *,
    bars: float | None = None,
    seconds: float | None = None,
    events: int | None = None,
    prime: Score | None = None,
    prime_bars: float = SAMPLING.prime_bars,
    temperature: float = SAMPLING.temperature,
    top_k: int = SAMPLING.top_k,
    seed: int | None = None,
    tempo_bpm: float = 120.0,
    program: int = 0,
    backend: str = SAMPLING.backend,
):
    """Generate a continuation; returns ``(prime_notes, new_notes, score)``.

    The length is given in ``bars`` (4/4), ``seconds``, or (events encoding) ``events``. With
    ``prime``, the model first reads the first ``prime_bars`` bars of it (teacher-forced).
    Times of the new notes continue after the prime; the score uses the prime's tempo map (else
    ``tempo_bpm``).
    """
    _check_lengths(bars, seconds, events, temperature)
    if seed is not None:
        valid_int(seed, name="seed")
    tempos = prime.tempos if prime is not None else [(0.0, int(60e6 / tempo_bpm))]
    base = Score(tempos=tempos)
    rng = np.random.default_rng(seed)
    step, step_many = _stepper(model, backend)
    start_s, prime_notes, history, x = 0.0, [], [], enc.initial_input()
    if prime is not None:
        cut = float(base.seconds(prime_bars * 4))
        prime_notes = [n._replace(end=min(n.end, cut)) for n in prime.notes if n.start < cut]
        inputs, history = enc.encode(Score(notes=prime_notes, tempos=tempos))
        if len(inputs):
            step_many(inputs)
            x = enc.feed(inputs[-1], history[-1])
        start_s = cut
    if seconds is not None:
        total_s = seconds
    elif bars is not None:
        total_s = float(base.seconds(float(base.beats(start_s)) + 4 * bars)) - start_s
    else:
        total_s = None
    n_steps = enc.steps_for(base, start_s, total_s, events)
    sampled, elapsed = [], 0.0
    for y in itertools.islice(enc.sample_steps(step, x, rng, temperature=temperature, top_k=top_k), n_steps):
        sampled.append(y)
        elapsed += enc.elapsed(y)
        if total_s is not None and elapsed >= total_s:
            break
    new = enc.continuation(history, sampled, base, start_s, program)
    return prime_notes, new, Score(notes=prime_notes + new, tempos=tempos)


def _check_lengths(bars, seconds, events, temperature) -> None:
    if sum(v is not None for v in (bars, seconds, events)) != 1:
        raise ParameterError("give exactly one of bars, seconds or events")
    if not temperature > 0:
        raise ParameterError(f"temperature must be positive; got {temperature!r}")
    for name, v in (("bars", bars), ("seconds", seconds), ("events", events)):
        if v is not None and not (0 < v <= 10_000):
            raise ParameterError(f"{name} must be in (0, 10000]; got {v!r}")
