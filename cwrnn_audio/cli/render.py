"""Render an audio file through a plugin, block by block, in constant memory.

  cwrnn-audio render PLUGIN [--model M] -i in.wav -o out.wav [--block 512] [--param NAME=VALUE ...]

The input is read and the output written through soundfile in blocks (an hour-long file is
never loaded whole), at the file's own rate; the output appears only when complete (temp file,
then rename). A plugin's latency (its resampler's delay, at a rate other than its model's) is
compensated: the output has the input's length and lines up with it.
"""

from __future__ import annotations

HELP = "render an audio file through a plugin"


def add_arguments(p) -> None:
    p.add_argument("plugin", metavar="PLUGIN")
    p.add_argument("--model", metavar="MODEL_DIR", help="the plugin's model (default: its bundled example)")
    p.add_argument("-i", "--input", required=True)
    p.add_argument("-o", "--output", required=True)
    p.add_argument("--block", type=int, default=512)
    p.add_argument("--param", action="append", default=[], metavar="NAME=VALUE")
    p.add_argument("-q", "--quiet", action="store_true")


def run(args) -> int:
    from pathlib import Path

    import numpy as np
    import soundfile as sf
    from tqdm.auto import tqdm

    from ..errors import ParameterError
    from ..io.atomic import atomic_path
    from ..plugin import aligned, get_plugin

    if args.block < 1:
        raise ParameterError(f"--block must be a positive integer; got {args.block}")
    values = {}
    for item in args.param:
        name, sep, value = item.partition("=")
        try:
            values[name] = float(value)
        except ValueError:
            raise ParameterError(f"--param must be NAME=NUMBER; got {item!r}") from None
        if not sep:
            raise ParameterError(f"--param must be NAME=NUMBER; got {item!r}")
    cls = get_plugin(args.plugin)
    plugin = cls(args.model, **values) if args.model else cls(**values)
    src = Path(args.input)
    try:
        info = sf.info(str(src))
    except Exception as exc:
        raise ParameterError(f"{src}: not a readable audio file ({exc})") from None
    plugin.prepare(info.samplerate, args.block, info.channels)
    out_path = Path(args.output)
    fmt = out_path.suffix.lstrip(".").upper()
    if fmt not in sf.available_formats():
        raise ParameterError(f"{out_path}: unknown audio format {fmt!r}; use e.g. .wav or .flac")
    block = np.zeros((info.channels, args.block), np.float32)

    def blocks(fin, bar):
        for chunk in fin.blocks(blocksize=args.block, dtype="float32", always_2d=True):
            view = block[:, : chunk.shape[0]]
            np.copyto(view, chunk.T)
            if not np.isfinite(view).all():
                raise ParameterError(f"{src}: NaN or infinite samples")
            bar.update(chunk.shape[0])
            yield np.ascontiguousarray(view)

    with (
        atomic_path(out_path) as tmp,
        sf.SoundFile(str(src)) as fin,
        sf.SoundFile(str(tmp), "w", info.samplerate, info.channels, format=fmt) as fout,
    ):
        with tqdm(
            total=info.frames, unit="frame", unit_scale=True, disable=args.quiet, desc=args.plugin
        ) as bar:
            for y in aligned(plugin, blocks(fin, bar)):
                fout.write(y.T)
    if not args.quiet:
        print(
            f"wrote {out_path}: {info.frames / info.samplerate:.2f} s through {args.plugin} in blocks of {args.block}"
        )
    return 0
