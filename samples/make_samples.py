"""Make the bundled sample clips. Run: ``python samples/make_samples.py``.

pluck_melody.wav: 2 s, 22.05 kHz, mono, 16-bit. A Karplus-Strong plucked
string playing an eight-note A-minor phrase (A3 C4 E4 A4 G4 E4 D4 C4, 0.25 s
each), peak-normalised to 0.8. Deterministic: the excitation noise is seeded.
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


if __name__ == "__main__":
    here = Path(__file__).resolve().parent
    sf.write(here / "pluck_melody.wav", pluck_melody(), SR, subtype="PCM_16")
    print("wrote", here / "pluck_melody.wav")
