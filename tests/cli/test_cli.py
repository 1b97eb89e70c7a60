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


def test_demo_continues_the_bundled_clip_with_the_bundled_model(tmp_path):
    r = cli("demo", "-o", "out.wav", "--seed", "5", "--seconds", "1", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "piano_mel" in r.stdout and "out.wav" in r.stdout
    import cwrnn_audio_samples
    from cwrnn_audio.audio.dataset import load_clip
    from cwrnn_audio.audio.generate import generate
    from cwrnn_audio.models.folder import load_model_dir

    out, sr = sf.read(str(tmp_path / "out.wav"), dtype="float32")
    # a second reader: the same model folder, clip and seed through the Python API
    model, adapter, _ = load_model_dir(cwrnn_audio_samples.path("models/piano_mel"), domain="audio")
    clip = load_clip(cwrnn_audio_samples.path("piano_phrase.wav"), adapter.sample_rate)
    prime = clip[:, : int(1.5 * sr)]
    expect = np.concatenate([prime, generate(model, adapter, 1.0, prime=prime, seed=5)], axis=1)[0]
    assert sr == adapter.sample_rate and out.shape == expect.shape
    np.testing.assert_allclose(out, expect, atol=1.5 / 32768)  # 16-bit WAV


def test_demo_on_another_clip_and_backend(tmp_path):
    rng = np.random.default_rng(0)
    stereo = (0.3 * rng.standard_normal((16000, 2))).astype(np.float32)
    sf.write(tmp_path / "st.flac", stereo, 16000)
    r = cli(
        "demo", "-q", "-i", "st.flac", "-o", "o.flac", "--seconds", "0.5", "--backend", "torch", cwd=tmp_path
    )
    assert r.returncode == 0, r.stderr
    out, sr = sf.read(str(tmp_path / "o.flac"))
    assert sr == 16000 and abs(out.shape[0] - (16000 + 8000)) <= 512  # the whole 1 s clip primes


@pytest.mark.parametrize(
    "setup, args, needle",
    [
        (None, ["-i", "missing.wav"], "missing.wav: no such audio file"),
        ("junk", ["-i", "junk.wav"], "junk.wav: not a readable audio file"),
        (None, ["--seconds", "0"], "must be positive"),
        (None, ["--model", "."], "not a model folder"),
        (None, ["-o", "out.xyz"], "unknown audio format"),
    ],
)
def test_user_mistakes_exit_2_without_a_traceback(tmp_path, setup, args, needle):
    if setup == "junk":
        (tmp_path / "junk.wav").write_bytes(b"RIFF not really")
    r = cli("demo", "-q", "--seconds", "0.1", *args, cwd=tmp_path)
    assert r.returncode == 2
    assert needle in r.stderr and "Traceback" not in r.stderr
    assert not (tmp_path / "cwrnn_demo.wav").exists()


def test_unknown_option_is_a_usage_error():
    r = cli("demo", "--frobnicate")
    assert r.returncode == 2 and "unrecognized arguments" in r.stderr
