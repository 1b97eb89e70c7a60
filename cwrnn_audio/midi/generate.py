"""MIDI generation: free or primed with the first bars of a file, sampled step by step."""

from __future__ import annotations

import numpy as np

from ..errors import ParameterError
from ..kernels.sample import pick_class
from .codec import is_categorical, stream
from .notes import Score


def _stepper(model, backend):
    """step(x (I,)) -> logits (O,): the CW-RNN's stream, or the LSTM's torch state carried by hand."""
    from ..nn.module import CWRNN

    if isinstance(model, CWRNN):
        s = model.stream(backend=backend)
        return lambda x: s.process(x[None])[0], lambda xs: s.process(xs)
    import torch

    state = [None]

    def step_many(xs):
        with torch.no_grad():
            y, state[0] = model(torch.from_numpy(np.ascontiguousarray(xs, np.float32))[None], state[0])
        return y[0].numpy()

    return lambda x: step_many(x[None])[0], step_many


def generate_midi(
    model,
    enc,
    *,
    bars: float | None = None,
    seconds: float | None = None,
    events: int | None = None,
    prime: Score | None = None,
    prime_bars: float = 2,
    temperature: float = 1.0,
    top_k: int = 0,
    seed: int | None = None,
    tempo_bpm: float = 120.0,
    program: int = 0,
    backend: str = "numba",
):
    """Generate a continuation; returns ``(prime_notes, new_notes, score)``.

    The length is given in ``bars`` (4/4), ``seconds``, or (events encoding) ``events``. With
    ``prime``, the model first reads the first ``prime_bars`` bars of it (teacher-forced).
    Times of the new notes continue after the prime; the score uses the prime's tempo map (else
    ``tempo_bpm``).
    """
    if sum(v is not None for v in (bars, seconds, events)) != 1:
        raise ParameterError("give exactly one of bars, seconds or events")
    if not temperature > 0:
        raise ParameterError(f"temperature must be positive; got {temperature!r}")
    for name, v in (("bars", bars), ("seconds", seconds), ("events", events)):
        if v is not None and not (0 < v <= 10_000):
            raise ParameterError(f"{name} must be in (0, 10000]; got {v!r}")
    tempos = prime.tempos if prime is not None else [(0.0, int(60e6 / tempo_bpm))]
    base = Score(tempos=tempos)
    rng = np.random.default_rng(seed)
    step, step_many = _stepper(model, backend)
    start_s, prime_notes, history = 0.0, [], []
    if prime is not None:
        cut = float(base.seconds(prime_bars * 4))
        prime_notes = [n._replace(end=min(n.end, cut)) for n in prime.notes if n.start < cut]
        x, y = stream(enc, Score(notes=prime_notes, tempos=tempos))
        if len(x):
            step_many(x)
            history = list(y)
        start_s = cut
    if seconds is not None:
        total_s = seconds
    elif bars is not None:
        total_s = float(base.seconds(float(base.beats(start_s)) + 4 * bars)) - start_s
    else:
        total_s = None
    if enc.name == "events":
        n_steps = events if events is not None else 100_000  # stopped by time below
    elif events is not None:
        raise ParameterError("events= is for the events encoding; give bars or seconds")
    elif enc.grid.steps_per_beat:
        beats = float(base.beats(start_s + total_s)) - float(base.beats(start_s))
        n_steps = int(round(beats * enc.grid.steps_per_beat))
    else:
        n_steps = int(round(total_s * enc.grid.fps))
    if is_categorical(enc):
        x = np.zeros(enc.size, np.float32)
        if history:
            x[int(history[-1])] = 1.0
        out, elapsed = [], 0.0
        for _ in range(n_steps):
            c = int(pick_class(np.asarray(step(x), np.float32), 1.0 / temperature, top_k, rng.random()))
            out.append(c)
            x[:] = 0.0
            x[c] = 1.0
            if enc.name == "events" and 256 <= c < 356:
                elapsed += (c - 255) * 0.01
                if total_s is not None and elapsed >= total_s:
                    break
        seq = np.array(out, np.int64)
        if enc.name == "events":
            new = [
                n._replace(start=n.start + start_s, end=n.end + start_s)
                for n in enc.decode(seq, program=program)
            ]
        else:
            full = np.concatenate([np.asarray(history, np.int64), seq])
            new = [n._replace(program=program) for n in enc.decode(full, base) if n.start >= start_s - 1e-9]
    else:
        frame = np.asarray(history[-1], np.float32) if history else np.zeros(enc.size, np.float32)
        rows = []
        for _ in range(n_steps):
            p = 1.0 / (1.0 + np.exp(-step(frame) / temperature))
            frame = (rng.random(p.size) < p).astype(np.float32)
            if enc.onsets:
                frame[:128] = np.maximum(frame[:128], frame[128:256])  # an onset sounds
            rows.append(frame)
        full = np.concatenate(
            [np.asarray(history, np.float32).reshape(-1, enc.size), np.asarray(rows).reshape(-1, enc.size)]
        )
        new = [n._replace(program=program) for n in enc.decode(full, base) if n.start >= start_s - 1e-9]
    score = Score(notes=prime_notes + new, tempos=tempos)
    return prime_notes, new, score
