"""Train the bundled example models. Run: ``python samples/train_sample_models.py [NAME ...]``
(all three: about 4 min on 2 cores).

models/piano_mel/: a log-mel frame model (64 mels, hop 256 at 16 kHz, M config 8 x 16) trained
    on piano_phrase.wav and bach_prelude_fluidr3.flac. Primed with a clip, it continues the
    sounding chord (decoded by Griffin-Lim); the README's demo uses it.
models/bach_mulaw/: a mu-law sample model (M config, 256-way softmax, 16 kHz) trained on
    bach_prelude_fluidr3.flac; its samples' spectrum follows the recording's (tests check the
    log-spectral distance).
models/melody/: a melody model (sixteenth-note grid, 130 classes, 6 modules x 16) trained on the
    tunes in midi/ (made by make_midi.py); it writes new C-major tunes.
"""
from pathlib import Path

from cwrnn_audio.audio.train import AudioTrainConfig, train_audio
from cwrnn_audio.midi.train import MidiTrainConfig, train_midi

HERE = Path(__file__).resolve().parent
MODELS = {
    "piano_mel": (
        ["piano_phrase.wav", "bach_prelude_fluidr3.flac"],
        AudioTrainConfig(encoding="mel", window=16, chunk_windows=4, batch=4, epochs=150, patience=30, seed=0),
    ),
    "bach_mulaw": (["bach_prelude_fluidr3.flac"], AudioTrainConfig(encoding="mulaw", epochs=40, patience=8, seed=0)),
    "melody": (["midi"], MidiTrainConfig(encoding="melody", epochs=40, patience=10, seed=0)),
}

if __name__ == "__main__":
    import shutil
    import sys

    for name in sys.argv[1:] or MODELS:
        files, cfg = MODELS[name]
        out = HERE / "models" / name
        shutil.rmtree(out, ignore_errors=True)
        train = train_midi if isinstance(cfg, MidiTrainConfig) else train_audio
        res = train([HERE / f for f in files], out, cfg, progress=False, log=lambda s: None)
        shutil.rmtree(out / "checkpoint", ignore_errors=True)  # resume state: not needed in the package
        print(f"{name}: best epoch {res['best_epoch']}, validation loss {min(res['val_loss']):.4f}")
