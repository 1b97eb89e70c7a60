"""Render a file through a plugin, block by block, in constant memory.

  cwrnn-audio render EFFECT [--model M] -i in.wav -o out.wav [--block N] [--param NAME=VALUE ...]
  cwrnn-audio render INSTRUMENT [--model M] --midi song.mid -o out.wav [--sample-rate HZ]
  cwrnn-audio render MIDI_EFFECT [--model M] --midi song.mid -o answer.mid

The plugin says what it is (``plugin.kind``): an effect takes audio (-i), an instrument plays the
notes of --midi into audio, a MIDI effect answers the notes of --midi with notes (a MIDI file).
Audio is read and written through soundfile in blocks (an hour-long file is never loaded whole),
at the input's own rate and sample format where the output format can hold it; the output
appears only when complete (temp file, then rename). A plugin's latency (its resampler's delay,
at a rate other than its model's) is compensated: the output lines up with the input. Each MIDI
event acts at its own frame inside its block, until ``--tail`` seconds after the last note (for a
MIDI effect: after the last note in or out). ``--param`` sets a plugin parameter, or one of its
constructor's options (e.g. the generator's ``polyphony``).
"""

from __future__ import annotations

HELP = "render audio or MIDI through a plugin"

MAX_TAIL_S = 3600.0
MIDI_SUFFIXES = (".mid", ".midi")
#: a MIDI effect's default tail: its answer may come after a pause (the continuator's is <= 10 s)
MIDI_EFFECT_TAIL_S = 10.0


def add_arguments(p) -> None:
    from ..plugin.base import HOST_BLOCK, HOST_RATE

    p.add_argument("plugin", metavar="PLUGIN")
    p.add_argument("--model", metavar="MODEL_DIR", help="the plugin's model (default: its bundled example)")
    source = p.add_mutually_exclusive_group(required=True)
    source.add_argument("-i", "--input", help="audio for an effect to process")
    source.add_argument("--midi", metavar="FILE.mid", help="notes for an instrument or a MIDI effect")
    p.add_argument(
        "--sample-rate", type=int, default=HOST_RATE, help="--midi: the host rate (default: %(default)s)"
    )
    p.add_argument(
        "--tail",
        type=float,
        default=None,
        help=f"--midi: seconds rendered after the last note (default: 1; a MIDI effect {MIDI_EFFECT_TAIL_S:g})",
    )
    p.add_argument("-o", "--output", required=True)
    p.add_argument("--block", type=int, default=HOST_BLOCK, help="frames per block (default: %(default)s)")
    p.add_argument("--param", action="append", default=[], metavar="NAME=VALUE")
    p.add_argument("-q", "--quiet", action="store_true")


def run(args) -> int:
    from ..errors import ParameterError
    from ..plugin import get_plugin

    if args.block < 1:
        raise ParameterError(f"--block must be a positive integer; got {args.block}")
    if args.tail is not None and not 0 <= args.tail <= MAX_TAIL_S:
        raise ParameterError(f"--tail must be a number of seconds in [0, {MAX_TAIL_S:g}]; got {args.tail}")
    cls = get_plugin(args.plugin)
    options, values = _split_params(cls, args.param)
    kind = getattr(cls, "kind", "effect")
    _check_source_and_output(args, kind)
    plugin = cls(args.model, **options) if args.model else cls(**options)
    for name, value in values.items():
        try:
            plugin[name] = value
        except ParameterError as exc:
            extra = f"; constructor options: {sorted(_options(cls))}" if _options(cls) else ""
            raise ParameterError(f"--param {name}: {exc}{extra}") from None
    if plugin.is_instrument:
        return run_instrument(args, plugin)
    if plugin.is_midi_effect:
        return run_midi_effect(args, plugin)
    return run_effect(args, plugin)


def _check_source_and_output(args, kind) -> None:
    """Refuse, before loading anything, an input or output this kind of plugin cannot use."""
    from pathlib import Path

    from ..errors import ParameterError

    name, midi_out = args.plugin, Path(args.output).suffix.lower() in MIDI_SUFFIXES
    if kind == "effect" and args.midi:
        raise ParameterError(
            f"{name} is an effect (audio in, audio out), not a note-stream plugin: give it audio with -i IN.wav"
        )
    if kind == "instrument" and not args.midi:
        raise ParameterError(f"{name} is an instrument: it plays notes; give them with --midi FILE.mid")
    if kind == "midi_effect" and not args.midi:
        raise ParameterError(f"{name} is a MIDI effect: it answers notes; give them with --midi FILE.mid")
    if kind == "midi_effect" and not midi_out:
        raise ParameterError(
            f"{name} is a MIDI effect: it produces notes, not audio; give a MIDI output (-o OUT.mid), "
            f"not {args.output}"
        )
    if kind != "midi_effect" and midi_out:
        raise ParameterError(
            f"{name} produces audio; give an audio output (e.g. -o out.wav), not {args.output}"
        )


def _options(cls) -> dict:
    """The constructor's keyword-only options with a bool, int or float default, by name."""
    import inspect

    try:
        sig = inspect.signature(cls.__init__)
    except (TypeError, ValueError):
        return {}
    return {
        p.name: p.default
        for p in sig.parameters.values()
        if p.kind is p.KEYWORD_ONLY and type(p.default) in (bool, int, float)
    }


def _split_params(cls, items) -> tuple[dict, dict]:
    """``--param`` values: constructor options typed as their defaults, the rest parameters (floats)."""
    from ..errors import ParameterError

    options, values, known = {}, {}, _options(cls)
    for item in items:
        name, sep, text = item.partition("=")
        if not sep or not name:
            raise ParameterError(f"--param must be NAME=VALUE; got {item!r}")
        default = known.get(name)
        try:
            if isinstance(default, bool):
                flags = {"true": True, "1": True, "yes": True, "false": False, "0": False, "no": False}
                options[name] = flags[text.strip().lower()]
            elif isinstance(default, int):
                options[name] = int(text)
            elif isinstance(default, float):
                options[name] = float(text)
            else:
                values[name] = float(text)
        except (KeyError, ValueError):
            want = {bool: "true or false", int: "an integer"}.get(type(default), "a number")
            raise ParameterError(f"--param {name} must be {want}; got {item!r}") from None
    return options, values


def run_effect(args, plugin) -> int:
    """An effect processes ``args.input`` into ``args.output`` at the input's rate and format."""
    from pathlib import Path

    import numpy as np
    import soundfile as sf
    from tqdm.auto import tqdm

    from ..errors import ParameterError
    from ..io.audio_file import audio_info, check_audio_output, open_audio_output
    from ..plugin import aligned
    from ..runtime.resample import valid_rate

    src, out_path = Path(args.input), Path(args.output)
    info = audio_info(src)
    try:
        valid_rate(info.samplerate, name="its sample rate")
    except ParameterError as exc:
        raise ParameterError(f"{src}: {exc}; resample the file to a rate in that range first") from None
    _, subtype = check_audio_output(out_path, info.samplerate, info.channels, subtype=info.subtype, keep=True)
    plugin.prepare(info.samplerate, args.block, info.channels)
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
        sf.SoundFile(str(src)) as fin,
        open_audio_output(out_path, info.samplerate, info.channels, subtype=subtype) as fout,
        tqdm(total=info.frames, unit="frame", unit_scale=True, disable=args.quiet, desc=args.plugin) as bar,
    ):
        for y in aligned(plugin, blocks(fin, bar)):
            fout.write(y)
    if not args.quiet:
        print(
            f"wrote {out_path}: {info.frames / info.samplerate:.2f} s through {args.plugin} in blocks of {args.block}"
        )
    return 0


def _note_events(args, sr):
    """The notes of ``args.midi`` as frame-sorted ``(frame, order, type, note, velocity)`` events
    (note-offs first at a shared frame, so a repeated note restarts), and the score."""
    from ..errors import ParameterError
    from ..midi.read import read_midi

    score = read_midi(args.midi, drums="drop")
    if not score.notes:
        raise ParameterError(f"{args.midi}: the file has no notes to play")
    events = sorted(
        [(round(n.start * sr), 1, "note_on", n.pitch, n.velocity) for n in score.notes]
        + [(round(n.end * sr), 0, "note_off", n.pitch, 0) for n in score.notes]
    )
    return events, score


def _blocks(events, total, block):
    """``(start, frames, events in the block with offsets)`` for frames ``0 .. total``."""
    i = 0
    for start in range(0, total, block):
        n = min(block, total - start)
        inside = []
        while i < len(events) and events[i][0] < start + n:
            frame, _, kind, note, velocity = events[i]
            inside.append((frame - start, kind, note, velocity))
            i += 1
        yield start, n, inside


def run_instrument(args, plugin) -> int:
    """An instrument plays ``args.midi`` at ``args.sample_rate``, streamed to ``args.output``."""
    from ..io.audio_file import check_audio_output, open_audio_output
    from ..runtime.resample import valid_rate

    sr = valid_rate(args.sample_rate, name="--sample-rate")
    check_audio_output(args.output, sr, 2)
    events, score = _note_events(args, sr)
    plugin.prepare(sr, args.block, 2)
    tail = 1.0 if args.tail is None else args.tail
    total = round((score.end + tail) * sr)
    skip = plugin.latency_samples  # the output is delayed by it: render that much more, drop it
    with open_audio_output(args.output, sr, 2) as out:
        for _, n, inside in _blocks(events, total + skip, args.block):
            y = plugin.process_midi(inside, n)
            drop = min(skip, n)
            skip -= drop
            if drop < n:
                out.write(y[:, drop:])
    if not args.quiet:
        print(
            f"wrote {args.output}: {len(score.notes)} notes, {total / sr:.2f} s at {sr} Hz through {args.plugin}"
        )
    return 0


def run_midi_effect(args, plugin) -> int:
    """A MIDI effect hears ``args.midi``; its answer is written as a MIDI file ``args.output``."""
    from ..io.atomic import check_writable
    from ..midi.notes import Note, Score
    from ..midi.read import MAX_SECONDS
    from ..midi.write import write_midi
    from ..runtime.resample import valid_rate

    sr = valid_rate(args.sample_rate, name="--sample-rate")
    check_writable(args.output)
    events, score = _note_events(args, sr)
    plugin.prepare(sr, args.block, 2)
    tail = MIDI_EFFECT_TAIL_S if args.tail is None else args.tail
    last = round(score.end * sr)  # the last note in or out
    limit = round(MAX_SECONDS * sr)
    sounding, notes = {}, []
    for start, n, inside in _blocks(events, limit, args.block):
        if start > last + tail * sr:
            break
        for offset, kind, note, velocity in plugin.process_midi(inside, n):
            t = (start + offset) / sr
            last = max(last, start + offset)
            if kind == "note_on" and velocity > 0:
                sounding.setdefault(note, []).append((t, velocity))
            elif sounding.get(note):
                s, v = sounding[note].pop(0)
                notes.append(Note(note, v, s, t))
    notes += [Note(p, v, s, last / sr) for p, held in sounding.items() for s, v in held]
    write_midi(Score(notes=notes, tempos=score.tempos, time_signatures=score.time_signatures), args.output)
    if not args.quiet:
        print(f"wrote {args.output}: {len(notes)} notes from {args.plugin} after {len(score.notes)} notes in")
    return 0
