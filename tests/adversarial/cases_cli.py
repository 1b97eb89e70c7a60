"""The `render`, `generate` and `demo` commands, MIDI reading and audio files (issue 25 item 1;
DEFECTS.md items 6, 7, 13-17, 26-28), each run as a user would, in a fresh process."""

from __future__ import annotations

from harness import case, cli, no_traceback, python

import cwrnn_audio_samples

FLUTE = str(cwrnn_audio_samples.path("models/flute_harmonic"))
MULAW = str(cwrnn_audio_samples.path("models/bach_mulaw"))
MELODY = str(cwrnn_audio_samples.path("models/melody"))


def run(code: str, tmp_path) -> str:
    r = python(code, cwd=tmp_path)
    if r.returncode:
        lines = (r.stderr.strip() or r.stdout.strip() or f"exit {r.returncode}").splitlines()
        raise AssertionError(lines[-1])
    return r.stdout


def song(tmp_path, notes="[Note(72, 100, 0.0, 0.4), Note(74, 100, 0.4, 0.8), Note(76, 100, 0.8, 1.2)]"):
    run(
        "from cwrnn_audio.midi.notes import Note, Score\n"
        "from cwrnn_audio.midi.write import write_midi\n"
        f"write_midi(Score(notes={notes}), 'song.mid')\n",
        tmp_path,
    )
    return tmp_path / "song.mid"


def wav(tmp_path, name="in.wav", rate=48000, subtype="PCM_16", frames=4800):
    run(
        "import numpy as np, soundfile as sf\n"
        f"t = np.arange({frames}) / {rate}\n"
        f"sf.write({name!r}, (0.5 * np.sin(2 * np.pi * 440 * t)).astype(np.float32), {rate}, subtype={subtype!r})\n",
        tmp_path,
    )
    return tmp_path / name


@case("I25.1 render continuator --midi song.mid writes its answer (or says it writes notes)")
def continuator_midi(tmp_path):
    mid = song(tmp_path)
    r = cli("render", "continuator", "--midi", mid, "-o", "out.wav", "-q", cwd=tmp_path)
    no_traceback(r, code=2)
    assert "MIDI effect" in r.stderr and ".mid" in r.stderr, r.stderr
    r = cli("render", "continuator", "--midi", mid, "-o", "answer.mid", "-q", cwd=tmp_path)
    no_traceback(r, code=0)
    out = run(
        "from cwrnn_audio.midi.read import read_midi\nprint(len(read_midi('answer.mid').notes))", tmp_path
    )
    assert int(out) > 0, "the answer has no notes"


@case("D26 render generator -i in.wav (an instrument without notes) is refused")
def instrument_without_midi(tmp_path):
    r = cli("render", "generator", "-i", wav(tmp_path), "-o", "out.wav", "-q", cwd=tmp_path)
    no_traceback(r, code=2)
    assert "instrument" in r.stderr and not (tmp_path / "out.wav").exists(), r.stderr


@case("D6 a MIDI file with tempo 0 is a ParameterError naming the file")
def tempo_zero(tmp_path):
    run(
        """
import mido
from cwrnn_audio.errors import ParameterError
from cwrnn_audio.midi.read import read_midi
mid = mido.MidiFile(); mid.tracks.append(mido.MidiTrack([mido.MetaMessage("set_tempo", tempo=0),
    mido.Message("note_on", note=60, velocity=90), mido.Message("note_off", note=60, time=480)]))
mid.save("zero.mid")
try:
    read_midi("zero.mid")
except ParameterError as exc:
    assert "zero.mid" in str(exc), exc
else:
    raise AssertionError("tempo 0 was accepted")
""",
        tmp_path,
    )


@case("D7 render --midi streams: memory does not grow with the piece")
def render_midi_streams(tmp_path):
    song(tmp_path, "[Note(60, 100, 0.0, 8.0)]")
    out = run(
        """
import tracemalloc
from cwrnn_audio.cli.main import main
from cwrnn_audio.plugin import Plugin
prepare, held = Plugin.prepare, []
def measured(self, *a):
    prepare(self, *a); tracemalloc.reset_peak(); held.append(tracemalloc.get_traced_memory()[0])
Plugin.prepare = measured
tracemalloc.start()
assert main(["render", "generator", "--midi", "song.mid", "-o", "o.wav", "--tail", "0", "-q",
             "--sample-rate", "22050", "--block", "4096"]) == 0
print(tracemalloc.get_traced_memory()[1] - held[0])
""",
        tmp_path,
    )
    whole = 8 * 22050 * 2 * 4
    assert int(out) < whole / 4, f"{int(out) / 1e6:.2f} MB held for a {whole / 1e6:.2f} MB output"


@case("D7 generate --midi with 100,000 simultaneous notes is refused up front")
def generate_polyphony(tmp_path):
    mid = song(tmp_path, "[Note(40 + i % 60, 90, 0.0, 2.0) for i in range(100_000)]")
    r = cli("generate", FLUTE, "--midi", mid, "-o", "o.wav", cwd=tmp_path, timeout=120)
    no_traceback(r, code=2)
    assert "100000 notes" in r.stderr and "128" in r.stderr, r.stderr


@case("D13 render -i of a 16 kHz file names the file and the accepted range")
def render_low_rate(tmp_path):
    r = cli("render", "effect", "-i", wav(tmp_path, "low.wav", 16000), "-o", "o.wav", "-q", cwd=tmp_path)
    no_traceback(r, code=2)
    assert "low.wav" in r.stderr and "22050" in r.stderr and "192000" in r.stderr, r.stderr


@case("D14 a MIDI file of 2 million events is refused before mido parses it")
def midi_event_flood(tmp_path):
    run(
        """
import resource, struct
from cwrnn_audio.errors import ParameterError
from cwrnn_audio.midi.read import read_midi
body = b"\\x00\\x90\\x3c\\x40" + b"\\x00\\x3c\\x00\\x00\\x3c\\x40" * 1_000_000 + b"\\x00\\xff\\x2f\\x00"
head = b"MThd" + struct.pack(">IHHH", 6, 0, 1, 480)
open("flood.mid", "wb").write(head + b"MTrk" + struct.pack(">I", len(body)) + body)
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
try:
    read_midi("flood.mid")
except ParameterError as exc:
    assert "flood.mid" in str(exc), exc
else:
    raise AssertionError("6 MB of events were read")
grew = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1e3
assert grew < 100, f"reading grew the process by {grew:.0f} MB"
""",
        tmp_path,
    )


@case("D15 render -i missing.wav says the file is missing")
def render_missing(tmp_path):
    r = cli("render", "effect", "-i", "missing.wav", "-o", "o.wav", "-q", cwd=tmp_path)
    no_traceback(r, code=2)
    assert "missing.wav: no such audio file" in r.stderr, r.stderr


@case("D15 a write that fails midway (full disk) exits 1 naming the output")
def render_disk_full(tmp_path):
    wav(tmp_path, "long.wav", frames=48000)
    code = (
        "import resource, signal, sys\n"
        "signal.signal(signal.SIGXFSZ, signal.SIG_IGN)\n"
        "resource.setrlimit(resource.RLIMIT_FSIZE, (20000, 20000))\n"
        "from cwrnn_audio.cli.main import main\n"
        "sys.exit(main(['render', 'effect', '-i', 'long.wav', '-o', 'out.wav', '-q']))\n"
    )
    r = python(code, cwd=tmp_path)
    no_traceback(r, code=1)
    assert "out.wav" in r.stderr and "writing the output failed" in r.stderr, r.stderr


@case("D16 an output name at the file system's limit is written; one past it fails at once")
def render_long_name(tmp_path):
    src = wav(tmp_path)
    name = "a" * 251 + ".wav"
    r = cli("render", "effect", "-i", src, "-o", name, "-q", cwd=tmp_path)
    no_traceback(r, code=0)
    assert (tmp_path / name).is_file()
    r = cli("render", "effect", "-i", src, "-o", "b" + name, "-q", cwd=tmp_path)
    no_traceback(r, code=2)
    assert "256 bytes" in r.stderr, r.stderr


@case("D17 generate --seconds 0, --seed -1, --voices 100000 are refused up front")
def generate_gaps(tmp_path):
    for args in (["--seconds", "0"], ["--seconds", "0.1", "--seed", "-1"], ["--voices", "100000"]):
        r = cli("generate", MULAW, *args, "-o", "x.wav", cwd=tmp_path, timeout=60)
        no_traceback(r, code=2)
        assert args[-2] in r.stderr and not (tmp_path / "x.wav").exists(), (args, r.stderr)


@case("D17 render --tail inf is refused; --param polyphony=4 reaches the generator")
def render_gaps(tmp_path):
    mid = song(tmp_path)
    r = cli("render", "generator", "--midi", mid, "-o", "x.wav", "--tail", "inf", cwd=tmp_path)
    no_traceback(r, code=2)
    assert "--tail" in r.stderr, r.stderr
    r = cli("render", "generator", "--midi", mid, "-o", "x.wav", "-q", "--param", "polyphony=4", cwd=tmp_path)
    no_traceback(r, code=0)


@case("D17 generate MIDI_MODEL -o x.wav is refused (it writes notes)")
def generate_midi_to_wav(tmp_path):
    r = cli("generate", MELODY, "--bars", "1", "-o", "x.wav", cwd=tmp_path)
    no_traceback(r, code=2)
    assert ".mid" in r.stderr and not (tmp_path / "x.wav").exists(), r.stderr


@case("D27 the demo's .mid holds the pitches its .wav plays; no compile time as a length")
def demo_octave(tmp_path):
    r = cli("demo", "--bars", "1", "--seed", "3", "-o", "d.wav", cwd=tmp_path)
    no_traceback(r, code=0)
    assert " ms)" not in r.stdout, r.stdout
    run(
        f"""
from cwrnn_audio.midi.generate import generate_midi
from cwrnn_audio.midi.read import read_midi
from cwrnn_audio.models.folder import load_model_dir
composer, enc, settings = load_model_dir({MELODY!r}, domain="midi")
_, notes, _ = generate_midi(composer, enc, bars=1, seed=3, **settings)
written = [n.pitch for n in read_midi("d.mid").notes]
assert written == [n.pitch + 12 for n in notes], (written, [n.pitch for n in notes])
""",
        tmp_path,
    )


@case("D28 render keeps 24-bit input 24-bit")
def render_24_bit(tmp_path):
    r = cli("render", "effect", "-i", wav(tmp_path, subtype="PCM_24"), "-o", "o.wav", "-q", cwd=tmp_path)
    no_traceback(r, code=0)
    out = run("import soundfile as sf\nprint(sf.info('o.wav').subtype)", tmp_path)
    assert out.strip() == "PCM_24", out
