"""Train the bundled example models. Run: ``python samples/train_sample_models.py`` (about 4 min, 2 cores).

models/piano_mel/: a log-mel frame model (64 mels, hop 256 at 16 kHz, M config 8 x 16) trained
    on piano_phrase.wav and bach_prelude_fluidr3.flac. Primed with a clip, it continues the
    sounding chord (decoded by Griffin-Lim); the README's demo uses it.
models/bach_mulaw/: a mu-law sample model (M config, 256-way softmax, 16 kHz) trained on
    bach_prelude_fluidr3.flac; its samples' spectrum follows the recording's (tests check the
    log-spectral distance).
"""
from pathlib import Path

from cwrnn_audio.audio.train import AudioTrainConfig, train_audio

HERE = Path(__file__).resolve().parent
MODELS = {
    "piano_mel": (
        ["piano_phrase.wav", "bach_prelude_fluidr3.flac"],
        AudioTrainConfig(encoding="mel", window=16, chunk_windows=4, batch=4, epochs=150, patience=30, seed=0),
    ),
    "bach_mulaw": (["bach_prelude_fluidr3.flac"], AudioTrainConfig(encoding="mulaw", epochs=40, patience=8, seed=0)),
}

if __name__ == "__main__":
    import shutil

    for name, (files, cfg) in MODELS.items():
        out = HERE / "models" / name
        shutil.rmtree(out, ignore_errors=True)
        res = train_audio([HERE / f for f in files], out, cfg, progress=False, log=lambda s: None)
        shutil.rmtree(out / "checkpoint", ignore_errors=True)  # resume state: not needed in the package
        print(f"{name}: best epoch {res['best_epoch']}, validation loss {min(res['val_loss']):.4f}")
