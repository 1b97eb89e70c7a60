import os
import shutil
import subprocess
import sys

import numpy as np
import pytest
import soundfile as sf
import torch

import cwrnn_audio
from cwrnn_audio import CWRNN


def cli(*args, cwd=None):
    return subprocess.run(
        [sys.executable, "-m", "cwrnn_audio", *args], capture_output=True, text=True, cwd=cwd,
        env={**os.environ, "CWRNN_AUDIO_DEBUG": ""},
    )  # fmt: skip


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


def test_demo_streams_the_bundled_sample(tmp_path):
    r = cli("demo", "-q", "-o", "out.wav", "--save-model", "m.safetensors", "--seed", "5", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "real time" in r.stdout and "out.wav" in r.stdout
    import cwrnn_audio_samples

    src, sr = sf.read(str(cwrnn_audio_samples.path("pluck_melody.wav")), dtype="float32")
    out, sr_out = sf.read(str(tmp_path / "out.wav"), dtype="float32")
    assert sr_out == sr and out.shape == src.shape
    # a second reader of the model file reproduces what the demo wrote
    model = cwrnn_audio.load(tmp_path / "m.safetensors")
    expect = model.run(src[:, None])[:, 0]
    np.testing.assert_allclose(out, expect, atol=1.5 / 32768)  # 16-bit WAV
    # and the model is the seeded one the demo describes
    torch.manual_seed(5)
    fresh = CWRNN(input_size=1, num_modules=8, module_size=16, output_activation="tanh")
    np.testing.assert_array_equal(fresh.numpy_weights()["W_H"], model.numpy_weights()["W_H"])


def test_demo_keeps_channels_as_voices(tmp_path):
    rng = np.random.default_rng(0)
    stereo = (0.3 * rng.standard_normal((2000, 2))).astype(np.float32)
    sf.write(tmp_path / "st.flac", stereo, 16000)
    r = cli("demo", "-q", "-i", "st.flac", "-o", "o.flac", "--block", "100", "--backend", "torch", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    out, sr = sf.read(str(tmp_path / "o.flac"))
    assert out.shape == (2000, 2) and sr == 16000
    assert not np.allclose(out[:, 0], out[:, 1])


@pytest.mark.parametrize(
    "setup, args, needle",
    [
        (None, ["-i", "missing.wav"], "missing.wav: no such audio file"),
        ("junk", ["-i", "junk.wav"], "junk.wav: not a readable audio file"),
        (None, ["--block", "0"], "--block must be a positive integer"),
        (None, ["-o", "out.xyz"], "unknown audio format"),
    ],
)
def test_user_mistakes_exit_2_without_a_traceback(tmp_path, setup, args, needle):
    if setup == "junk":
        (tmp_path / "junk.wav").write_bytes(b"RIFF not really")
    r = cli("demo", "-q", *args, cwd=tmp_path)
    assert r.returncode == 2
    assert needle in r.stderr and "Traceback" not in r.stderr
    assert not (tmp_path / "cwrnn_demo.wav").exists()


def test_unknown_option_is_a_usage_error():
    r = cli("demo", "--frobnicate")
    assert r.returncode == 2 and "unrecognized arguments" in r.stderr
