"""Render an audio file through a plugin, block by block, in constant memory.

  cwrnn-audio render PLUGIN [--model M] -i in.wav -o out.wav [--block 512] [--param NAME=VALUE ...]
  cwrnn-audio render generator [--model M] --midi song.mid -o out.wav [--sample-rate 48000]

The input is read and the output written through soundfile in blocks (an hour-long file is
never loaded whole), at the file's own rate; the output appears only when complete (temp file,
then rename). A plugin's latency (its resampler's delay, at a rate other than its model's) is
compensated: the output has the input's length and lines up with it. With ``--midi``, an
instrument plugin (one with ``process_midi``) plays the file's notes, each event at its own frame
inside its block, until ``--tail`` seconds after the last note-off.
"""

from __future__ import annotations

HELP = "render an audio file through a plugin"


def add_arguments(p) -> None:
    p.add_argument("plugin", metavar="PLUGIN")
    p.add_argument("--model", metavar="MODEL_DIR", help="the plugin's model (default: its bundled example)")
    source = p.add_mutually_exclusive_group(required=True)
    source.add_argument("-i", "--input", help="audio to process")
    source.add_argument("--midi", metavar="FILE.mid", help="notes for an instrument plugin to play")
    p.add_argument(
        "--sample-rate", type=int, default=48000, help="--midi: the host rate (default: %(default)s)"
    )
    p.add_argument("--tail", type=float, default=1.0, help="--midi: seconds after the last note-off")
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
    if args.midi:
        return run_midi(args, plugin)
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


def run_midi(args, plugin) -> int:
    """An instrument plugin plays ``args.midi`` at ``args.sample_rate``, written to ``args.output``."""
    from pathlib import Path

    from ..errors import ParameterError
    from ..io.audio_file import write_audio
    from ..midi.read import read_midi

    if not args.tail >= 0:
        raise ParameterError(f"--tail must be >= 0 seconds; got {args.tail}")
    notes = read_midi(args.midi, drums="drop").notes
    if not notes:
        raise ParameterError(f"{args.midi}: the file has no notes to play")
    sr = args.sample_rate
    plugin.prepare(sr, args.block, 2)
    # note-offs first at a shared frame, so a repeated note restarts
    events = sorted(
        [(round(n.start * sr), 1, "note_on", n.pitch, n.velocity) for n in notes]
        + [(round(n.end * sr), 0, "note_off", n.pitch, 0) for n in notes]
    )
    total = round((max(n.end for n in notes) + args.tail) * sr)
    skip = plugin.latency_samples  # the output is delayed by it: render that much more, drop it
    out, i = [], 0
    for start in range(0, total + skip, args.block):
        n = min(args.block, total + skip - start)
        block_events = []
        while i < len(events) and events[i][0] < start + n:
            frame, _, kind, note, velocity = events[i]
            block_events.append((frame - start, kind, note, velocity))
            i += 1
        out.append(plugin.process_midi(block_events, n).copy())
    import numpy as np

    audio = np.concatenate(out, axis=1)[:, skip:]
    path = write_audio(Path(args.output), audio, sr)
    if not args.quiet:
        print(
            f"wrote {path}: {len(notes)} notes, {audio.shape[1] / sr:.2f} s at {sr} Hz through {args.plugin}"
        )
    return 0
