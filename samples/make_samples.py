"""Make the bundled sample clips. Run: ``python samples/make_samples.py``.

pluck_melody.wav: 2 s, 22.05 kHz, mono, 16-bit. A Karplus-Strong plucked
string playing an eight-note A-minor phrase (A3 C4 E4 A4 G4 E4 D4 C4, 0.25 s
each), peak-normalised to 0.8. Deterministic: the excitation noise is seeded.

piano_phrase.wav: 4 s, 44.1 kHz, mono, 16-bit. A piano-like additive synth
(8 slightly stretched partials, amplitudes 1/k^1.5, higher partials decaying
faster, 5 ms attack) playing C-major arpeggios over held bass notes, with
overlapping notes so excerpts hold chords. The music for the paper's
sequence-generation experiment.
"""

from pathlib import Path

import numpy as np
import soundfile as sf

SR = 22050
NOTES_HZ = [220.0, 261.63, 329.63, 440.0, 392.0, 329.63, 293.66, 261.63]
NOTE_SECONDS = 0.25


def pluck(freq: float, seconds: float, rng: np.random.Generator, decay: float = 0.996) -> np.ndarray:
    period = int(round(SR / freq))
    line = rng.uniform(-1, 1, period)
    out = np.empty(int(SR * seconds))
    for i in range(out.size):
        j = i % period
        out[i] = line[j]
        line[j] = decay * 0.5 * (line[j] + line[(j + 1) % period])
    return out


def pluck_melody(seed: int = 7) -> np.ndarray:
    rng = np.random.default_rng(seed)
    x = np.concatenate([pluck(f, NOTE_SECONDS, rng) for f in NOTES_HZ])
    return (0.8 * x / np.max(np.abs(x))).astype(np.float32)


PIANO_SR = 44100
# (start s, duration s, MIDI pitch, velocity 0..1)
PIANO_NOTES = [
    (0.0, 2.0, 48, 0.6),
    (2.0, 2.0, 43, 0.6),  # bass C3, G2
    *[(0.25 * i, 0.9, p, 0.5) for i, p in enumerate([60, 64, 67, 72, 67, 64, 60, 64])],
    *[(2.0 + 0.25 * i, 0.9, p, 0.5) for i, p in enumerate([59, 62, 67, 71, 67, 62, 59, 62])],
]


def piano_note(midi: int, seconds: float, velocity: float) -> np.ndarray:
    f0 = 440.0 * 2 ** ((midi - 69) / 12)
    t = np.arange(int(PIANO_SR * seconds)) / PIANO_SR
    out = np.zeros_like(t)
    for k in range(1, 9):
        fk = k * f0 * np.sqrt(1 + 1e-4 * k * k)  # piano-string stretch
        if fk > PIANO_SR / 2:
            break
        out += k**-1.5 * np.exp(-t * (1.5 + 0.8 * k)) * np.sin(2 * np.pi * fk * t)
    attack = np.minimum(1.0, t / 0.005)
    release = np.minimum(1.0, (seconds - t) / 0.05)
    return velocity * out * attack * release


def piano_phrase() -> np.ndarray:
    total = np.zeros(int(PIANO_SR * 4.0))
    for start, dur, midi, vel in PIANO_NOTES:
        note = piano_note(midi, dur, vel)
        i = int(start * PIANO_SR)
        total[i : i + note.size] += note[: total.size - i]
    return (0.8 * total / np.max(np.abs(total))).astype(np.float32)


if __name__ == "__main__":
    here = Path(__file__).resolve().parent
    sf.write(here / "pluck_melody.wav", pluck_melody(), SR, subtype="PCM_16")
    sf.write(here / "piano_phrase.wav", piano_phrase(), PIANO_SR, subtype="PCM_16")
    print("wrote", here / "pluck_melody.wav", here / "piano_phrase.wav")
