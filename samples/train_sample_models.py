"""Train the bundled example models. Run: ``python samples/train_sample_models.py [NAME ...]``
(all six: about 8 min on 2 cores).

models/piano_mel/: a log-mel frame model (64 mels, hop 256 at 16 kHz, M config 8 x 16) trained
    on piano_phrase.wav and bach_prelude_fluidr3.flac. Primed with a clip, it continues the
    sounding chord (decoded by Griffin-Lim); the README's demo uses it.
models/bach_mulaw/: a mu-law sample model (M config, 256-way softmax, 16 kHz) trained on
    bach_prelude_fluidr3.flac; its samples' spectrum follows the recording's (tests check the
    log-spectral distance).
models/effect_drive/: an effect model (M config, 48 kHz) taught a NumPy overdrive: tanh(4 x) at
    0.7 gain, then a one-pole low-pass at 3 kHz, from 6 s of sweeps, plucks and noise bursts.
    The built-in "effect" plugin uses it.
models/melody/: a melody model (sixteenth-note grid, 130 classes, 6 modules x 16) trained on the
    tunes in midi/ (made by make_midi.py); it writes new C-major tunes.
models/flute_harmonic/: a harmonic instrument (M config 8 x 16, 250 frames/s, 60 harmonics, 65 noise
    bands, 16 kHz) trained on instruments/flute_train.flac (FluidR3's sampled flute, made by
    render_melodies.py) with the multi-scale spectral loss; it plays any notes (the demo plays the
    melody model's tunes with it). About 3 minutes; benchmarks/bench_harmonic.py trains the same.
models/flute_harmonic/expression/ and expression_live/: the flute's expression models (10 x 8
    CW-RNNs at 250 frames/s) trained on instruments/flute_train.flac and its score train.mid
    (aligned by DTW): the loudness and pitch deviation of each frame from the score, read with
    lookahead (render_notes, generate --midi, the demo) and live (the generator plugin, exported
    files). About 30 s, the recording's analysis included; benchmarks/bench_expression.py measures
    the same training on held-out tunes.
"""

from pathlib import Path

from cwrnn_audio.audio.effect import EffectTrainConfig, train_effect_arrays
from cwrnn_audio.audio.fit import AudioTrainConfig, train_audio
from cwrnn_audio.expression.fit import ExpressionTrainConfig, train_expression
from cwrnn_audio.midi.fit import MidiTrainConfig, train_midi

HERE = Path(__file__).resolve().parent
EFFECT_SR = 48000


def overdrive(x, sr=EFFECT_SR, cutoff=3000.0):
    """The processing the effect model learns: soft clipping, then a one-pole low-pass."""
    import numpy as np

    y = 0.7 * np.tanh(4.0 * x)
    a = np.exp(-2 * np.pi * cutoff / sr)
    out = np.empty_like(y)
    state = 0.0
    for i, v in enumerate(y):
        state = (1 - a) * v + a * state
        out[i] = state
    return out.astype(np.float32)


def effect_material(seconds=6.0, sr=EFFECT_SR, seed=0):
    """Dry training audio: exponential sine sweeps, decaying plucks and noise bursts at varied levels."""
    import numpy as np

    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * sr)) / sr
    sweep = np.sin(2 * np.pi * 40 * (np.exp(t * np.log(200) / seconds) - 1) * seconds / np.log(200))
    env = 0.1 + 0.9 * (0.5 + 0.5 * np.sin(2 * np.pi * 0.7 * t))
    plucks = np.zeros_like(t)
    for start in rng.uniform(0, seconds - 0.5, 24):
        i = int(start * sr)
        n = int(0.4 * sr)
        f = rng.uniform(80, 800)
        plucks[i : i + n] += (
            rng.uniform(0.2, 0.8)
            * np.exp(-np.arange(n) / (0.08 * sr))
            * np.sin(2 * np.pi * f * np.arange(n) / sr)
        )
    noise = rng.standard_normal(t.size) * (rng.random(t.size // 4800 + 1).repeat(4800)[: t.size] < 0.2) * 0.3
    return np.clip(0.5 * sweep * env + plucks + noise, -1, 1).astype(np.float32)


class _EffectJob:
    def __call__(self, files, out, cfg, **kw):
        dry = effect_material()
        return train_effect_arrays([(dry, overdrive(dry))], out, cfg, **kw)


class _ExpressionJob:
    """The flute's expression models from its training recording and the tunes' score: the one that
    reads scores (``expression/``) and the one that plays live (``expression_live/``, the plugin's)."""

    def __call__(self, files, out, cfg, **kw):
        import shutil

        from cwrnn_audio.expression.play import LIVE_FOLDER

        live = out.parent / LIVE_FOLDER
        shutil.rmtree(live, ignore_errors=True)
        res = train_expression([tuple(files)], out, cfg, live_dir=live, **kw)
        shutil.rmtree(live / "checkpoint", ignore_errors=True)
        return res


MODELS = {
    "piano_mel": (
        ["piano_phrase.wav", "bach_prelude_fluidr3.flac"],
        AudioTrainConfig(
            encoding="mel", window=16, chunk_windows=4, batch=4, epochs=150, patience=30, seed=0
        ),
    ),
    "bach_mulaw": (
        ["bach_prelude_fluidr3.flac"],
        AudioTrainConfig(encoding="mulaw", epochs=40, patience=8, seed=0),
    ),
    "melody": (["midi"], MidiTrainConfig(encoding="melody", epochs=40, patience=10, seed=0)),
    "effect_drive": ([], EffectTrainConfig(epochs=15, patience=4, seed=0)),
    "flute_harmonic": (
        ["instruments/flute_train.flac"],
        AudioTrainConfig(
            encoding="harmonic", window=128, chunk_windows=4, batch=8, epochs=30, patience=30, seed=0
        ),
    ),
    # after flute_harmonic (whose retraining removes its folder): into flute_harmonic/expression
    "flute_harmonic/expression": (
        ["instruments/flute_train.flac", "instruments/train.mid"],
        ExpressionTrainConfig(seed=0),
    ),
}

if __name__ == "__main__":
    import shutil
    import sys

    for name in sys.argv[1:] or MODELS:
        files, cfg = MODELS[name]
        out = HERE / "models" / name
        shutil.rmtree(out, ignore_errors=True)
        jobs = {
            MidiTrainConfig: train_midi,
            EffectTrainConfig: _EffectJob(),
            ExpressionTrainConfig: _ExpressionJob(),
        }
        train = jobs.get(type(cfg), train_audio)
        res = train([HERE / f for f in files], out, cfg, progress=False, log=lambda s: None)
        shutil.rmtree(out / "checkpoint", ignore_errors=True)  # resume state: not needed in the package
        print(f"{name}: best epoch {res['best_epoch']}, validation loss {min(res['val_loss']):.4f}")
