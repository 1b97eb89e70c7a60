"""Export a model for hosts outside Python: a TorchScript file for nn~ (Max/MSP, PureData) and libtorch.

  cwrnn-audio export MODEL_DIR -o FILE.ts [--plugin effect]

MODEL_DIR is a model folder the plugin plays (or a bundled model's name, e.g. effect_drive). The
file follows nn~'s protocol: method ``forward`` ((batch, 1, frames) in and out, one voice per batch
entry, state kept across calls), attributes for the plugin's parameters (``get_mix``/``set_mix``...),
``set_sample_rate`` for the host rates in ``get_sample_rates()``, and ``reset()``. It is written
only when complete (temp file, then rename).
"""

from __future__ import annotations

HELP = "export a model as TorchScript for nn~ and libtorch hosts"


def add_arguments(p) -> None:
    from ..export import EXPORTERS

    p.add_argument("model", metavar="MODEL_DIR")
    p.add_argument("-o", "--output", required=True, metavar="FILE.ts")
    p.add_argument(
        "--plugin",
        default="effect",
        choices=sorted(EXPORTERS),
        help="what the file plays (default: %(default)s)",
    )
    p.add_argument("-q", "--quiet", action="store_true")


def run(args) -> int:
    from ..export import export_model

    path = export_model(args.model, args.output, plugin=args.plugin)
    if not args.quiet:
        print(f"wrote {path}: the {args.plugin} plugin playing {args.model}, for nn~ and libtorch hosts")
    return 0
