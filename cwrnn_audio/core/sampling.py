"""Generation settings and their defaults, in one place: the Python functions
(``audio.generate.generate``, ``midi.generate.generate_midi``) and the CLI read them here."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class SamplingDefaults:
    temperature: float = 1.0  # softmax temperature of categorical outputs
    top_k: int = 0  # sample among the k likeliest classes; 0: all
    noise: float = 0.0  # std of the noise fed back in regression models
    voices: int = 1  # independent voices (audio: written as channels)
    backend: str = "numba"  # "numba" (CPU kernels) or "torch"
    seconds: float = 2.0  # audio length when none is asked for
    bars: float = 8.0  # MIDI length in 4/4 bars when no length is asked for
    prime_bars: float = 2.0  # bars of a MIDI prime the model reads first


SAMPLING = SamplingDefaults()
BACKENDS = ("numba", "torch")
