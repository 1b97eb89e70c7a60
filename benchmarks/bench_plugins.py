"""Plugins in real time at 44.1 and 48 kHz, blocks of 128, stereo, against torch.nn.LSTM stepping.

Usage: python benchmarks/bench_plugins.py [--seconds 2] [--rates 44100,48000]

For each host rate and built-in plugin with its bundled M-size model, the real-time factor of
process / process_midi (at a rate other than the model's, the streaming resampler's cost
included: the effect's model runs at 48 kHz, the generator's at 16 kHz) over blocks of 128 stereo frames (the generator with 4 voices held, the continuator
fed a two-bar phrase and answering), and the same stream through a torch.nn.LSTM + Linear of about
the same parameter count, stepped block by block with its state carried (1 thread, inference
mode), in this run.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from cwrnn_audio.plugin import available_plugins, get_plugin

BLOCK, CH = 128, 2


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=float, default=2.0)
    ap.add_argument("--rates", default="44100,48000", help="host rates in Hz, comma-separated")
    args = ap.parse_args()
    torch.set_num_threads(1)
    for rate in (int(r) for r in args.rates.split(",")):
        bench(rate, args.seconds)


def bench(SR: int, seconds: float) -> None:
    n = int(seconds * SR) // BLOCK * BLOCK
    audio = (0.5 * np.sin(np.arange(n) / 30.0)).astype(np.float32)
    audio = np.stack([audio, audio[::-1].copy()])
    print(f"{SR} Hz, blocks of {BLOCK}, {CH} channels, {seconds:g} s; torch {torch.__version__}, 1 thread")
    for name in available_plugins():
        cls = get_plugin(name)
        try:
            plugin = cls()
        except Exception as exc:  # a plugin without a bundled model
            print(f"{name}: skipped ({exc})")
            continue
        plugin.prepare(SR, BLOCK, CH)
        lat = f"latency {plugin.latency_samples}"
        block = np.zeros((CH, BLOCK), np.float32)
        beat = SR // 8
        phrase = [(k * beat, "note_on", p, 90) for k, p in enumerate((60, 62, 64, 65))]
        phrase += [(k * beat + beat * 5 // 6, "note_off", p, 0) for k, p in enumerate((60, 62, 64, 65))]
        start = time.perf_counter()
        for i in range(0, n, BLOCK):
            if name == "generator":
                plugin.process_midi(
                    [(0, "note_on", p, 90) for p in (60, 64, 67, 72)] if i == 0 else [], BLOCK
                )
            elif name == "continuator":
                plugin.process_midi([(t - i, *r) for t, *r in phrase if i <= t < i + BLOCK], BLOCK)
            else:
                np.copyto(block, audio[:, i : i + BLOCK])
                plugin.process(block)
        ours = time.perf_counter() - start
        params = getattr(getattr(plugin, "model", None), "num_parameters", 0)
        H = next(h for h in range(1, 1024) if 4 * h * (1 + h) + 8 * h + h + 1 >= params)
        lstm, lin = torch.nn.LSTM(1, H, batch_first=True), torch.nn.Linear(H, 1)
        x = torch.from_numpy(audio)[:, :, None]
        state = None
        with torch.inference_mode():
            start = time.perf_counter()
            for i in range(0, n, BLOCK):
                y, state = lstm(x[:, i : i + BLOCK], state)
                lin(y)
            theirs = time.perf_counter() - start
        secs = n / SR
        print(
            f"{SR} Hz {name:<11} {params} params: {secs / ours:7.1f}x real time | nn.LSTM({H}) {secs / theirs:6.1f}x "
            f"| plugin is {theirs / ours:5.1f}x faster | {lat}"
        )


if __name__ == "__main__":
    main()
