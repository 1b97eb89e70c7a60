"""`render`, `generate` and `demo` defects of issue 25 and ../shared/DEFECTS.md (I25.1, D7, D13,
D15-D17, D26-D28): each test failed before its fix."""

import functools
import os
import subprocess
import sys
import tracemalloc

import numpy as np
import pytest
import soundfile as sf

import cwrnn_audio_samples
from cwrnn_audio.cli.main import main
from cwrnn_audio.midi.notes import Note, Score
from cwrnn_audio.midi.read import read_midi
from cwrnn_audio.midi.write import write_midi

FLUTE = str(cwrnn_audio_samples.path("models/flute_harmonic"))
MULAW = str(cwrnn_audio_samples.path("models/bach_mulaw"))
MELODY = str(cwrnn_audio_samples.path("models/melody"))


@pytest.fixture
def song(tmp_path):
    notes = [Note(72, 100, 0.0, 0.4), Note(74, 100, 0.4, 0.8), Note(76, 100, 0.8, 1.2)]
    return write_midi(Score(notes=notes), tmp_path / "song.mid")


@pytest.fixture
def wav(tmp_path):
    t = np.arange(4800) / 48000
    path = tmp_path / "in.wav"
    sf.write(path, (0.5 * np.sin(2 * np.pi * 440 * t)).astype(np.float32), 48000, subtype="PCM_24")
    return path


def _err(capsys):
    return capsys.readouterr().err


# -- I25.1 / D26: render asks the plugin what it is ------------------------------------------
def test_a_midi_effect_answers_a_midi_file_with_a_midi_file(song, tmp_path, capsys):
    out = tmp_path / "answer.mid"
    assert main(["render", "continuator", "--midi", str(song), "-o", str(out), "-q"]) == 0
    answer = read_midi(out).notes
    assert answer, "the continuator wrote no notes"
    # it answers after the player's last note-off (1.2 s) and a pause of wait_s (1 s)
    assert min(n.start for n in answer) >= 1.2 + 1.0 - 0.01
    assert all(0 <= n.pitch <= 127 and n.end >= n.start for n in answer)


def test_a_midi_effect_asked_for_audio_exits_2_saying_what_it_produces(song, tmp_path, capsys):
    out = tmp_path / "out.wav"
    assert main(["render", "continuator", "--midi", str(song), "-o", str(out), "-q"]) == 2
    err = _err(capsys)
    assert "MIDI effect" in err and "notes" in err and ".mid" in err and not out.exists()


def test_an_instrument_without_midi_exits_2(wav, tmp_path, capsys):
    out = tmp_path / "out.wav"
    assert main(["render", "generator", "-i", str(wav), "-o", str(out), "-q"]) == 2
    assert "instrument" in _err(capsys) and not out.exists()  # was 12 s of silence, exit 0


def test_an_effect_with_midi_exits_2(song, tmp_path, capsys):
    assert main(["render", "effect", "--midi", str(song), "-o", str(tmp_path / "o.wav"), "-q"]) == 2
    assert "is an effect" in _err(capsys)


# -- D7: render --midi streams to the file ---------------------------------------------------
def test_render_midi_streams_the_output(tmp_path, monkeypatch):
    from cwrnn_audio.plugin import Plugin

    prepare, held = Plugin.prepare, []

    def prepare_then_measure(self, *a):  # the model, its imports and compiling are not the render
        prepare(self, *a)
        tracemalloc.reset_peak()
        held.append(tracemalloc.get_traced_memory()[0])

    monkeypatch.setattr(Plugin, "prepare", prepare_then_measure)
    long = write_midi(Score(notes=[Note(60, 100, 0.0, 8.0)]), tmp_path / "long.mid")
    out = tmp_path / "long.wav"
    args = ["render", "generator", "--midi", str(long), "-o", str(out), "--tail", "0", "-q"]
    args += ["--sample-rate", "22050", "--block", "4096", "--param", "polyphony=1"]
    tracemalloc.start()
    try:
        assert main(args) == 0
        peak = tracemalloc.get_traced_memory()[1] - held[0]
    finally:
        tracemalloc.stop()
    whole = 8 * 22050 * 2 * 4  # the output as float32: 1.4 MB
    assert sf.info(str(out)).frames == 8 * 22050
    assert peak < whole / 4, f"peak {peak / 1e6:.2f} MB for a {whole / 1e6:.2f} MB output"


def test_generate_midi_refuses_too_many_simultaneous_notes(tmp_path, capsys):
    chord = write_midi(Score(notes=[Note(40 + i % 60, 90, 0.0, 1.0) for i in range(300)]), tmp_path / "c.mid")
    out = tmp_path / "o.wav"
    assert main(["generate", FLUTE, "--midi", str(chord), "-o", str(out)]) == 2
    err = _err(capsys)
    assert "c.mid" in err and "300 notes" in err and "128" in err and not out.exists()


# -- D13: rates render cannot run ------------------------------------------------------------
def test_a_16khz_file_is_refused_naming_the_file_and_the_range(tmp_path, capsys):
    low = tmp_path / "low.wav"
    sf.write(low, np.zeros(1600, np.float32), 16000)
    assert main(["render", "effect", "-i", str(low), "-o", str(tmp_path / "o.wav"), "-q"]) == 2
    err = _err(capsys)
    assert "low.wav" in err and "16000" in err and "22050" in err and "192000" in err


# -- D15: errors name the file and the cause -------------------------------------------------
def test_a_missing_input_says_so(tmp_path, capsys):
    missing = tmp_path / "missing.wav"
    assert main(["render", "effect", "-i", str(missing), "-o", str(tmp_path / "o.wav"), "-q"]) == 2
    err = _err(capsys)
    assert "missing.wav: no such audio file" in err and "System error" not in err


def test_a_failed_write_exits_1_naming_the_output(tmp_path):
    """A file-size limit makes every write past 20 kB fail as a full disk does."""
    wav = tmp_path / "long.wav"
    sf.write(wav, np.zeros(48000, np.float32), 48000)  # 96 kB out
    out = tmp_path / "out.wav"
    out.write_bytes(b"earlier")
    code = (
        "import resource, signal, sys\n"
        "signal.signal(signal.SIGXFSZ, signal.SIG_IGN)\n"
        "resource.setrlimit(resource.RLIMIT_FSIZE, (20000, 20000))\n"
        "from cwrnn_audio.cli.main import main\n"
        f"sys.exit(main(['render', 'effect', '-i', {str(wav)!r}, '-o', {str(out)!r}, '-q']))\n"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env={**os.environ})
    assert r.returncode == 1, r.stderr
    assert str(out) in r.stderr and "writing the output failed" in r.stderr and "Traceback" not in r.stderr
    assert out.read_bytes() == b"earlier"


# -- D16: names near the file system's limit --------------------------------------------------
def test_an_output_name_at_the_limit_is_written(wav, tmp_path):
    out = tmp_path / ("a" * (255 - 4) + ".wav")  # the temp name would have been 270 bytes
    assert main(["render", "effect", "-i", str(wav), "-o", str(out), "-q"]) == 0
    assert sf.info(str(out)).frames == 4800
    assert {p.name for p in tmp_path.iterdir()} == {out.name, "in.wav"}  # no temp file left


def test_an_output_name_past_the_limit_fails_before_the_work(wav, tmp_path, capsys, monkeypatch):
    from cwrnn_audio.plugin import Plugin

    prepared = []
    monkeypatch.setattr(Plugin, "prepare", lambda self, *a: prepared.append(a))
    out = tmp_path / ("b" * 260 + ".wav")
    assert main(["render", "effect", "-i", str(wav), "-o", str(out), "-q"]) == 2
    assert "264 bytes" in _err(capsys) and not prepared


# -- D17: CLI gaps -----------------------------------------------------------------------------
@pytest.mark.parametrize(
    "args, needle",
    [
        (["generate", MULAW, "--seconds", "0"], "--seconds must be in (0, 3600]"),
        (["generate", MULAW, "--seconds", "0.1", "--seed", "-1"], "--seed must be a non-negative"),
        (["generate", MULAW, "--voices", "100000"], "--voices must be in 1..1024"),
        (["generate", MELODY, "--bars", "1"], "MIDI model"),
        (["render", "generator", "--midi", "SONG", "--tail", "inf"], "--tail must be"),
        (["render", "generator", "--midi", "SONG", "--param", "polyphony=x"], "polyphony must be an integer"),
    ],
)
def test_cli_gaps_exit_2_before_any_output(args, needle, song, tmp_path, capsys):
    out = tmp_path / "x.wav"
    args = [str(song) if a == "SONG" else a for a in args]
    assert main([*args, "-o", str(out)]) == 2
    assert needle in _err(capsys) and not out.exists()


def test_generate_voices_the_format_cannot_hold_fail_before_generating(tmp_path, capsys):
    out = tmp_path / "x.flac"  # FLAC holds at most 8 channels
    assert main(["generate", MULAW, "--seconds", "0.01", "--voices", "9", "-o", str(out)]) == 2
    assert "x.flac" in _err(capsys) and not out.exists()


def test_param_passes_constructor_options(song, tmp_path, monkeypatch):
    import cwrnn_audio_plugins.generator as gen

    seen = {}
    init = gen.Generator.__init__

    @functools.wraps(init)  # keeps the signature the CLI reads the options from
    def spy(self, *a, **k):
        seen.update(k)
        init(self, *a, **k)

    monkeypatch.setattr(gen.Generator, "__init__", spy)
    out = tmp_path / "p.wav"
    args = ["render", "generator", "--midi", str(song), "-o", str(out), "-q", "--tail", "0"]
    assert main([*args, "--param", "polyphony=4", "--param", "gain_db=-6"]) == 0
    assert seen == {"polyphony": 4} and type(seen["polyphony"]) is int and out.is_file()


def test_an_audio_output_for_a_midi_model_is_refused(tmp_path, capsys):
    out = tmp_path / "x.wav"
    assert main(["generate", MELODY, "--bars", "1", "-o", str(out)]) == 2
    assert "-o OUT.mid" in _err(capsys) and not out.exists()


# -- D27: the demo's .mid holds what its .wav plays --------------------------------------------
def test_demo_writes_the_notes_it_plays(tmp_path, capsys):
    from cwrnn_audio.midi.generate import generate_midi
    from cwrnn_audio.models.folder import load_model_dir

    assert main(["demo", "-o", str(tmp_path / "d.wav"), "--seed", "3", "--bars", "1"]) == 0
    printed = capsys.readouterr().out
    composer, enc, settings = load_model_dir(MELODY, domain="midi")
    _, notes, _ = generate_midi(composer, enc, bars=1, seed=3, **settings)
    written = read_midi(tmp_path / "d.mid").notes
    assert [n.pitch for n in written] == [n.pitch + 12 for n in notes]  # the default --transpose
    assert " ms)" not in printed and "s of music" in printed


# -- D28: the input's sample format is kept; clipping is said ----------------------------------
def test_render_keeps_24_bit_input_24_bit(wav, tmp_path):
    out = tmp_path / "out.wav"
    assert main(["render", "effect", "-i", str(wav), "-o", str(out), "-q"]) == 0
    assert sf.info(str(out)).subtype == "PCM_24"


def test_clipping_is_reported(tmp_path):
    from cwrnn_audio.io.audio_file import write_audio

    with pytest.warns(UserWarning, match=r"loud.wav: 2 samples beyond \[-1, 1\] were clipped"):
        write_audio(tmp_path / "loud.wav", np.array([[0.5, 1.5, -2.0]], np.float32), 16000)
    np.testing.assert_allclose(sf.read(str(tmp_path / "loud.wav"))[0], [0.5, 1.0, -1.0], atol=1e-4)
