"""Reproduce the paper's experiments.

  cwrnn-audio paper generation [AUDIO_FILE] --out DIR   (Sec. 4.1, sequence generation)

AUDIO_FILE defaults to the bundled bach_prelude_fluidr3.flac: real music, a
sampled piano playing Bach (the synthetic samples/piano_phrase.wav still works
when given by path).

After an interruption, rerun the same command with --resume: methods and
sizes already finished in DIR are kept, and the one in progress continues
from its checkpoint to the same result.
"""

from __future__ import annotations

HELP = "reproduce the paper's experiments (generation)"
DEFAULT_MUSIC = "bach_prelude_fluidr3.flac"  # in cwrnn_audio_samples


def _csv(kind):
    def parse(text):
        try:
            return tuple(kind(v) for v in text.split(",") if v)
        except ValueError:
            raise __import__("argparse").ArgumentTypeError(
                f"expected a comma-separated list; got {text!r}"
            ) from None

    return parse


def add_arguments(p) -> None:
    sub = p.add_subparsers(dest="experiment", metavar="EXPERIMENT", required=True)
    g = sub.add_parser("generation", help="sequence generation (Sec. 4.1)", description=__doc__)
    import cwrnn_audio_samples  # importlib.resources only: cheap enough for every parser build

    g.add_argument(
        "audio",
        metavar="AUDIO_FILE",
        nargs="?",
        default=str(cwrnn_audio_samples.path(DEFAULT_MUSIC)),
        help=f"music file (any format soundfile/librosa reads; default: the bundled {DEFAULT_MUSIC})",
    )
    g.add_argument("--out", required=True, metavar="DIR", help="folder for results.json, outputs and PNGs")
    g.add_argument(
        "--runs", type=int, default=100, help="networks per method and size (default: %(default)s)"
    )
    g.add_argument(
        "--sizes", type=_csv(int), default=(100, 250, 500, 1000), help="parameter budgets, e.g. 100,1000"
    )
    g.add_argument("--methods", type=_csv(str), default=("srn", "lstm", "cwrnn"), help="e.g. srn,lstm,cwrnn")
    g.add_argument("--epochs", type=int, default=2000, help="default: %(default)s (the paper's)")
    g.add_argument("--seed", type=int, default=0)
    g.add_argument("--backend", choices=("numba", "torch"), default="numba")
    g.add_argument("--device", default="cpu", help="torch backend: cpu or cuda (default: %(default)s)")
    g.add_argument(
        "--loss", choices=("sum", "half", "mean"), default="sum", help="default: %(default)s (see README)"
    )
    g.add_argument(
        "--clip",
        type=float,
        default=10.0,
        help="gradient-norm clip per network; 0 disables (default: %(default)s)",
    )
    g.add_argument("--resume", action="store_true", help="continue an interrupted run in DIR")
    g.add_argument("-q", "--quiet", action="store_true", help="no progress bars")


def run(args) -> int:
    from pathlib import Path

    from ..experiments.generation import GenerationConfig, format_table, run_generation

    cfg = GenerationConfig(
        runs=args.runs,
        sizes=args.sizes,
        methods=args.methods,
        epochs=args.epochs,
        seed=args.seed,
        backend=args.backend,
        device=args.device,
        loss=args.loss,
        clip=args.clip or None,
    )
    out = Path(args.out)
    quiet = (lambda s: None) if args.quiet else print
    results = run_generation(args.audio, out, cfg, resume=args.resume, progress=not args.quiet, log=quiet)
    print(format_table(results["nmse"], cfg.sizes, cfg.methods))
    print(f"results: {out / 'results.json'}")
    try:
        import numpy as np

        from ..plots.generation import best_outputs, box_plots

        box_plots(results, out / "nmse_boxplots.png")
        outputs = dict(np.load(out / "outputs.npz"))
        best_outputs(outputs, out / f"best_outputs_{max(cfg.sizes)}.png", size=max(cfg.sizes))
        print(f"figures: {out / 'nmse_boxplots.png'}, {out / f'best_outputs_{max(cfg.sizes)}.png'}")
    except Exception as exc:  # the numbers are written; a missing matplotlib should not lose them
        print(f"figures skipped: {exc}")
    return 0
