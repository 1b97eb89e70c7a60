"""Export a model for hosts outside Python: a TorchScript file for nn~ (Max/MSP, PureData) and libtorch.

  cwrnn-audio export MODEL_DIR -o FILE.ts [--plugin effect|generator]

MODEL_DIR is a model folder (or a bundled model's name, e.g. effect_drive, flute_harmonic): an effect
(raw audio in and out) exports as the effect plugin, a harmonic instrument as the generator plugin.
The file follows nn~'s protocol: method ``forward``, one voice per batch entry with its state kept
across calls (the effect: audio (batch, 1, frames) in and out; the instrument: pitch as a MIDI note
number and velocity in [0, 1] (batch, 2, frames) in, audio (batch, 1, frames) out), attributes for the
plugin's parameters (``get_mix``/``set_mix``...), ``set_sample_rate`` for the host rates in
``get_sample_rates()``, and ``reset()``. It is written only when complete (temp file, then rename).
"""

from __future__ import annotations

HELP = "export a model as TorchScript for nn~ and libtorch hosts"


def add_arguments(p) -> None:
    from ..export import EXPORTERS

    p.add_argument("model", metavar="MODEL_DIR")
    p.add_argument("-o", "--output", required=True, metavar="FILE.ts")
    p.add_argument(
        "--plugin", choices=sorted(EXPORTERS), help="what the file plays (default: by the model's encoding)"
    )
    p.add_argument("-q", "--quiet", action="store_true")


def run(args) -> int:
    from ..export import export_model, plugin_for

    plugin = args.plugin or plugin_for(args.model)
    path = export_model(args.model, args.output, plugin=plugin)
    if not args.quiet:
        print(f"wrote {path}: the {plugin} plugin playing {args.model}, for nn~ and libtorch hosts")
    return 0
