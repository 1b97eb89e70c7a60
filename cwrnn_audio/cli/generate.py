"""Generate audio or MIDI from a trained model folder (the folder knows its encoding).

  cwrnn-audio generate MODEL_DIR --seconds S [--prime FILE] [--temperature T] -o OUT.wav
  cwrnn-audio generate MODEL_DIR --bars N [--prime FILE.mid] [--temperature T] -o OUT.mid
  cwrnn-audio generate HARMONIC_MODEL_DIR --midi SONG.mid [--transpose N] [--plot] -o OUT.wav

For MIDI, a piano-roll PNG of the priming and generated notes is written beside OUT.
"""

from __future__ import annotations

from pathlib import Path

from ..core.sampling import BACKENDS, SAMPLING
from ..ddsp.envelope import Envelope

HELP = "generate audio or MIDI from a trained model"

#: more voices than any audio format holds (libsndfile's WAV limit): refused before the work
MAX_VOICES = 1024
MIDI_SUFFIXES = (".mid", ".midi")


def add_arguments(p) -> None:
    p.add_argument("model_dir", metavar="MODEL_DIR")
    p.add_argument(
        "--seconds", type=float, default=None, help=f"length (audio default: {SAMPLING.seconds:g})"
    )
    p.add_argument(
        "--bars", type=float, default=None, help=f"MIDI: length in 4/4 bars (default: {SAMPLING.bars:g})"
    )
    p.add_argument("--events", type=int, default=None, help="MIDI events encoding: length in events")
    p.add_argument(
        "--prime-bars",
        type=float,
        default=SAMPLING.prime_bars,
        help="MIDI: bars of --prime the model reads first",
    )
    p.add_argument("--prime", metavar="FILE", help="audio the model continues")
    p.add_argument("--with-prime", action="store_true", help="write the prime before the continuation")
    p.add_argument("--temperature", type=float, default=SAMPLING.temperature)
    p.add_argument("--top-k", type=int, default=SAMPLING.top_k)
    p.add_argument(
        "--noise", type=float, default=SAMPLING.noise, help="noise std fed back in regression models"
    )
    p.add_argument(
        "--voices", type=int, default=SAMPLING.voices, help="independent voices, written as channels"
    )
    p.add_argument("--seed", type=int, default=None)
    p.add_argument("--backend", choices=BACKENDS, default=SAMPLING.backend)
    p.add_argument("--midi", metavar="FILE.mid", help="harmonic models: the notes to play")
    p.add_argument("--transpose", type=int, default=0, help="--midi: semitones added to every note")
    p.add_argument(
        "--attack", type=float, default=Envelope.attack, help="--midi: seconds to reach a note's level"
    )
    p.add_argument(
        "--release", type=float, default=Envelope.release, help="--midi: seconds of fade after note-off"
    )
    p.add_argument(
        "--expression",
        choices=("on", "off"),
        default="on",
        help="--midi: the instrument's expression model performs the notes where its folder has one "
        "(MODEL_DIR/expression); off: the envelopes (default: %(default)s)",
    )
    p.add_argument("--plot", action="store_true", help="--midi: a spectrogram PNG beside OUT")
    p.add_argument("-o", "--output", required=True, metavar="OUT")


def run(args) -> int:
    from ..errors import ParameterError
    from ..io.atomic import check_writable
    from ..models.folder import load_model_dir

    if args.seed is not None and args.seed < 0:
        raise ParameterError(f"--seed must be a non-negative integer; got {args.seed}")
    if args.seconds is not None and not 0 < args.seconds <= 3600:
        raise ParameterError(f"--seconds must be in (0, 3600]; got {args.seconds}")
    if not 1 <= args.voices <= MAX_VOICES:
        raise ParameterError(f"--voices must be in 1..{MAX_VOICES}; got {args.voices}")
    folder = load_model_dir(args.model_dir)
    midi_out = Path(args.output).suffix.lower() in MIDI_SUFFIXES
    if folder.codec.domain == "midi" and not args.midi:
        if not midi_out:
            raise ParameterError(
                f"{args.model_dir} is a MIDI model: it writes notes; give a MIDI output (-o OUT.mid), "
                f"not {args.output}"
            )
        check_writable(args.output)
        return run_midi(args, folder)
    if midi_out:
        raise ParameterError(
            f"{args.model_dir} is an audio model: it writes audio; give an audio output (e.g. -o out.wav), "
            f"not {args.output}"
        )
    if args.midi or folder.codec.name == "harmonic":
        return run_notes(args, folder)
    return run_audio(args, folder)


def run_notes(args, folder) -> int:
    """A harmonic model plays the notes of ``--midi``."""
    from ..ddsp.render import Envelope, render_notes
    from ..errors import ParameterError
    from ..io.audio_file import check_audio_output, write_audio
    from ..midi.limits import check_polyphony
    from ..midi.read import read_midi

    model, codec, playback = folder
    if codec.name != "harmonic":
        raise ParameterError(
            f"--midi needs a model of the harmonic encoding; {args.model_dir} is {codec.name!r}"
        )
    if not args.midi:
        raise ParameterError("a harmonic model plays notes: give them with --midi FILE.mid")
    check_audio_output(args.output, codec.sample_rate, 1)
    score = read_midi(args.midi, drums="drop")
    if not score.notes:
        raise ParameterError(f"{args.midi}: the file has no notes to play")
    check_polyphony(score.notes, args.midi)
    env = Envelope(attack=args.attack, release=args.release)
    pitch_range = playback.get("pitch_range")
    perform = None
    if args.expression == "on":
        from ..expression.play import instrument_performer

        perform = instrument_performer(args.model_dir, frame_rate=codec.frame_rate)
    audio = render_notes(
        model,
        codec,
        score.notes,
        envelope=env,
        transpose=args.transpose,
        seed=args.seed or 0,
        pitch_range=pitch_range,
        perform=perform,
    )
    out = write_audio(args.output, audio, codec.sample_rate)
    seconds = audio.shape[1] / codec.sample_rate
    print(f"wrote {out}: {len(score.notes)} notes, {seconds:.2f} s at {codec.sample_rate} Hz")
    if args.plot:
        from ..plots.spectrogram import spectrogram

        png = spectrogram(audio, codec.sample_rate, Path(out).with_suffix(".png"), title=Path(args.midi).name)
        print(f"wrote {png}")
    return 0


def _sampling(args) -> dict:
    """The draw options that audio and MIDI generation share."""
    return dict(temperature=args.temperature, top_k=args.top_k, seed=args.seed, backend=args.backend)


def run_audio(args, folder) -> int:
    import numpy as np

    from ..audio.dataset import load_clip
    from ..audio.generate import generate
    from ..io.audio_file import check_audio_output, write_audio

    model, adapter, _ = folder
    check_audio_output(args.output, adapter.sample_rate, args.voices)
    prime = load_clip(args.prime, adapter.sample_rate) if args.prime else None
    audio = generate(
        model,
        adapter,
        SAMPLING.seconds if args.seconds is None else args.seconds,
        prime=prime,
        noise=args.noise,
        voices=args.voices,
        **_sampling(args),
    )
    if args.with_prime and prime is not None:
        audio = np.concatenate([np.repeat(prime, audio.shape[0], axis=0), audio], axis=1)
    out = write_audio(args.output, audio, adapter.sample_rate)
    print(
        f"wrote {out}: {audio.shape[0]} voice(s), {audio.shape[1] / adapter.sample_rate:.2f} s at {adapter.sample_rate} Hz"
    )
    return 0


def run_midi(args, folder) -> int:
    from ..midi.generate import generate_midi
    from ..midi.read import read_midi
    from ..midi.write import write_midi

    model, enc, settings = folder
    prime = read_midi(args.prime) if args.prime else None
    bars = (
        args.bars
        if args.bars is not None or args.seconds is not None or args.events is not None
        else SAMPLING.bars
    )
    prime_notes, new, score = generate_midi(
        model,
        enc,
        bars=bars,
        seconds=args.seconds,
        events=args.events,
        prime=prime,
        prime_bars=args.prime_bars,
        **_sampling(args),
        **settings,
    )
    if not args.with_prime:
        score.notes = new
    out = write_midi(score, args.output)
    print(
        f"wrote {out}: {len(new)} new notes" + (f" after {len(prime_notes)} priming notes" if prime else "")
    )
    try:
        from ..plots.pianoroll import piano_roll

        png = piano_roll(
            Path(args.output).with_suffix(".png"),
            ("prime", prime_notes),
            ("generated", new),
            title=f"{Path(args.model_dir).name}: {enc.name}",
        )
        print(f"piano roll: {png}")
    except Exception as exc:  # the MIDI file is written; a missing matplotlib should not fail the run
        print(f"piano roll skipped: {exc}")
    return 0
