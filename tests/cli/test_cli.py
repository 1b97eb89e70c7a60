import os
import shutil
import subprocess
import sys

import numpy as np
import pytest
import soundfile as sf

import cwrnn_audio


def cli(*args, cwd=None):
    return subprocess.run(
        [sys.executable, "-m", "cwrnn_audio", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env={**os.environ, "CWRNN_AUDIO_DEBUG": ""},
    )


def test_version_and_help():
    r = cli("--version")
    assert r.returncode == 0 and r.stdout.strip() == f"cwrnn-audio {cwrnn_audio.__version__}"
    r = cli("--help")
    assert r.returncode == 0 and "demo" in r.stdout
    assert cli().returncode == 2  # no subcommand


def test_console_script_is_installed():
    exe = shutil.which("cwrnn-audio")
    assert exe, "the console script cwrnn-audio is not on PATH"
    r = subprocess.run([exe, "--version"], capture_output=True, text=True)
    assert r.returncode == 0 and cwrnn_audio.__version__ in r.stdout


def test_demo_plays_a_new_melody_with_the_bundled_instrument(tmp_path):
    r = cli("demo", "-o", "out.wav", "--seed", "5", "--bars", "2", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "melody" in r.stdout and "flute_harmonic" in r.stdout and "out.wav" in r.stdout
    import cwrnn_audio_samples
    from cwrnn_audio.ddsp.render import render_notes
    from cwrnn_audio.expression.play import instrument_performer
    from cwrnn_audio.midi.generate import generate_midi
    from cwrnn_audio.midi.read import read_midi
    from cwrnn_audio.models.folder import load_model_dir

    out, sr = sf.read(str(tmp_path / "out.wav"), dtype="float32")
    # a second reader: the same two model folders and seed through the Python API
    composer, enc, settings = load_model_dir(cwrnn_audio_samples.path("models/melody"), domain="midi")
    player, codec, _ = load_model_dir(cwrnn_audio_samples.path("models/flute_harmonic"), domain="audio")
    _, notes, _ = generate_midi(composer, enc, bars=2, seed=5, **settings)
    folder = cwrnn_audio_samples.path("models/flute_harmonic")
    perform = instrument_performer(folder, frame_rate=codec.frame_rate)  # the bundled flute has one
    assert perform is not None and "expression model" in r.stdout
    expect = render_notes(player, codec, notes, transpose=12, seed=5, perform=perform)[0]
    assert sr == codec.sample_rate and out.shape == expect.shape
    np.testing.assert_allclose(out, expect, atol=1.5 / 32768)  # 16-bit WAV
    r = cli("demo", "-o", "plain.wav", "--seed", "5", "--bars", "2", "--expression", "off", cwd=tmp_path)
    plain, _ = sf.read(str(tmp_path / "plain.wav"), dtype="float32")
    envelopes = render_notes(player, codec, notes, transpose=12, seed=5)[0]
    np.testing.assert_allclose(plain, envelopes, atol=1.5 / 32768)
    assert np.abs(plain - out).max() > 0.01
    written = read_midi(tmp_path / "out.mid").notes
    assert [n.pitch for n in written] == [n.pitch + 12 for n in notes] and len(notes) >= 4  # as played


def test_demo_refuses_an_instrument_that_is_not_harmonic(tmp_path):
    import cwrnn_audio_samples

    r = cli("demo", "-q", "--instrument", str(cwrnn_audio_samples.path("models/bach_mulaw")), cwd=tmp_path)
    assert r.returncode == 2 and "harmonic" in r.stderr and "Traceback" not in r.stderr
    assert not (tmp_path / "cwrnn_demo.wav").exists()


@pytest.mark.parametrize(
    "args, needle",
    [
        (["--bars", "0"], "bars must be in"),
        (["--melody", "."], "not a model folder"),
        (["--instrument", "missing"], "missing"),
        (["-o", "out.xyz"], "unknown audio format"),
    ],
)
def test_user_mistakes_exit_2_without_a_traceback(tmp_path, args, needle):
    r = cli("demo", "-q", "--bars", "1", *args, cwd=tmp_path)
    assert r.returncode == 2, r.stderr
    assert needle in r.stderr and "Traceback" not in r.stderr
    assert not (tmp_path / "cwrnn_demo.wav").exists()


def test_unknown_option_is_a_usage_error():
    r = cli("demo", "--frobnicate")
    assert r.returncode == 2 and "unrecognized arguments" in r.stderr
