"""Train an autoregressive CW-RNN.

  cwrnn-audio train audio PATH... --encoding raw|mulaw|mel|harmonic --out MODEL_DIR [--epochs N] ...
  cwrnn-audio train midi PATH... --encoding roll|events|melody --out MODEL_DIR [--epochs N] ...
  torchrun --standalone --nproc-per-node N -m cwrnn_audio train midi|audio PATH... --out MODEL_DIR --distributed
  cwrnn-audio train effect --dry A.wav [B.wav ...] --wet A_fx.wav [B_fx.wav ...] --out MODEL_DIR ...

PATH is an audio file or a folder (searched recursively). Bad files are
skipped and listed; the rest train. MODEL_DIR receives model.safetensors,
config.json, adapter.json, history.json and loss_curve.png; rerun with
--resume after an interruption.
"""

from __future__ import annotations

import argparse

from ..core.kinds import SEQUENCE_KINDS
from .options import config_defaults

HELP = "train a model on audio or MIDI files"


class _Format(argparse.ArgumentDefaultsHelpFormatter, argparse.RawDescriptionHelpFormatter):
    """Every option's default in --help (not a None or False: a flag, or a default its help
    describes); the description's layout kept."""

    def _get_help_string(self, action):
        if action.default is None or action.default is False:
            return action.help
        return super()._get_help_string(action)


_FORMAT = dict(description=__doc__, formatter_class=_Format)


def add_arguments(p) -> None:
    # the configurations live with their trainers (torch loads with them: main builds these options
    # only for `train`)
    from ..audio.effect import EffectTrainConfig
    from ..audio.fit import AudioTrainConfig
    from ..midi.fit import MidiTrainConfig
    from ..models.registry import codec_names

    sub = p.add_subparsers(dest="kind", metavar="KIND", required=True)
    a = sub.add_parser("audio", help="autoregressive audio model", **_FORMAT)
    d = config_defaults(AudioTrainConfig)
    a.add_argument("paths", nargs="+", metavar="PATH")
    a.add_argument(
        "--encoding", choices=codec_names("audio"), default=d["encoding"], help="what the model predicts"
    )
    a.add_argument("--out", required=True, metavar="MODEL_DIR")
    a.add_argument(
        "--sample-rate",
        type=int,
        default=d["sample_rate"],
        help="the model's rate in Hz; files are resampled",
    )
    a.add_argument("--context", type=int, default=d["context"], help="mulaw: the last N samples as input")
    a.add_argument("--hop-length", type=int, default=d["hop_length"], help="mel: samples per frame")
    a.add_argument("--n-fft", type=int, default=d["n_fft"], help="mel: FFT size")
    a.add_argument("--n-mels", type=int, default=d["n_mels"], help="mel: bands")
    a.add_argument("--frame-rate", type=int, default=d["frame_rate"], help="harmonic: frames per second")
    a.add_argument("--n-harmonics", type=int, default=d["n_harmonics"], help="harmonic: oscillators")
    a.add_argument("--n-noise", type=int, default=d["n_noise"], help="harmonic: noise bands")
    a.add_argument(
        "--score",
        action="append",
        metavar="FILE.mid",
        help="harmonic: the score of each recording, once per PATH in the same order; trains an "
        "expression model beside the instrument (MODEL_DIR/expression) that generate --midi plays with",
    )
    a.add_argument(
        "--channels",
        choices=("mix", "keep"),
        default=d["channels"],
        help="mix to mono, or a stream per channel",
    )
    _network_arguments(
        a,
        d,
        periods="--periods-seconds",
        periods_help="spread the clock periods geometrically over this span (default: 1, 2, 4, ... steps)",
    )
    _loop_arguments(a, d)
    _distributed_arguments(a)
    a.add_argument(
        "--cache-dir", metavar="DIR", help="with --distributed: keep decoded, resampled audio here"
    )

    m = sub.add_parser("midi", help="autoregressive note-stream model", **_FORMAT)
    d = config_defaults(MidiTrainConfig)
    m.add_argument("paths", nargs="+", metavar="PATH")
    m.add_argument("--encoding", choices=codec_names("midi"), default=d["encoding"], help="note stream")
    m.add_argument("--out", required=True, metavar="MODEL_DIR")
    m.add_argument(
        "--steps-per-beat", type=int, default=d["steps_per_beat"], help="grid encodings: 4 = sixteenths"
    )
    m.add_argument(
        "--architecture",
        choices=SEQUENCE_KINDS,
        default=d["architecture"],
        help="lstm: the baseline, same parameters",
    )
    _network_arguments(
        m,
        d,
        periods="--periods-beats",
        periods_help="grid encodings: spread the clock periods from SHORTEST to LONGEST beats",
    )
    m.add_argument("--drums", choices=("keep", "drop", "only"), default=d["drums"], help="channel-10 notes")
    _loop_arguments(m, d)
    _distributed_arguments(m)

    e = sub.add_parser("effect", help="an effect from (dry, processed) recording pairs", **_FORMAT)
    d = config_defaults(EffectTrainConfig)
    e.add_argument("--dry", nargs="+", required=True, metavar="FILE")
    e.add_argument(
        "--wet", nargs="+", required=True, metavar="FILE", help="the processed files, in the same order"
    )
    e.add_argument("--out", required=True, metavar="MODEL_DIR")
    e.add_argument(
        "--sample-rate",
        type=int,
        default=d["sample_rate"],
        help="the model's rate in Hz; files are resampled",
    )
    _network_arguments(e, d)
    _loop_arguments(e, d)


def _network_arguments(p, d: dict, *, periods: str | None = None, periods_help: str = "") -> None:
    """The CW-RNN's size, and for the autoregressive kinds its clock-period span in their own unit."""
    p.add_argument("--modules", type=int, default=d["num_modules"], help="CW-RNN modules (clock periods)")
    p.add_argument("--module-size", type=int, default=d["module_size"], help="units per module")
    if periods:
        p.add_argument(periods, type=float, nargs=2, metavar=("SHORTEST", "LONGEST"), help=periods_help)


def _loop_arguments(p, d: dict) -> None:
    """The truncated-BPTT trainer's options (train.sequence.LoopConfig), shared by every kind."""
    p.add_argument(
        "--epochs", type=int, default=d["epochs"], help="at most (early stopping); may grow on --resume"
    )
    p.add_argument("--window", type=int, default=d["window"], help="truncated-BPTT window in steps")
    p.add_argument(
        "--chunk-windows",
        type=int,
        default=d["chunk_windows"],
        help="windows per chunk, state carried across them",
    )
    p.add_argument("--batch", type=int, default=d["batch"], help="chunks per batch")
    p.add_argument("--lr", type=float, default=d["lr"], help="Adam learning rate")
    p.add_argument("--input-noise", type=float, default=d["input_noise"], help="noise std on training inputs")
    p.add_argument(
        "--val-fraction",
        type=float,
        default=d["val_fraction"],
        help="tail of each file held out for validation (whole files when none is long enough)",
    )
    p.add_argument(
        "--patience",
        type=int,
        default=d["patience"],
        help="epochs without a better validation loss before stopping",
    )
    p.add_argument("--seed", type=int, default=d["seed"], help="initial weights, data order and noise")
    p.add_argument("--device", default=d["device"], help="cpu or cuda")
    p.add_argument(
        "--threads",
        type=int,
        default=None,
        help="torch's and Numba's threads, one count for both (default: $CWRNN_AUDIO_THREADS, else 1: "
        "more threads than free cores make training several times slower)",
    )
    p.add_argument("--resume", action="store_true", help="continue from the checkpoint in MODEL_DIR")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bars")


def _distributed_arguments(p) -> None:
    p.add_argument(
        "--distributed",
        action="store_true",
        help="DDP under torchrun (gloo on CPUs, NCCL with --device cuda); files are streamed window by window",
    )
    p.add_argument(
        "--workers",
        type=int,
        default=0,
        help="with --distributed: DataLoader processes per rank",
    )


def _values(args, *keys) -> dict:
    """Options whose names the config fields share."""
    return {k: getattr(args, k) for k in keys}


def _network_values(args) -> dict:
    return dict(num_modules=args.modules, module_size=args.module_size)


def _loop_values(args) -> dict:
    return _values(
        args,
        "epochs",
        "window",
        "chunk_windows",
        "batch",
        "lr",
        "input_noise",
        "val_fraction",
        "patience",
        "seed",
        "device",
    )


def run(args) -> int:
    from ..train.distributed import SharedError
    from ..train.threads import use_threads

    use_threads(args.threads)
    try:
        if args.kind == "midi":
            return run_midi(args)
        if args.kind == "effect":
            return run_effect(args)
        return run_audio(args)
    except SharedError:
        if _is_main():
            raise
        return 2  # every rank met it; rank 0 says it, once per job


def run_audio(args) -> int:
    from ..audio.fit import AudioTrainConfig, train_audio

    cfg = AudioTrainConfig(
        **_values(args, "encoding", "context", "hop_length", "n_fft", "n_mels", "sample_rate", "channels"),
        **_values(args, "frame_rate", "n_harmonics", "n_noise"),
        periods=tuple(args.periods_seconds) if args.periods_seconds else "exponential",
        **_network_values(args),
        **_loop_values(args),
    )
    pairs = _score_pairs(args)
    res = train_audio(args.paths, args.out, cfg, cache_dir=args.cache_dir, **_run_options(args))
    _report(args, res, "skipped")
    if pairs:
        from pathlib import Path

        from ..expression.fit import ExpressionTrainConfig, train_expression
        from ..expression.play import FOLDER, LIVE_FOLDER

        expr = ExpressionTrainConfig(frame_rate=cfg.frame_rate, seed=cfg.seed, device=cfg.device)
        out, live = Path(args.out) / FOLDER, Path(args.out) / LIVE_FOLDER
        resume = args.resume and out.is_dir() and live.is_dir()
        h = train_expression(pairs, out, expr, live_dir=live, resume=resume, progress=not args.quiet)
        print(
            f"expression models: {out} (best epoch {h['best_epoch']}, validation loss {min(h['val_loss']):.4f}) "
            f"and {live}, playing live"
        )
    return 0


def _score_pairs(args) -> list:
    """``[(recording, score)]`` from ``--score``, checked before any training: harmonic only, one
    score per recording file, every file there."""
    from pathlib import Path

    from ..errors import ParameterError

    if not args.score:
        return []
    if args.encoding != "harmonic":
        raise ParameterError(
            f"--score trains an expression model for a harmonic instrument; got --encoding {args.encoding}"
        )
    if args.distributed:
        raise ParameterError(
            "--score does not train under --distributed; train the instrument, then its scores alone"
        )
    if len(args.score) != len(args.paths):
        raise ParameterError(
            f"--score: one score per recording, in order; got {len(args.score)} for {len(args.paths)} PATHs"
        )
    for f in (*args.paths, *args.score):
        if not Path(f).is_file():
            raise ParameterError(f"--score needs recordings and scores as files; {f}: no such file")
    return list(zip(args.paths, args.score))


def _run_options(args) -> dict:
    """How the audio and MIDI trainers run: resuming, progress, logging, DDP."""
    return dict(
        resume=args.resume,
        progress=not args.quiet,
        log=print,
        distributed=args.distributed,
        workers=args.workers,
    )


def _report(args, res, skipped_verb: str, *, parameters: bool = False) -> int:
    # ``parameters`` is a flag rather than ready text so that only rank 0 reads ``res``.
    if _is_main():
        extra = f"{res['parameters']} parameters, " if parameters else ""
        print(
            f"model: {args.out} ({extra}best epoch {res['best_epoch']}, "
            f"{res.get('val_loss_is', 'validation loss')} {min(res['val_loss']):.4f})"
        )
        _report_skipped(res["skipped"], skipped_verb)
    return 0


def _is_main() -> bool:
    """Only rank 0 of a torchrun job reports (RANK is unset outside torchrun)."""
    import os

    return os.environ.get("RANK", "0") == "0"


def _report_skipped(skipped, verb: str) -> None:
    if skipped:
        print(f"{verb} {len(skipped)} file(s):")
        for _, reason in skipped:
            print(f"  {reason}")


def run_midi(args) -> int:
    from ..midi.fit import MidiTrainConfig, train_midi

    cfg = MidiTrainConfig(
        **_values(args, "encoding", "steps_per_beat", "architecture", "drums"),
        periods_beats=tuple(args.periods_beats) if args.periods_beats else None,
        **_network_values(args),
        **_loop_values(args),
    )
    res = train_midi(args.paths, args.out, cfg, **_run_options(args))
    return _report(args, res, "skipped or warned about", parameters=True)


def run_effect(args) -> int:
    from ..audio.effect import EffectTrainConfig, train_effect

    cfg = EffectTrainConfig(sample_rate=args.sample_rate, **_network_values(args), **_loop_values(args))
    res = train_effect(
        args.dry, args.wet, args.out, cfg, resume=args.resume, progress=not args.quiet, log=print
    )
    print(
        f"model: {args.out} (best epoch {res['best_epoch']}, "
        f"{res.get('val_loss_is', 'validation')} MSE {min(res['val_loss']):.5f}); "
        f"use it with: cwrnn-audio render effect --model {args.out} -i IN -o OUT"
    )
    return 0
