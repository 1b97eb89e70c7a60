"""Reproduce the paper's experiments.

  cwrnn-audio paper generation [AUDIO_FILE] --out DIR   (Sec. 4.1, sequence generation)
  cwrnn-audio paper tune [AUDIO_FILE] --out DIR         (one hyper-parameter search for all methods)

AUDIO_FILE defaults to the bundled bach_prelude_fluidr3.flac: real music, a
sampled piano playing Bach (the synthetic samples/piano_phrase.wav still works
when given by path).

After an interruption, rerun the same command with --resume: methods and
sizes already finished in DIR are kept, and the one in progress continues
from its checkpoint to the same result.
"""

from __future__ import annotations

import argparse

from ..core.kinds import KINDS
from ..core.sampling import BACKENDS
from .options import config_defaults

HELP = "reproduce the paper's experiments (generation, tune)"
DEFAULT_MUSIC = "bach_prelude_fluidr3.flac"  # in cwrnn_audio_samples


def _csv(kind):
    def parse(text):
        try:
            return tuple(kind(v) for v in text.split(",") if v)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a comma-separated list; got {text!r}") from None

    return parse


class _Join(argparse.Action):
    """A list option given as ``--sizes 100,1000`` or ``--sizes 100 1000`` (or both ways at once):
    each word is parsed by the ``_csv`` type, and the words' values joined."""

    def __call__(self, parser, namespace, values, option_string=None):
        setattr(namespace, self.dest, tuple(v for part in values for v in part))


def _list_option(p, flag, kind, default, help) -> None:
    p.add_argument(flag, type=_csv(kind), nargs="+", action=_Join, default=default, help=help)


def add_arguments(p) -> None:
    # the experiments' configurations hold every default (main builds these options only for `paper`)
    import cwrnn_audio_samples

    from ..experiments.generation import GenerationConfig

    sub = p.add_subparsers(dest="experiment", metavar="EXPERIMENT", required=True)
    g = sub.add_parser("generation", help="sequence generation (Sec. 4.1)", description=__doc__)
    d = config_defaults(GenerationConfig)
    _experiment_arguments(
        g,
        cwrnn_audio_samples,
        d,
        unit="networks per method and size",
        out="results.json, outputs and PNGs",
    )
    g.add_argument(
        "--clip",
        type=float,
        default=d["clip"],
        help="gradient-norm clip per network; 0 disables (default: %(default)s)",
    )
    g.add_argument(
        "--settings",
        metavar="TUNED_JSON",
        help="also train with these tuned settings (paper tune), side by side, on excerpts from the "
        "half of the file the search never saw",
    )
    _add_tune(sub, cwrnn_audio_samples)


TUNE_DOC = """One hyper-parameter search, the same for every method and size.

Every setting (optimizer x learning rate x gradient clip, x forget-gate bias for the LSTM)
trains --runs networks for --epochs epochs on development excerpts from the first half of
AUDIO_FILE (the second half is left for the scored excerpts). Per method and size the setting
with the lowest mean NMSE is chosen. Writes DIR/tuned.json and DIR/tune_<method>.png; each
finished setting is recorded in DIR/settings, so --resume skips it.
"""


def _clip(text):
    return None if text.lower() in ("none", "0") else float(text)


GRID = ("lrs", "optimizers", "clips", "forget_biases")  # options whose None means the grid's default


def _shown(values) -> str:
    return ",".join("none" if v is None else f"{v:g}" if isinstance(v, float) else str(v) for v in values)


def _add_tune(sub, samples) -> None:
    from ..experiments.tune import TuneConfig

    t = sub.add_parser("tune", help="hyper-parameter search on development excerpts", description=TUNE_DOC)
    d = config_defaults(TuneConfig)
    _experiment_arguments(t, samples, d, unit="networks per setting", out="tuned.json, records and PNGs")
    _list_option(t, "--lrs", float, None, f"learning rates (default: {_shown(d['lrs'])})")
    _list_option(
        t,
        "--optimizers",
        str,
        None,
        f"optimizers, sgd with Nesterov momentum 0.95 (default: {_shown(d['optimizers'])})",
    )
    _list_option(
        t, "--clips", _clip, None, f"gradient-norm clips, none for none (default: {_shown(d['clips'])})"
    )
    _list_option(
        t, "--forget-biases", float, None, f"LSTM forget-gate biases (default: {_shown(d['forget_biases'])})"
    )
    t.add_argument(
        "--dev-excerpts",
        type=int,
        default=d["dev_excerpts"],
        help="development excerpts (default: %(default)s)",
    )


def _experiment_arguments(p, samples, d: dict, *, unit: str, out: str) -> None:
    """The options ``generation`` and ``tune`` share: the music, the folder, the populations."""
    from ..train.losses import REDUCTIONS

    p.add_argument(
        "audio",
        metavar="AUDIO_FILE",
        nargs="?",
        default=str(samples.path(DEFAULT_MUSIC)),
        help=f"music file (any format soundfile/librosa reads; default: the bundled {DEFAULT_MUSIC})",
    )
    p.add_argument("--out", required=True, metavar="DIR", help=f"folder for {out}")
    p.add_argument("--runs", type=int, default=d["runs"], help=f"{unit} (default: %(default)s)")
    _list_option(
        p,
        "--sizes",
        int,
        d["sizes"],
        f"parameter budgets, e.g. 100,1000 or 100 1000 (default: {_shown(d['sizes'])})",
    )
    _list_option(
        p, "--methods", str, d["methods"], f"e.g. {','.join(KINDS)} (default: {_shown(d['methods'])})"
    )
    p.add_argument("--epochs", type=int, default=d["epochs"], help="default: %(default)s (the paper's)")
    p.add_argument("--seed", type=int, default=d["seed"])
    p.add_argument("--backend", choices=BACKENDS, default=d["backend"])
    p.add_argument("--device", default=d["device"], help="torch backend: cpu or cuda (default: %(default)s)")
    p.add_argument("--loss", choices=REDUCTIONS, default=d["loss"], help="default: %(default)s (see README)")
    p.add_argument("--resume", action="store_true", help="continue an interrupted run in DIR")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bars")


def _population_values(args) -> dict:
    """The shared options as keyword arguments of GenerationConfig and TuneConfig."""
    keys = ("runs", "sizes", "methods", "epochs", "seed", "backend", "device", "loss")
    return {k: getattr(args, k) for k in keys}


def run(args) -> int:
    if args.experiment == "tune":
        return _run_tune(args)
    return _run_generation(args)


def _run_tune(args) -> int:
    from pathlib import Path

    from ..experiments.tune import TuneConfig, format_chosen, run_tune

    grid = {k: getattr(args, k) for k in GRID if getattr(args, k) is not None}
    cfg = TuneConfig(**_population_values(args), **grid, dev_excerpts=args.dev_excerpts)
    out = Path(args.out)
    quiet = (lambda s: None) if args.quiet else print
    data = run_tune(args.audio, out, cfg, resume=args.resume, progress=not args.quiet, log=quiet)
    print(format_chosen(data))
    print(f"settings: {out / 'tuned.json'}")
    try:
        from ..plots.tuning import tuning_curves

        pngs = [tuning_curves(data, out / f"tune_{m}.png", method=m) for m in cfg.methods]
        print("figures: " + ", ".join(str(p) for p in pngs))
    except Exception as exc:  # the numbers are written; a missing matplotlib should not lose them
        print(f"figures skipped: {exc}")
    return 0


def _run_generation(args) -> int:
    from pathlib import Path

    from ..experiments.generation import GenerationConfig, format_comparison, format_table, run_generation

    cfg = GenerationConfig(**_population_values(args), clip=args.clip or None)
    out = Path(args.out)
    quiet = (lambda s: None) if args.quiet else print
    settings = None
    if args.settings:
        from ..experiments.tune import load_settings

        settings = load_settings(args.settings)
    results = run_generation(
        args.audio, out, cfg, settings=settings, resume=args.resume, progress=not args.quiet, log=quiet
    )
    if settings is None:
        print(format_table(results["nmse"], cfg.sizes, cfg.methods))
    else:
        print(format_comparison(results, cfg.sizes, cfg.methods))
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
