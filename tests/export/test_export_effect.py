"""The exported effect (TorchScript, nn~ protocol) against the Python effect plugin it was made from."""

import subprocess
import sys

import numpy as np
import pytest
import torch

from cwrnn_audio import ParameterError
from cwrnn_audio.core.clock import block_upper_mask
from cwrnn_audio.export import export_model
from cwrnn_audio.export.recurrence import lstm_weights, stream_block
from cwrnn_audio.nn.functional import _step_loop
from cwrnn_audio.plugin import get_plugin

FRAMES = 6000


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    return export_model("effect_drive", tmp_path_factory.mktemp("ts") / "effect.ts")


@pytest.fixture(scope="module")
def audio():
    rng = np.random.default_rng(0)
    t = np.arange(FRAMES)
    a = 0.5 * np.sin(2 * np.pi * 220 * t / 48000) + 0.1 * rng.standard_normal(FRAMES)
    return np.stack([a, np.roll(a, 300) * 0.7]).astype(np.float32)  # two channels: two voices


def plugin_output(audio, rate, block, **params):
    plug = get_plugin("effect")(**params)
    plug.prepare(rate, block, audio.shape[0])
    return np.concatenate([plug.process(audio[:, i : i + block]).copy() for i in range(0, FRAMES, block)], 1)


def export_output(module, audio, block):
    with torch.inference_mode():
        x = torch.from_numpy(audio)[:, None]
        return torch.cat([module(x[:, :, i : i + block]) for i in range(0, FRAMES, block)], 2)[:, 0].numpy()


FRESH = """
import sys, numpy as np, torch
m = torch.jit.load(sys.argv[1])
audio = np.load(sys.argv[2])
out = {}
for rate in (44100, 48000):
    for block in (64, 500, 512):
        assert m.set_sample_rate(rate) == 0
        with torch.inference_mode():
            x = torch.from_numpy(audio)[:, None]
            y = torch.cat([m(x[:, :, i:i + block]) for i in range(0, x.shape[2], block)], 2)
        out[f"{rate}_{block}"] = y[:, 0].numpy()
np.savez(sys.argv[3], **out)
"""


def test_a_fresh_process_plays_the_file_as_the_plugin_plays(exported, audio, tmp_path):
    np.save(tmp_path / "in.npy", audio)
    subprocess.run(
        [sys.executable, "-c", FRESH, str(exported), str(tmp_path / "in.npy"), str(tmp_path / "out.npz")],
        check=True,
    )
    got = np.load(tmp_path / "out.npz")
    for rate in (44100, 48000):
        for block in (64, 500, 512):
            want = plugin_output(audio, rate, block)
            assert np.abs(want).max() > 0.1  # the model makes sound: a silent file would fail
            np.testing.assert_allclose(
                got[f"{rate}_{block}"], want, atol=1e-4, err_msg=f"{rate} Hz, block {block}"
            )


def test_the_protocol_nn_tilde_reads(exported):
    m = torch.jit.load(str(exported))
    assert m.get_methods() == ["forward"]
    assert m.forward_params.tolist() == [1, 1, 1, 1]
    plugin = get_plugin("effect")
    assert m.get_attributes() == [p.name for p in plugin.parameters]
    assert {44100, 48000, 88200, 96000} <= set(m.get_sample_rates())
    assert m.get_mix() == 1.0


def test_reset_restores_the_initial_state(exported, audio):
    m = torch.jit.load(str(exported))
    assert m.set_sample_rate(44100) == 0
    first = export_output(m, audio, 256)
    assert m.reset() == 0
    np.testing.assert_array_equal(export_output(m, audio, 256), first)


def test_parameters_set_through_the_protocol_act_as_in_python(exported, audio):
    m = torch.jit.load(str(exported))
    assert m.set_sample_rate(48000) == 0
    assert m.set_mix(0.25) == 0 and m.set_output_gain_db(-6.0) == 0
    want = plugin_output(audio, 48000, 512, mix=0.25, output_gain_db=-6.0)
    np.testing.assert_allclose(export_output(m, audio, 512), want, atol=1e-4)
    assert m.set_mix(1.5) != 0 and m.get_mix() == 0.25  # out of range: refused, nothing changed


def test_a_rate_without_tables_is_refused_and_nothing_changes(exported):
    m = torch.jit.load(str(exported))
    assert m.set_sample_rate(44100) == 0
    assert m.set_sample_rate(12345) == -1
    assert m.get_sample_rate() == 44100 and m.get_latency() > 0


@pytest.mark.parametrize(
    "sizes, periods, t0, L",
    [
        ([4] * 8, [2**i for i in range(8)], 0, 512),
        ([3, 2, 4], [1, 3, 5], 7, 100),
        ([2, 2], [2, 9], 1, 5),
        ([3, 2, 4], [1, 3, 5], 14, 3),  # a short block: step by step (recurrence.step_block)
        ([16] * 8, [2**i for i in range(8)], 126, 4),
    ],
)
def test_the_scripted_block_equals_the_float64_step_loop(sizes, periods, t0, L):
    """Chains of 32 ticks or more run as the LSTM that computes them, shorter ones as a loop, and the
    shortest blocks step by step: each against the step loop of the equations in float64."""
    g = torch.Generator().manual_seed(0)
    n = sum(sizes)
    offsets = np.concatenate([[0], np.cumsum(sizes)]).tolist()
    W = torch.randn(n, n, generator=g, dtype=torch.float64) * 0.6 * torch.as_tensor(block_upper_mask(sizes))
    W_I, b = (
        torch.randn(n, 1, generator=g, dtype=torch.float64),
        torch.randn(n, generator=g, dtype=torch.float64),
    )
    x, h = (
        torch.randn(3, L, 1, generator=g, dtype=torch.float64),
        torch.randn(3, n, generator=g, dtype=torch.float64),
    )
    want = _step_loop(x, h, t0, W, W_I, b, periods, offsets)
    W32 = W.float()
    lstms = [lstm_weights(W32[a:b, a:b]) for a, b in zip(offsets, offsets[1:])]
    got = torch.jit.script(stream_block)(
        x.float(), h.float(), t0, W32, W_I.float(), b.float(), periods, offsets, lstms
    )
    assert (got.double() - want).abs().max() < 2e-5
    assert want[:, :, : sizes[0]].std() > 0.3  # the fast module moves: a frozen chain would fail


def test_what_cannot_export_is_refused_and_nothing_is_written(tmp_path):
    with pytest.raises(ParameterError, match="'continuator' does not export.*effect"):
        export_model("effect_drive", tmp_path / "g.ts", plugin="continuator")
    with pytest.raises(ParameterError, match="'mulaw' model does not export.*raw.*harmonic"):
        export_model("bach_mulaw", tmp_path / "m.ts")
    with pytest.raises(ParameterError, match="1 input to 1 output"):  # the effect plugin's own check
        export_model("bach_mulaw", tmp_path / "m.ts", plugin="effect")
    with pytest.raises(ParameterError, match="is a folder"):
        export_model("effect_drive", tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_the_cli_exports_and_exits_2_on_bad_input(tmp_path):
    def cli(*args):
        return subprocess.run(
            [sys.executable, "-m", "cwrnn_audio", "export", *args], capture_output=True, text=True
        )

    r = cli("effect_drive", "-o", str(tmp_path / "e.ts"), "-q")
    assert r.returncode == 0 and (tmp_path / "e.ts").is_file(), r.stderr
    assert torch.jit.load(str(tmp_path / "e.ts")).get_methods() == ["forward"]
    r = cli("flute_harmonic", "-o", str(tmp_path / "i.ts"))  # a harmonic model: the instrument
    assert r.returncode == 0 and "generator plugin" in r.stdout, r.stderr
    assert torch.jit.load(str(tmp_path / "i.ts")).forward_params.tolist() == [2, 1, 1, 1]
    for args in (
        ["nothere", "-o", str(tmp_path / "x.ts")],
        ["effect_drive", "-o", "/proc/no/x.ts"],
        ["melody", "-o", str(tmp_path / "x.ts")],  # a MIDI model: "does not export; these do: ..."
    ):
        r = cli(*args)
        assert r.returncode == 2 and "Traceback" not in r.stderr and "error:" in r.stderr, r.stderr
    assert "does not export" in r.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["e.ts", "i.ts"]


@pytest.mark.slow
def test_the_cpp_host_plays_the_file_as_the_plugin_plays(cpp_host, exported, audio, tmp_path):
    """No Python in the loop: libtorch alone loads the file and streams it, the state carried."""
    mono = audio[:1]
    mono.tofile(tmp_path / "in.f32")
    for rate, block in ((44100, 512), (48000, 100)):
        cmd = [
            str(cpp_host),
            str(exported),
            "--input",
            str(tmp_path / "in.f32"),
            "--output",
            str(tmp_path / "out.f32"),
        ]
        done = subprocess.run(
            [*cmd, "--block", str(block), "--sample-rate", str(rate), "--set", "mix=0.5"],
            capture_output=True,
            text=True,
        )
        assert done.returncode == 0, done.stderr
        got = np.fromfile(tmp_path / "out.f32", np.float32).reshape(1, -1)
        np.testing.assert_allclose(
            got, plugin_output(mono, rate, block, mix=0.5), atol=1e-4, err_msg=f"{rate} Hz"
        )


def test_a_corrupt_model_folder_is_bad_input_naming_the_file(tmp_path):
    import shutil

    import cwrnn_audio_samples

    folder = tmp_path / "broken"
    shutil.copytree(str(cwrnn_audio_samples.path("models")) + "/effect_drive", folder)
    (folder / "config.json").write_text("{not json")
    r = subprocess.run(
        [sys.executable, "-m", "cwrnn_audio", "export", str(folder), "-o", str(tmp_path / "x.ts")],
        capture_output=True,
        text=True,
    )
    assert r.returncode == 2 and "config.json" in r.stderr and "Traceback" not in r.stderr, r.stderr
    assert not (tmp_path / "x.ts").exists()
