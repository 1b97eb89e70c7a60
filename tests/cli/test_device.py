"""A device the machine lacks is refused up front, naming the option, with no traceback."""

import os
import subprocess
import sys

import pytest
import torch

import cwrnn_audio_samples
from cwrnn_audio import ParameterError
from cwrnn_audio.checks import valid_device

CLIP = str(cwrnn_audio_samples.path("piano_phrase.wav"))
no_cuda = pytest.mark.skipif(torch.cuda.is_available(), reason="CUDA is available here")


def cli(*args):
    env = {**os.environ, "CWRNN_AUDIO_DEBUG": ""}
    return subprocess.run(
        [sys.executable, "-m", "cwrnn_audio", *args], capture_output=True, text=True, env=env
    )


@no_cuda
@pytest.mark.parametrize(
    "args",
    [
        ("train", "audio", CLIP, "--epochs", "1"),
        ("paper", "generation", CLIP, "--backend", "torch", "--runs", "1", "--epochs", "1"),
    ],
    ids=["train-audio", "paper-generation"],
)
def test_cuda_without_cuda_exits_2_naming_the_option(tmp_path, args):
    r = cli(*args, "--out", str(tmp_path / "out"), "--device", "cuda")
    assert r.returncode == 2, r.stderr
    assert "--device" in r.stderr and "CUDA" in r.stderr and "'cuda'" in r.stderr
    assert "Traceback" not in r.stderr
    assert not (tmp_path / "out").exists()  # refused before any work


def test_a_bad_device_string_is_refused():
    r = cli("train", "audio", CLIP, "--out", "unused", "--device", "gpu0")
    assert r.returncode == 2 and "'gpu0'" in r.stderr and "Traceback" not in r.stderr
    with pytest.raises(ParameterError, match="'cpu', 'cuda' or 'cuda:N'"):
        valid_device(None)
    assert valid_device("cpu") == "cpu" and valid_device(torch.device("cpu")) == "cpu"


@no_cuda
def test_configs_refuse_cuda_without_cuda():
    from cwrnn_audio.audio.fit import AudioTrainConfig
    from cwrnn_audio.experiments.generation import GenerationConfig

    for make in (AudioTrainConfig, GenerationConfig):
        with pytest.raises(ParameterError, match="device='cuda' but CUDA is not available"):
            make(device="cuda")
