"""Train an autoregressive CW-RNN.

  cwrnn-audio train audio PATH... --encoding raw|mulaw|mel --out MODEL_DIR [--epochs N] ...
  cwrnn-audio train midi PATH... --encoding roll|events|melody --out MODEL_DIR [--epochs N] ...

PATH is an audio file or a folder (searched recursively). Bad files are
skipped and listed; the rest train. MODEL_DIR receives model.safetensors,
config.json, adapter.json, history.json and loss_curve.png; rerun with
--resume after an interruption.
"""
from __future__ import annotations

HELP = "train a model on audio or MIDI files"


def add_arguments(p) -> None:
    sub = p.add_subparsers(dest="kind", metavar="KIND", required=True)
    a = sub.add_parser("audio", help="autoregressive audio model", description=__doc__)
    a.add_argument("paths", nargs="+", metavar="PATH")
    a.add_argument("--encoding", choices=("raw", "mulaw", "mel"), default="mulaw")
    a.add_argument("--out", required=True, metavar="MODEL_DIR")
    a.add_argument("--sample-rate", type=int, default=16000)
    a.add_argument("--context", type=int, default=1, help="mulaw: the last N samples as input (default: %(default)s)")
    a.add_argument("--hop-length", type=int, default=256, help="mel: samples per frame (default: %(default)s)")
    a.add_argument("--n-fft", type=int, default=1024, help="mel: FFT size (default: %(default)s)")
    a.add_argument("--n-mels", type=int, default=64, help="mel: bands (default: %(default)s)")
    a.add_argument("--channels", choices=("mix", "keep"), default="mix")
    a.add_argument("--modules", type=int, default=8)
    a.add_argument("--module-size", type=int, default=16)
    a.add_argument("--periods-seconds", type=float, nargs=2, metavar=("SHORTEST", "LONGEST"),
                   help="spread the clock periods geometrically over this span (default: 1, 2, 4, ... steps)")
    a.add_argument("--epochs", type=int, default=20)
    a.add_argument("--window", type=int, default=256, help="truncated-BPTT window in steps")
    a.add_argument("--chunk-windows", type=int, default=8, help="windows per chunk, state carried across them")
    a.add_argument("--batch", type=int, default=16)
    a.add_argument("--lr", type=float, default=3e-3)
    a.add_argument("--input-noise", type=float, default=0.0, help="noise std on training inputs")
    a.add_argument("--val-fraction", type=float, default=0.1)
    a.add_argument("--patience", type=int, default=5)
    a.add_argument("--seed", type=int, default=0)
    a.add_argument("--device", default="cpu")
    a.add_argument("--resume", action="store_true")
    a.add_argument("-q", "--quiet", action="store_true")

    m = sub.add_parser("midi", help="autoregressive note-stream model", description=__doc__)
    m.add_argument("paths", nargs="+", metavar="PATH")
    m.add_argument("--encoding", choices=("roll", "events", "melody"), default="melody")
    m.add_argument("--out", required=True, metavar="MODEL_DIR")
    m.add_argument("--steps-per-beat", type=int, default=4, help="grid encodings: 4 = sixteenths (default)")
    m.add_argument("--architecture", choices=("cwrnn", "lstm"), default="cwrnn")
    m.add_argument("--modules", type=int, default=6)
    m.add_argument("--module-size", type=int, default=16)
    m.add_argument("--periods-beats", type=float, nargs=2, metavar=("SHORTEST", "LONGEST"),
                   help="grid encodings: spread the clock periods from SHORTEST to LONGEST beats")
    m.add_argument("--drums", choices=("keep", "drop", "only"), default="drop")
    m.add_argument("--epochs", type=int, default=20)
    m.add_argument("--window", type=int, default=64)
    m.add_argument("--chunk-windows", type=int, default=4)
    m.add_argument("--batch", type=int, default=8)
    m.add_argument("--lr", type=float, default=3e-3)
    m.add_argument("--val-fraction", type=float, default=0.1)
    m.add_argument("--patience", type=int, default=5)
    m.add_argument("--seed", type=int, default=0)
    m.add_argument("--device", default="cpu")
    m.add_argument("--resume", action="store_true")
    m.add_argument("-q", "--quiet", action="store_true")


def run(args) -> int:
    if args.kind == "midi":
        return run_midi(args)
    from ..audio.train import AudioTrainConfig, train_audio

    cfg = AudioTrainConfig(
        encoding=args.encoding, context=args.context, hop_length=args.hop_length, n_fft=args.n_fft, n_mels=args.n_mels, sample_rate=args.sample_rate, channels=args.channels, num_modules=args.modules,
        module_size=args.module_size, periods=tuple(args.periods_seconds) if args.periods_seconds else "exponential",
        input_noise=args.input_noise, window=args.window, chunk_windows=args.chunk_windows, batch=args.batch, epochs=args.epochs, lr=args.lr,
        val_fraction=args.val_fraction, patience=args.patience, seed=args.seed, device=args.device,
    )  # fmt: skip
    res = train_audio(args.paths, args.out, cfg, resume=args.resume, progress=not args.quiet, log=print)
    print(f"model: {args.out} (best epoch {res['best_epoch']}, validation loss {min(res['val_loss']):.4f})")
    if res["skipped"]:
        print(f"skipped {len(res['skipped'])} file(s):")
        for path, reason in res["skipped"]:
            print(f"  {reason}")
    return 0


def run_midi(args) -> int:
    from ..midi.train import MidiTrainConfig, train_midi

    cfg = MidiTrainConfig(
        encoding=args.encoding, steps_per_beat=args.steps_per_beat, architecture=args.architecture,
        num_modules=args.modules, module_size=args.module_size, drums=args.drums, epochs=args.epochs,
        periods_beats=tuple(args.periods_beats) if args.periods_beats else None,
        window=args.window, chunk_windows=args.chunk_windows, batch=args.batch, lr=args.lr,
        val_fraction=args.val_fraction, patience=args.patience, seed=args.seed, device=args.device,
    )  # fmt: skip
    res = train_midi(args.paths, args.out, cfg, resume=args.resume, progress=not args.quiet, log=print)
    print(f"model: {args.out} ({res['parameters']} parameters, best epoch {res['best_epoch']}, "
          f"validation loss {min(res['val_loss']):.4f})")  # fmt: skip
    if res["skipped"]:
        print(f"skipped or warned about {len(res['skipped'])} file(s):")
        for _, reason in res["skipped"]:
            print(f"  {reason}")
    return 0
