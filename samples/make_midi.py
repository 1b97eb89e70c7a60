"""Make the bundled MIDI files. Run: ``python samples/make_midi.py``.

midi/tune_*.mid: eight short melodies (8 bars of 4/4 at 100 bpm, General MIDI flute,
channel 1) drawn from a seeded random walk on the C-major scale with a rhythm of quarter
and eighth notes, each ending on the tonic: material for melody models.
midi/chorale.mid: a four-voice C-major chord progression (I-IV-V-I, a bar each, twice) on
piano at 90 bpm, with a tempo change to 70 bpm for the last two bars: polyphony and a tempo map.
"""

from pathlib import Path

import numpy as np

from cwrnn_audio.midi import Note, Score, write_midi

HERE = Path(__file__).resolve().parent / "midi"
SCALE = [60, 62, 64, 65, 67, 69, 71, 72, 74]


def tune(seed: int) -> Score:
    rng = np.random.default_rng(seed)
    spb = 0.6  # 100 bpm
    notes, t, i = [], 0.0, 2
    while t < 8 * 4 * spb - 1e-9:
        left = 8 * 4 * spb - t
        d = spb * (0.5 if rng.random() < 0.4 else 1.0)
        d = min(d, left)
        i = int(np.clip(i + rng.choice([-2, -1, -1, 1, 1, 2, 0]), 0, len(SCALE) - 1))
        pitch = SCALE[0] if left <= d + 1e-9 else SCALE[i]  # end on the tonic
        notes.append(Note(pitch, int(rng.integers(70, 100)), t, t + 0.95 * d, channel=0, program=73))
        t += d
    return Score(notes=notes, tempos=[(0.0, 600_000)], time_signatures=[(0.0, 4, 4)])


def chorale() -> Score:
    chords = [[48, 60, 64, 67], [53, 60, 65, 69], [55, 59, 62, 67], [48, 60, 64, 72]] * 2
    score = Score(tempos=[(0.0, 666_667), (6 * 4 * 60 / 90, 857_143)], time_signatures=[(0.0, 4, 4)])
    notes = []
    for bar, chord in enumerate(chords):
        s, e = score.seconds([bar * 4, bar * 4 + 3.9])
        notes += [Note(p, 80, float(s), float(e)) for p in chord]
    score.notes = sorted(notes, key=lambda n: (n.start, n.pitch))
    return score


if __name__ == "__main__":
    HERE.mkdir(exist_ok=True)
    for k in range(8):
        write_midi(tune(k), HERE / f"tune_{k}.mid")
    write_midi(chorale(), HERE / "chorale.mid")
    print("wrote", sorted(p.name for p in HERE.iterdir()))
