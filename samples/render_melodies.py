"""Monophonic melodies played by sampled instruments: training data for the harmonic encoding.

Run: ``python samples/render_melodies.py`` (needs ``fluidsynth`` and the FluidR3 GM soundfont, MIT
licensed: ``apt-get install fluidsynth fluid-soundfont-gm``).

Six public-domain tunes (traditional, or composed before 1900) are written out below as
(MIDI note, beats) pairs. Four are for training: Ode to Joy (Beethoven, 1824), Twinkle Twinkle
(traditional), Frere Jacques (traditional) and Greensleeves (traditional). Two are held out for
evaluation, and no model trains on them: Amazing Grace ("New Britain", 1829) and Au clair de la
lune (traditional).

FluidR3 renders them with its flute, violin, cello and trumpet, which are recordings of real
instruments, with reverb and chorus off. Each file is mixed to mono, written at 16 kHz as 16-bit
FLAC, and peak-normalised to 0.8. Per instrument the script writes
``instruments/<name>_train.flac`` and ``instruments/<name>_heldout.flac``. It also writes the
scores as ``instruments/train.mid`` and ``instruments/heldout.mid`` at written pitch (each
instrument plays them shifted by its semitones in ``INSTRUMENTS``): the pitch evaluation reads its
expected notes from them.
Deterministic for a given fluidsynth and soundfont.
"""

from __future__ import annotations

import subprocess
import tempfile
from pathlib import Path

import mido
import numpy as np
import soundfile as sf

SOUNDFONT = "/usr/share/sounds/sf2/FluidR3_GM.sf2"
SR = 16000
BPM = 132  # brisk: keeps every file under 2 MB
GAP_BEATS = 2  # silence between tunes: the encoding must handle unvoiced frames
# General MIDI program, semitones added to the written notes (each instrument's comfortable range)
INSTRUMENTS = {"flute": (73, 12), "violin": (40, 0), "cello": (42, -24), "trumpet": (56, 0)}

C4, D4, E4, F4, G4, A4, B4, C5, D5, E5 = 60, 62, 64, 65, 67, 69, 71, 72, 74, 76
G3, A3, B3, Gs4, Fs4 = 55, 57, 59, 68, 66
TRAIN = {
    "ode_to_joy": [
        *[(E4, 1), (E4, 1), (F4, 1), (G4, 1), (G4, 1), (F4, 1), (E4, 1), (D4, 1)],
        *[(C4, 1), (C4, 1), (D4, 1), (E4, 1), (E4, 1.5), (D4, 0.5), (D4, 2)],
        *[(E4, 1), (E4, 1), (F4, 1), (G4, 1), (G4, 1), (F4, 1), (E4, 1), (D4, 1)],
        *[(C4, 1), (C4, 1), (D4, 1), (E4, 1), (D4, 1.5), (C4, 0.5), (C4, 2)],
    ],
    "twinkle": [
        *[(C4, 1), (C4, 1), (G4, 1), (G4, 1), (A4, 1), (A4, 1), (G4, 2)],
        *[(F4, 1), (F4, 1), (E4, 1), (E4, 1), (D4, 1), (D4, 1), (C4, 2)],
        *[(G4, 1), (G4, 1), (F4, 1), (F4, 1), (E4, 1), (E4, 1), (D4, 2)],
        *[(G4, 1), (G4, 1), (F4, 1), (F4, 1), (E4, 1), (E4, 1), (D4, 2)],
    ],
    "frere_jacques": [
        *[(C4, 1), (D4, 1), (E4, 1), (C4, 1)] * 2,
        *[(E4, 1), (F4, 1), (G4, 2)] * 2,
        *[(G4, 0.5), (A4, 0.5), (G4, 0.5), (F4, 0.5), (E4, 1), (C4, 1)] * 2,
        *[(C4, 1), (G3, 1), (C4, 2)] * 2,
    ],
    "greensleeves": [
        *[(A4, 1), (C5, 2), (D5, 1), (E5, 1.5), (E5 + 1, 0.5), (E5, 1), (D5, 2), (B4, 1)],
        *[(G4, 1.5), (A4, 0.5), (B4, 1), (C5, 2), (A4, 1), (A4, 1.5), (Gs4, 0.5), (A4, 1)],
        *[(B4, 2), (Gs4, 1), (E4, 2), (A4, 1), (C5, 2), (D5, 1), (E5, 1.5), (E5 + 1, 0.5), (E5, 1)],
        *[(D5, 2), (B4, 1), (G4, 1.5), (A4, 0.5), (B4, 1), (C5, 1.5), (B4, 0.5), (A4, 1)],
        *[(Gs4, 1.5), (Fs4, 0.5), (Gs4, 1), (A4, 3)],
    ],
}
HELDOUT = {
    "amazing_grace": [
        *[(D4, 1), (G4, 2), (B4, 0.5), (G4, 0.5), (B4, 2), (A4, 1), (G4, 2), (E4, 1), (D4, 2)],
        *[(D4, 1), (G4, 2), (B4, 0.5), (G4, 0.5), (B4, 2), (A4, 1), (D5, 3)],
    ],
    "au_clair_de_la_lune": [
        *[(C4, 1), (C4, 1), (C4, 1), (D4, 1), (E4, 2), (D4, 2), (C4, 1), (E4, 1), (D4, 1), (D4, 1), (C4, 4)],
        *[(D4, 1), (D4, 1), (D4, 1), (D4, 1), (A3, 2), (A3, 2), (D4, 1), (C4, 1), (B3, 1), (A3, 1), (G3, 4)],
    ],
}


def score_midi(tunes: dict, path: Path, *, program: int = 73, shift: int = 0) -> None:
    """The tunes one after another, ``GAP_BEATS`` of silence between them, legato within a tune."""
    tpb = 480
    track = mido.MidiTrack(
        [
            mido.MetaMessage("set_tempo", tempo=mido.bpm2tempo(BPM)),
            mido.Message("program_change", program=program),
        ]
    )
    wait = 0
    for notes in tunes.values():
        for i, (note, beats) in enumerate(notes):
            ticks = int(round(beats * tpb))
            velocity = 90 if i % 4 == 0 else 75  # a little phrasing: louder on the first of each group
            track.append(mido.Message("note_on", note=note + shift, velocity=velocity, time=wait))
            track.append(mido.Message("note_off", note=note + shift, velocity=0, time=ticks - 10))
            wait = 10
        wait += GAP_BEATS * tpb
    track.append(mido.MetaMessage("end_of_track", time=wait))
    mid = mido.MidiFile(ticks_per_beat=tpb)
    mid.tracks.append(track)
    mid.save(str(path))


def render(midi: Path, wav: Path) -> np.ndarray:
    """Mono float64 at ``SR``, peak 0.8, without the trailing silence fluidsynth adds."""
    cmd = ["fluidsynth", "-ni", "-R", "0", "-C", "0", "-g", "0.8", "-r", str(SR), "-F", str(wav)]
    subprocess.run([*cmd, SOUNDFONT, str(midi)], check=True, capture_output=True)
    audio, sr = sf.read(str(wav))
    assert sr == SR, sr
    mono = audio.mean(axis=1) if audio.ndim == 2 else audio
    loud = np.nonzero(np.abs(mono) > 1e-3 * np.abs(mono).max())[0]
    mono = mono[: loud[-1] + SR // 4]
    return 0.8 * mono / np.max(np.abs(mono))


def main() -> None:
    out = Path(__file__).resolve().parent / "instruments"
    out.mkdir(exist_ok=True)
    score_midi(TRAIN, out / "train.mid")
    score_midi(HELDOUT, out / "heldout.mid")
    with tempfile.TemporaryDirectory() as tmp:
        for name, (program, shift) in INSTRUMENTS.items():
            for part, tunes in (("train", TRAIN), ("heldout", HELDOUT)):
                midi = Path(tmp) / f"{name}_{part}.mid"
                score_midi(tunes, midi, program=program, shift=shift)
                audio = render(midi, Path(tmp) / f"{name}_{part}.wav")
                path = out / f"{name}_{part}.flac"
                sf.write(path, audio.astype(np.float32), SR, subtype="PCM_16")
                print(f"wrote {path} ({len(audio) / SR:.1f} s, {path.stat().st_size / 1e6:.2f} MB)")


if __name__ == "__main__":
    main()
