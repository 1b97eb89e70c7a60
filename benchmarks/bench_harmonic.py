"""The harmonic instrument (issue 15): pitch on held-out notes, timbre against four baselines, speed.

Usage: python benchmarks/bench_harmonic.py [--instrument flute] [--model DIR | --epochs N]
       [--skip-baselines] [--baseline-epochs N] [--seconds S]

Data: ``samples/instruments/`` (``render_melodies.py``). The held-out tunes were never trained on.
1. Training: ``train audio <instrument>_train.flac --encoding harmonic`` with the settings printed,
   its wall time (skipped with ``--model``).
2. Pitch: the held-out score (``heldout.mid``, shifted to the instrument's range) rendered by the
   model; pYIN (``ddsp.features``) on the output against the score, over the voiced frames inside
   notes (40 ms after each onset and 40 ms before each end left out): the median absolute error in
   cents and the share of frames within 50 cents.
3. Timbre: the held-out recording resynthesized from its own f0 and loudness, and the multi-scale
   spectral distance (``ddsp.loss.spectral_distance``) of each method's audio to the recording:
   the CW-RNN; a sine at f0 with the recording's loudness (per-frame RMS); the same synthesizer
   with flat harmonics and no noise; the mel model with Griffin-Lim (trained on the same file,
   teacher-forced on the recording's frames); an LSTM of about the CW-RNN's parameter count in its
   place, trained the same way.
4. Speed: seconds of audio per second of compute, one core: the generator plugin with the model,
   1 and 8 notes held, at a 48 kHz host in blocks of 512 (the model runs at 16 kHz, the plugin
   resamples its mix to the host's rate).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

import cwrnn_audio_samples
from cwrnn_audio.audio.fit import AudioTrainConfig, train_audio

SHIFT = {"flute": 12, "violin": 0, "cello": -24, "trumpet": 0}  # as in samples/render_melodies.py


def config(epochs: int | None = None) -> AudioTrainConfig:
    """The bundled flute model's recipe (``samples/train_sample_models.py``), optionally other epochs."""
    from cwrnn_audio_samples.train_sample_models import MODELS

    cfg = MODELS["flute_harmonic"][1]
    return cfg if epochs is None else replace(cfg, epochs=epochs, patience=epochs)


def path(name: str) -> str:
    return str(cwrnn_audio_samples.path(f"instruments/{name}"))


def load(name: str, sample_rate: int) -> np.ndarray:
    from cwrnn_audio.audio.dataset import load_clip

    return load_clip(path(name), sample_rate)[0]


def pitch(model, codec, instrument: str) -> tuple[float, float, int]:
    from cwrnn_audio.ddsp.features import frame_features
    from cwrnn_audio.ddsp.render import render_notes
    from cwrnn_audio.midi.read import read_midi

    notes = read_midi(path("heldout.mid")).notes
    audio = render_notes(model, codec, notes, transpose=SHIFT[instrument])[0]
    f = frame_features(audio, sample_rate=codec.sample_rate, frame_rate=codec.frame_rate)
    t = (np.arange(f.frames) + 1) / codec.frame_rate
    expected = np.full(f.frames, np.nan)
    for n in notes:
        inside = (t >= n.start + 0.04) & (t <= n.end - 0.04)
        expected[inside] = 440.0 * 2.0 ** ((n.pitch + SHIFT[instrument] - 69) / 12)
    use = f.voiced & ~np.isnan(expected)
    cents = np.abs(1200 * np.log2(f.f0_hz[use] / expected[use]))
    return float(np.median(cents)), float(np.mean(cents <= 50)), int(use.sum())


def resynthesize(codec, outputs, f0):
    """Audio (T * hop,) from per-frame model outputs (T, O) through the Numba synthesizer."""
    amp, harm, noise = codec.synth_params(np.asarray(outputs, np.float64))
    return oscillators(codec, f0, amp, harm, noise)


def oscillators(codec, f0, amp, harm, noise):
    from cwrnn_audio.kernels.harmonic import HarmonicSynth

    T = f0.shape[0]
    synth = HarmonicSynth(codec.sample_rate, codec.hop, harm.shape[-1], noise.shape[-1])
    u = np.random.default_rng(0).standard_normal((1, T * codec.hop)).astype(np.float32)
    f = lambda a: np.ascontiguousarray(a[None], np.float32)  # noqa: E731
    return synth.process(f(f0), f(amp), f(harm), f(noise), u)[0]


def timbre(model, codec, instrument, args, out_dir) -> dict:
    """Spectral distance of each method's resynthesis of the held-out recording to the recording."""
    import torch

    from cwrnn_audio.ddsp.loss import spectral_distance

    real = load(f"{instrument}_heldout.flac", codec.sample_rate)
    x, target = codec.encode(real[None])  # (1, T, 2), (1, T, hop)
    real = target.reshape(-1)
    f0 = codec_f0(x[0])
    T = f0.shape[0]
    rms = np.sqrt(np.mean(target[0].astype(np.float64) ** 2, axis=1))
    audio = {"CW-RNN": resynthesize(codec, model.stream().process(x[0]), f0)}
    if not args.skip_baselines:
        one = np.zeros((T, codec.n_harmonics), np.float32)
        one[:, 0] = 1.0
        quiet = np.zeros((T, codec.n_noise), np.float32)
        amp = (np.sqrt(2.0) * rms).astype(np.float32)
        audio["sine at f0, recording's loudness"] = oscillators(codec, f0, amp, one, quiet)
        flat = np.ones((T, codec.n_harmonics), np.float32)
        audio["same synthesizer, flat harmonics"] = oscillators(codec, f0, amp, flat, quiet)
        audio["mel + Griffin-Lim"] = mel_baseline(instrument, real, args, out_dir)
        lstm = lstm_baseline(model, codec, instrument, args, out_dir)
        with torch.no_grad():
            y = lstm(torch.from_numpy(x))[0][0].numpy()
        audio[f"LSTM({lstm.config.hidden_size}), {lstm.num_parameters} parameters"] = resynthesize(
            codec, y, f0
        )
    return {k: spectral_distance(a[: real.size], real[: a.size]) for k, a in audio.items()}


def codec_f0(x):
    from cwrnn_audio.adapters.harmonic import f0_from_input

    return f0_from_input(x[:, 0]).astype(np.float32)


def mel_baseline(instrument, real, args, out_dir):
    import torch

    from cwrnn_audio.models.folder import load_model_dir

    cfg = replace(config(args.baseline_epochs), encoding="mel", window=64)
    folder = Path(out_dir) / "mel"
    train_audio([path(f"{instrument}_train.flac")], folder, cfg, progress=False, log=lambda s: None)
    model, mel, _ = load_model_dir(folder, domain="audio")
    x, _ = mel.encode(real[None])
    with torch.no_grad():
        frames = model(torch.from_numpy(x))[0].numpy()
    return mel.decode(frames)[0]


def lstm_baseline(cw, codec, instrument, args, out_dir):
    from cwrnn_audio.audio.dataset import load_corpus
    from cwrnn_audio.nn.lstm import LSTMConfig, LSTMNet
    from cwrnn_audio.train.sequence import train_model_dir

    O = codec.output_size
    hidden = min(range(1, 512), key=lambda h: abs(LSTMConfig(2, h, O).num_parameters - cw.num_parameters))
    cfg = config(args.baseline_epochs)
    clips, _ = load_corpus([path(f"{instrument}_train.flac")], codec.sample_rate, channels="mix")
    streams = [s for _, audio in clips for s in codec.streams(audio)]
    folder = Path(out_dir) / "lstm"
    make = lambda: LSTMNet(input_size=2, hidden_size=hidden, output_size=O)  # noqa: E731
    train_model_dir(streams, make, codec, folder, cfg, progress=False, log=lambda s: None)
    from cwrnn_audio.models.folder import load_model_dir

    return load_model_dir(folder, domain="audio").model


def speed(folder, seconds: float) -> dict:
    """x real time of the generator plugin with 1 and 8 voices, each holding a note, at 48 kHz, blocks of 512."""
    import torch

    from cwrnn_audio.plugin import get_plugin

    torch.set_num_threads(1)
    rates = {}
    for V in (1, 8):
        plugin = get_plugin("generator")(folder, polyphony=V)
        plugin.prepare(48000, 512, 2)  # compiles here, never in process
        plugin.process_midi([(0, "note_on", 60 + 2 * v, 100) for v in range(V)], 512)
        blocks = int(seconds * 48000 / 512)
        start = time.perf_counter()
        for _ in range(blocks):
            plugin.process_midi((), 512)
        rates[V] = blocks * 512 / 48000 / (time.perf_counter() - start)
    return rates


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--instrument", choices=sorted(SHIFT), default="flute")
    ap.add_argument("--model", help="a trained harmonic model folder (default: train one)")
    ap.add_argument("--epochs", type=int, default=None, help="default: the bundled model's (30)")
    ap.add_argument("--baseline-epochs", type=int, default=None, help="default: the same as the CW-RNN's")
    ap.add_argument("--skip-baselines", action="store_true")
    ap.add_argument("--seconds", type=float, default=5.0, help="audio per speed measurement")
    args = ap.parse_args()
    args.baseline_epochs = args.baseline_epochs or config(args.epochs).epochs
    from cwrnn_audio.models.folder import load_model_dir

    with tempfile.TemporaryDirectory() as tmp:
        folder = args.model
        if folder is None:
            folder = Path(tmp) / "harmonic"
            cfg = config(args.epochs)
            start = time.perf_counter()
            train_audio(
                [path(f"{args.instrument}_train.flac")], folder, cfg, progress=False, log=lambda s: None
            )
            print(
                f"1. trained on {args.instrument}_train.flac in {time.perf_counter() - start:.0f} s: "
                f"{cfg.epochs} epochs, window {cfg.window}, {cfg.num_modules} x {cfg.module_size}"
            )
        model, codec, _ = load_model_dir(folder, domain="audio")
        median, within, frames = pitch(model, codec, args.instrument)
        print(
            f"2. pitch on held-out notes: median |error| {median:.1f} cents, {within:.1%} of {frames} "
            f"voiced frames within 50 cents (targets: <= 10 cents, >= 95 %)"
        )
        print("3. timbre: multi-scale spectral distance to the held-out recording (lower is better)")
        for name, d in timbre(model, codec, args.instrument, args, tmp).items():
            print(f"   {name:<44} {d:8.3f}")
        rates = speed(folder, args.seconds)
        print(
            f"4. speed at 48 kHz, one core: 1 voice {rates[1]:.0f}x real time, 8 voices {rates[8]:.1f}x "
            "(targets: >= 50x, >= 10x)"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
