"""cwrnn-host (host/) runs TorchScript models that follow the nn~ protocol the way nn~ does.

The models here are toys scripted in this file, so that the host is checked on its own: each is
run by the host and, as the expectation, by Python over the whole signal at once.
"""

import json
import math
import subprocess
from typing import List

import numpy as np
import pytest
import torch
from torch import Tensor

# torch 2.10+ deprecates TorchScript, but nn~ reads nothing else
pytestmark = pytest.mark.filterwarnings("ignore:`torch.jit.script` is deprecated:DeprecationWarning")


class OnePole(torch.nn.Module):
    """A stateful low-pass, 1 in / 1 out, whose coefficient follows the sample rate."""

    def __init__(self):
        super().__init__()
        self.register_buffer("forward_params", torch.tensor([1, 1, 1, 1]))
        self.register_buffer("state", torch.zeros(1, 1))
        self.gain = 0.5
        self.bypass = False
        self.steps = 3
        self.label = "one pole"
        self.coef = 0.0
        self.set_sample_rate(48000)

    def forward(self, x: Tensor) -> Tensor:
        if self.bypass:
            return x.clone()
        out = torch.empty_like(x)
        s = self.state
        for t in range(x.shape[2]):
            s = self.coef * s + (1.0 - self.coef) * x[:, :, t]
            out[:, :, t] = s
        self.state.copy_(s)
        return out * self.gain

    @torch.jit.export
    def set_sample_rate(self, rate: int) -> int:
        if rate != 44100 and rate != 48000:
            return 1
        self.coef = math.exp(-2.0 * math.pi * 2000.0 / rate)
        return 0

    @torch.jit.export
    def reset(self) -> int:
        self.state.zero_()
        return 0

    @torch.jit.export
    def get_methods(self) -> List[str]:
        return ["forward"]

    @torch.jit.export
    def get_attributes(self) -> List[str]:
        return ["gain", "bypass", "steps", "label"]

    @torch.jit.export
    def get_gain(self) -> float:
        return self.gain

    @torch.jit.export
    def set_gain(self, value: float) -> int:
        if value < 0:
            return 1
        self.gain = value
        return 0

    @torch.jit.export
    def get_bypass(self) -> bool:
        return self.bypass

    @torch.jit.export
    def set_bypass(self, value: bool) -> int:
        self.bypass = value
        return 0

    @torch.jit.export
    def get_steps(self) -> int:
        return self.steps

    @torch.jit.export
    def set_steps(self, value: int) -> int:
        self.steps = value
        return 0

    @torch.jit.export
    def get_label(self) -> str:
        return self.label

    @torch.jit.export
    def set_label(self, value: str) -> int:
        self.label = value
        return 0


class Mixer(torch.nn.Module):
    """2 in / 1 out: ``gain * a[t] + b[t - 3]`` (a delay line held across calls); ``halve`` works at
    other rates: it reads every 2nd host frame and writes one frame per 4."""

    def __init__(self):
        super().__init__()
        self.register_buffer("forward_params", torch.tensor([2, 1, 1, 1]))
        self.register_buffer("halve_params", torch.tensor([2, 2, 1, 4]))
        self.register_buffer("delay", torch.zeros(1, 1, 3))
        self.gain = 2.0

    def forward(self, x: Tensor) -> Tensor:
        line = torch.cat([self.delay, x[:, 1:2]], dim=2)
        n = x.shape[2]
        self.delay.copy_(line[:, :, n:])
        return self.gain * x[:, 0:1] + line[:, :, :n]

    @torch.jit.export
    def halve(self, x: Tensor) -> Tensor:
        return x[:, 0:1, 0::2] - x[:, 1:2, 1::2]

    @torch.jit.export
    def set_sample_rate(self, rate: int) -> int:
        return 0

    @torch.jit.export
    def reset(self) -> int:
        self.delay.zero_()
        return 0

    @torch.jit.export
    def get_methods(self) -> List[str]:
        return ["forward", "halve"]

    @torch.jit.export
    def get_attributes(self) -> List[str]:
        return ["gain"]

    @torch.jit.export
    def get_gain(self) -> float:
        return self.gain

    @torch.jit.export
    def set_gain(self, value: float) -> int:
        self.gain = value
        return 0


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    folder = tmp_path_factory.mktemp("host-models")
    paths = {}
    for cls in (OnePole, Mixer):
        paths[cls.__name__] = folder / f"{cls.__name__}.ts"
        torch.jit.script(cls()).save(str(paths[cls.__name__]))
    return paths


def signal(channels, frames, seed=0):
    return np.random.default_rng(seed).standard_normal((channels, frames)).astype(np.float32)


def python_run(cls, x, rate=48000, settings=(), resets=()):
    """The expectation: a fresh scripted instance over the whole of ``x``, reset before each frame
    in ``resets``."""
    model = torch.jit.script(cls())
    assert model.set_sample_rate(rate) == 0
    for name, value in settings:
        assert getattr(model, f"set_{name}")(value) == 0
    cuts = [0, *resets, x.shape[1]]
    parts = []
    with torch.inference_mode():
        for a, b in zip(cuts, cuts[1:]):
            if a in resets:
                model.reset()
            parts.append(model(torch.from_numpy(x[None, :, a:b].copy()))[0].numpy())
    return np.concatenate(parts, axis=1)


def host(exe, *args):
    done = subprocess.run([str(exe), *map(str, args)], capture_output=True, text=True, timeout=120)
    assert done.returncode >= 0, f"cwrnn-host died of signal {-done.returncode}: {done.stderr[-2000:]}"
    return done


def stream(exe, model, x, tmp_path, *options, out_channels=1):
    src, dst = tmp_path / "in.f32", tmp_path / "out.f32"
    x.astype("<f4").tofile(src)
    done = host(exe, model, "--input", src, "--output", dst, *options)
    assert done.returncode == 0, done.stderr
    stats = json.loads(done.stdout)
    y = np.fromfile(dst, dtype="<f4").reshape(out_channels, -1)
    assert sorted(tmp_path.iterdir()) == [src, dst]  # no temp file left behind
    return y, stats


def test_list_reports_methods_and_attributes(cpp_host, models):
    one = json.loads(host(cpp_host, models["OnePole"], "--list").stdout)
    assert one == {
        "methods": {"forward": [1, 1, 1, 1]},
        "attributes": {"gain": 0.5, "bypass": False, "steps": 3, "label": "one pole"},
    }
    assert isinstance(one["attributes"]["gain"], float) and isinstance(one["attributes"]["steps"], int)
    mixer = json.loads(host(cpp_host, models["Mixer"], "--list").stdout)
    assert mixer == {"methods": {"forward": [2, 1, 1, 1], "halve": [2, 2, 1, 4]}, "attributes": {"gain": 2.0}}


@pytest.mark.parametrize("block", [1, 64, 500, 512])
def test_streaming_equals_one_pass(cpp_host, models, tmp_path, block):
    x = signal(1, 1500)
    y, stats = stream(cpp_host, models["OnePole"], x, tmp_path, "--block", block)
    np.testing.assert_allclose(y, python_run(OnePole, x), rtol=0, atol=1e-6)
    assert stats["blocks"] == math.ceil(1500 / block) and stats["frames"] == 1500
    assert stats["seconds"] >= 0 and stats["us_per_block"] >= 0
    if block in (64, 500):  # the state must cross block edges: a host that lost it would give this
        per_block = python_run(OnePole, x, resets=range(block, 1500, block))
        assert np.abs(y - per_block).max() > 1e-3


def test_two_inputs_keep_their_delay_line(cpp_host, models, tmp_path):
    x = signal(2, 301, seed=1)
    y, _ = stream(cpp_host, models["Mixer"], x, tmp_path, "--block", 2)
    expected = 2.0 * x[0] + np.concatenate([np.zeros(3, np.float32), x[1, :-3]])
    np.testing.assert_allclose(y[0], expected, rtol=0, atol=1e-6)


def test_ratios_follow_nn_tilde(cpp_host, models, tmp_path):
    # nn~ gives the method the last of every in_ratio host frames and holds each output for
    # out_ratio host frames; 36 frames in blocks of 8 end on a short block of 4.
    x = signal(2, 36, seed=2)
    y, stats = stream(cpp_host, models["Mixer"], x, tmp_path, "--method", "halve", "--block", 8)
    seen = x[:, 1::2]
    expected = np.repeat(seen[0, 0::2] - seen[1, 1::2], 4)
    np.testing.assert_allclose(y[0], expected, rtol=0, atol=1e-6)
    assert stats["blocks"] == 5


def test_sample_rate_and_set_act(cpp_host, models, tmp_path):
    x = signal(1, 700, seed=3)
    args = ("--block", 128, "--sample-rate", 44100, "--set", "gain=0.25", "--set", "bypass=false")
    y, _ = stream(cpp_host, models["OnePole"], x, tmp_path, *args)
    expected = python_run(OnePole, x, rate=44100, settings=[("gain", 0.25), ("bypass", False)])
    np.testing.assert_allclose(y, expected, rtol=0, atol=1e-6)
    assert np.abs(expected - python_run(OnePole, x, settings=[("gain", 0.25)])).max() > 1e-3
    assert np.abs(expected - python_run(OnePole, x, rate=44100)).max() > 1e-3

    y, _ = stream(cpp_host, models["OnePole"], x, tmp_path, "--set", "bypass=true")
    np.testing.assert_array_equal(y, x)


def test_reset_at_restores_the_initial_state(cpp_host, models, tmp_path):
    x = signal(1, 1000, seed=4)
    y, _ = stream(
        cpp_host, models["OnePole"], x, tmp_path, "--block", 100, "--reset-at", 300, "--reset-at", 700
    )
    expected = python_run(OnePole, x, resets=(300, 700))
    np.testing.assert_allclose(y, expected, rtol=0, atol=1e-6)
    assert np.abs(expected - python_run(OnePole, x)).max() > 1e-3


def test_warmup_passes_end_in_reset_so_the_timed_pass_plays_from_the_start(cpp_host, models, tmp_path):
    x = signal(1, 900, seed=5)
    y, stats = stream(cpp_host, models["OnePole"], x, tmp_path, "--block", 128, "--warmup", 2)
    np.testing.assert_allclose(y, python_run(OnePole, x), rtol=0, atol=1e-6)
    assert stats["blocks"] == math.ceil(900 / 128)  # the timed pass only
    assert stats["worst_us_per_block"] >= stats["us_per_block"] >= 0


def test_refused_sample_rate_fails_naming_it(cpp_host, models, tmp_path):
    signal(1, 10).tofile(tmp_path / "in.f32")
    out = tmp_path / "out.f32"
    done = host(
        cpp_host, models["OnePole"], "--input", tmp_path / "in.f32", "--output", out, "--sample-rate", 22050
    )
    assert done.returncode == 1
    assert done.stderr.startswith("cwrnn-host: ") and "22050" in done.stderr and "refused" in done.stderr
    assert not out.exists()


@pytest.mark.parametrize(
    "args, named",
    [
        (["--bogus"], "--bogus"),
        (["--block"], "--block"),
        (["--block", "0"], "--block"),
        (["--block", "12x"], "12x"),
        (["--sample-rate", "fast"], "fast"),
        (["--reset-at", "50", "--block", "64"], "--reset-at 50"),
        (["--method", "backward"], "backward"),
        (["--set", "volume=1"], "volume"),
        (["--set", "gain=-1"], "gain=-1"),
        (["--set", "bypass=maybe"], "maybe"),
        (["--set", "gain"], "NAME=VALUE"),
        (["--warmup", "-1"], "--warmup"),
    ],
)
def test_usage_and_input_errors_exit_2(cpp_host, models, tmp_path, args, named):
    signal(1, 100).tofile(tmp_path / "in.f32")
    out = tmp_path / "out.f32"
    done = host(cpp_host, models["OnePole"], "--input", tmp_path / "in.f32", "--output", out, *args)
    assert done.returncode == 2, done.stderr
    assert done.stderr.startswith("cwrnn-host: ") and done.stderr.count("\n") == 1, done.stderr
    assert named in done.stderr
    assert not out.exists()


def test_bad_files_exit_2_naming_them(cpp_host, models, tmp_path):
    (tmp_path / "odd.f32").write_bytes(b"\0" * 12)  # 1.5 frames of 2 channels
    done = host(cpp_host, models["Mixer"], "--input", tmp_path / "odd.f32", "--output", tmp_path / "o.f32")
    assert done.returncode == 2 and "odd.f32" in done.stderr and "12 bytes" in done.stderr
    done = host(cpp_host, models["Mixer"], "--input", tmp_path / "none.f32", "--output", tmp_path / "o.f32")
    assert done.returncode == 2 and "none.f32" in done.stderr and "No such file" in done.stderr
    assert not (tmp_path / "o.f32").exists()

    junk = tmp_path / "junk.ts"
    junk.write_bytes(b"PK\x03\x04 this is not a TorchScript archive" * 10)
    for model, why in ((junk, "not a TorchScript model"), (tmp_path / "missing.ts", "No such file")):
        done = host(cpp_host, model, "--list")
        assert done.returncode == 2 and done.stdout == ""
        assert done.stderr.startswith("cwrnn-host: ") and done.stderr.count("\n") == 1, done.stderr
        assert model.name in done.stderr and why in done.stderr
