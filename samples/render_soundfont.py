"""Render a MIDI phrase with a sampled-instrument soundfont: music from real recordings.

Run: ``python samples/render_soundfont.py`` (needs ``fluidsynth`` and the
FluidR3 GM soundfont, MIT licensed: ``apt-get install fluidsynth fluid-soundfont-gm``).

bach_prelude_fluidr3.flac: 8 s, 44.1 kHz, mono, 16-bit. The first four bars of
J. S. Bach's Prelude in C major, BWV 846 (public domain), at 70 bpm, played by
FluidR3's sampled acoustic grand piano (recordings of a real piano), mixed to
mono and peak-normalised to 0.8. Deterministic for a given fluidsynth and
soundfont.

bach_prelude_strings_fluidr3.flac: the same notes played by FluidR3's string ensemble (General MIDI
program 48, sampled from real strings), made the same way: a second real recording for the paper's
experiment. ``python samples/render_soundfont.py`` writes both.
"""

import subprocess
import tempfile
from pathlib import Path

import mido
import numpy as np
import soundfile as sf

SOUNDFONT = "/usr/share/sounds/sf2/FluidR3_GM.sf2"
SR = 44100
# BWV 846, bars 1-4: each bar is one broken chord, played twice
BARS = [
    [60, 64, 67, 72, 76],  # C
    [60, 62, 69, 74, 77],  # Dm7/C
    [59, 62, 67, 74, 77],  # G7/B
    [60, 64, 67, 72, 76],  # C
]


def prelude_midi(path: Path, bpm: int = 70, program: int = 0) -> None:
    """Each half bar: two low notes held, then the upper three broken in sixteenths, twice."""
    s16 = 120  # ticks per sixteenth at 480 per beat
    events = []  # (absolute tick, order, message)
    tick = 0
    for chord in BARS:
        for _ in range(2):
            low, middle, *top = chord
            events.append((tick, 1, mido.Message("note_on", note=low, velocity=70)))
            events.append((tick + s16, 1, mido.Message("note_on", note=middle, velocity=65)))
            for i, note in enumerate(top + top):
                on = tick + (2 + i) * s16
                events.append((on, 1, mido.Message("note_on", note=note, velocity=60)))
                events.append((on + s16 - 10, 0, mido.Message("note_off", note=note, velocity=0)))
            for note in (low, middle):
                events.append((tick + 8 * s16 - 10, 0, mido.Message("note_off", note=note, velocity=0)))
            tick += 8 * s16
    track = mido.MidiTrack(
        [
            mido.MetaMessage("set_tempo", tempo=mido.bpm2tempo(bpm)),
            mido.Message("program_change", program=program),
        ]
    )
    last = 0
    for at, _, msg in sorted(events, key=lambda e: (e[0], e[1])):
        track.append(msg.copy(time=at - last))
        last = at
    track.append(mido.MetaMessage("end_of_track", time=480))
    mid = mido.MidiFile(ticks_per_beat=480)
    mid.tracks.append(track)
    mid.save(str(path))


RECORDINGS = {"bach_prelude_fluidr3.flac": 0, "bach_prelude_strings_fluidr3.flac": 48}  # GM programs


if __name__ == "__main__":
    here = Path(__file__).resolve().parent
    for name, program in RECORDINGS.items():
        with tempfile.TemporaryDirectory() as tmp:
            midi, wav = Path(tmp) / "prelude.mid", Path(tmp) / "prelude.wav"
            prelude_midi(midi, program=program)
            subprocess.run(
                ["fluidsynth", "-ni", "-g", "0.8", "-r", str(SR), "-F", str(wav), SOUNDFONT, str(midi)],
                check=True,
                capture_output=True,
            )
            audio, sr = sf.read(str(wav))
        mono = audio.mean(axis=1) if audio.ndim == 2 else audio
        mono = mono[: 8 * SR]
        mono = 0.8 * mono / np.max(np.abs(mono))
        sf.write(here / name, mono.astype(np.float32), SR, subtype="PCM_16")
        print("wrote", here / name)
