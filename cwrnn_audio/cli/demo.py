"""A new melody, composed by one bundled model and played by another: the library's main job.

With no arguments: the bundled melody model (samples/models/melody, trained on the tunes in
samples/midi) composes ``--bars`` bars, and the bundled harmonic instrument
(samples/models/flute_harmonic, trained on FluidR3's sampled flute) plays them: the CW-RNN turns
each note's pitch and loudness into the parameters of a harmonic-plus-noise synthesizer, frame by
frame. The instrument's expression model (the bundled flute has one, trained on its recording and
the score) performs the notes: their loudness and pitch curves come from it (``--expression off``:
fixed envelopes). Writes the audio (and the notes, as OUT.mid beside it). Choose other model
folders with --melody / --instrument.
"""

from __future__ import annotations

import time

from ..core.sampling import SAMPLING

HELP = "compose a new melody with a bundled model and play it with the bundled instrument"


def add_arguments(p) -> None:
    p.add_argument("--melody", metavar="MODEL_DIR", help="MIDI model (default: the bundled melody)")
    p.add_argument(
        "--instrument", metavar="MODEL_DIR", help="harmonic model (default: the bundled flute_harmonic)"
    )
    p.add_argument("--bars", type=float, default=8, help="length in 4/4 bars (default: %(default)s)")
    p.add_argument(
        "--transpose",
        type=int,
        default=12,
        help="semitones the instrument plays the tune up (default: %(default)s, the flute's octave); "
        "the .mid holds the notes as played",
    )
    p.add_argument("--temperature", type=float, default=SAMPLING.temperature)
    p.add_argument(
        "-o", "--output", default="cwrnn_demo.wav", help="output audio file (default: %(default)s)"
    )
    p.add_argument(
        "--expression",
        choices=("on", "off"),
        default="on",
        help="perform the notes with the instrument's expression model where it has one (default: on)",
    )
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("-q", "--quiet", action="store_true", help="print only the output path")


def run(args) -> int:
    from pathlib import Path

    import cwrnn_audio_samples

    from ..ddsp.render import render_notes
    from ..errors import ParameterError
    from ..io.audio_file import check_audio_output, write_audio
    from ..midi.generate import generate_midi
    from ..midi.write import write_midi
    from ..models.folder import load_model_dir

    melody_dir = args.melody or cwrnn_audio_samples.path("models/melody")
    instrument_dir = args.instrument or cwrnn_audio_samples.path("models/flute_harmonic")
    composer, enc, settings = load_model_dir(melody_dir, domain="midi")
    player, codec, playback = load_model_dir(instrument_dir, domain="audio")
    if codec.name != "harmonic":
        raise ParameterError(f"--instrument needs a harmonic model; {instrument_dir} is {codec.name!r}")
    if args.seed < 0:
        raise ParameterError(f"--seed must be a non-negative integer; got {args.seed}")
    check_audio_output(args.output, codec.sample_rate, 1)
    start = time.perf_counter()
    _, notes, score = generate_midi(
        composer, enc, bars=args.bars, temperature=args.temperature, seed=args.seed, **settings
    )
    composed = time.perf_counter() - start
    if not notes:
        raise ParameterError(f"the melody model wrote no notes in {args.bars} bars; try another --seed")
    pitch_range = playback.get("pitch_range")
    perform = None
    if args.expression == "on":
        from ..expression.play import instrument_performer

        perform = instrument_performer(instrument_dir, frame_rate=codec.frame_rate)
    audio = render_notes(
        player,
        codec,
        notes,
        transpose=args.transpose,
        seed=args.seed,
        pitch_range=pitch_range,
        perform=perform,
    )
    played = time.perf_counter() - start - composed
    out = write_audio(args.output, audio, codec.sample_rate)
    # the notes as the instrument played them, so the .mid and the .wav agree in pitch
    score.notes = [n._replace(pitch=min(max(n.pitch + args.transpose, 0), 127)) for n in score.notes]
    mid = write_midi(score, Path(out).with_suffix(".mid"))
    if args.quiet:
        print(out)
        return 0
    seconds = audio.shape[1] / codec.sample_rate
    tune = max(n.end for n in notes) - min(n.start for n in notes)
    print(
        f"composer   {melody_dir}: {len(notes)} notes in {args.bars:g} bars, {tune:.1f} s of music "
        f"(composed in {composed:.2f} s, compiling included)"
    )
    if args.transpose:
        print(f"           played {args.transpose:+d} semitones (--transpose), as written to the .mid")
    print(
        f"instrument {instrument_dir}: {codec.n_harmonics} harmonics + noise at {codec.frame_rate} frames/s"
    )
    print(f"           {'performed by its expression model' if perform else 'fixed note envelopes'}")
    print(f"           played {seconds:.1f} s of audio in {played:.2f} s")
    print(f"output     {out} (and the notes: {mid})")
    return 0
