"""CW-RNN vs LSTM of equal parameter count, trained the same way on the same MIDI data.

Usage: python benchmarks/bench_midi_nll.py [PATH ...] [--epochs 40] [--encodings melody,events]

Both models go through the same sequence trainer (windows, Adam, clipping, early stopping on the
validation split); prints the best validation negative log-likelihood per event (nats and bits)
and the training time for each. Default data: the bundled tunes (samples/midi).
"""

from __future__ import annotations

import argparse
import math
import tempfile
import time

import cwrnn_audio_samples
from cwrnn_audio.midi.fit import MidiTrainConfig, train_midi


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("paths", nargs="*", default=[str(cwrnn_audio_samples.path("midi"))])
    ap.add_argument("--epochs", type=int, default=40)
    ap.add_argument("--encodings", default="melody,events")
    ap.add_argument("--seeds", type=int, default=3)
    args = ap.parse_args()
    print(f"data: {args.paths}; epochs {args.epochs}, early stopping on validation; {args.seeds} seeds")
    for enc in args.encodings.split(","):
        for arch in ("cwrnn", "lstm"):
            nlls, secs = [], []
            for seed in range(args.seeds):
                cfg = MidiTrainConfig(
                    encoding=enc, architecture=arch, epochs=args.epochs, patience=10, seed=seed
                )
                with tempfile.TemporaryDirectory() as out:
                    start = time.perf_counter()
                    res = train_midi(args.paths, out, cfg, progress=False, log=lambda s: None)
                    secs.append(time.perf_counter() - start)
                nlls.append(min(res["val_loss"]))
            mean = sum(nlls) / len(nlls)
            print(
                f"{enc:<7} {arch:<6} {res['parameters']:>6} params  validation NLL/event "
                f"{mean:.3f} nats ({mean / math.log(2):.3f} bits), runs {[round(v, 3) for v in nlls]}, "
                f"{sum(secs) / len(secs):.1f} s per run"
            )


if __name__ == "__main__":
    main()
