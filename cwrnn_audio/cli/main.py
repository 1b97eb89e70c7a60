"""``cwrnn-audio``: argument parsing, dispatch, and errors without tracebacks.

Exit codes: 0 done, 1 the work failed, 2 a usage error (bad arguments or
input files). Subcommands live in their own modules and are imported only
when chosen, so ``--help`` and ``--version`` start fast.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys

from .._version import __version__
from ..errors import ParameterError

# name -> module with HELP, add_arguments(parser) and run(args).
SUBCOMMANDS = {
    "demo": "cwrnn_audio.cli.demo",
    "paper": "cwrnn_audio.cli.paper",
    "train": "cwrnn_audio.cli.train",
    "generate": "cwrnn_audio.cli.generate",
    "plugins": "cwrnn_audio.cli.plugins",
    "render": "cwrnn_audio.cli.render",
    "export": "cwrnn_audio.cli.export",
}


def build_parser(argv=None) -> argparse.ArgumentParser:
    """The whole command line; given ``argv``, only the command it names gets its options (a
    command's options read its configuration's defaults, and ``train``'s import torch: 1.4 s that
    ``--help`` and the other commands need not pay)."""
    parser = argparse.ArgumentParser(
        prog="cwrnn-audio",
        description="Clockwork RNNs for audio and music.",
    )
    parser.add_argument("--version", action="version", version=f"cwrnn-audio {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    chosen = None if argv is None else next((a for a in argv if not a.startswith("-")), "")
    for name, module in SUBCOMMANDS.items():
        mod = importlib.import_module(module)
        p = sub.add_parser(name, help=mod.HELP, description=mod.__doc__)
        if chosen is None or chosen == name:
            mod.add_arguments(p)
        p.set_defaults(_run=mod.run)
    return parser


# torch's OpenMP workers spin after each parallel op (libgomp's default: 300,000 rounds, about 6 ms
# on this project's AMD machines) and take a core from the CPU kernels' second thread: training at
# 2 threads ran no faster than at 1 (8 x 32, batch 64: 556k vs 570k samples/s). 20,000 rounds gave
# 788k, and left torch.nn.LSTM's 2-thread speed unchanged (542k vs 554k); OMP_WAIT_POLICY=PASSIVE
# cost the LSTM 3x. libgomp reads it when torch loads, so only a process that has not imported torch
# yet can set it; a user's own setting wins.
GOMP_SPINCOUNT = "20000"


def main(argv=None) -> int:
    if "torch" not in sys.modules:
        os.environ.setdefault("GOMP_SPINCOUNT", GOMP_SPINCOUNT)
    argv = sys.argv[1:] if argv is None else list(argv)
    parser = build_parser(argv)
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    try:
        return int(args._run(args) or 0)
    except ParameterError as exc:
        print(f"cwrnn-audio {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("cwrnn-audio: interrupted", file=sys.stderr)
        return 1
    except Exception as exc:
        if os.environ.get("CWRNN_AUDIO_DEBUG"):
            raise
        print(
            f"cwrnn-audio {args.command}: failed: {type(exc).__name__}: {exc} "
            "(set CWRNN_AUDIO_DEBUG=1 for a traceback)",
            file=sys.stderr,
        )
        return 1
