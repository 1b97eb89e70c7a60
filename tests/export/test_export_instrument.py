"""The exported instrument (the generator plugin playing a harmonic model) against the Python plugin.

The same notes reach both: as MIDI events for the plugin (one voice, seed 0) and as the file's
pitch and velocity signals; the audio must agree over many blocks with the state carried.
"""

import subprocess
import sys

import numpy as np
import pytest
import torch

from cwrnn_audio.export import export_model
from cwrnn_audio.plugin import get_plugin

# (start, end, note, velocity) in seconds: a rest, a legato step (one note's end is the next's start),
# a note held across many blocks, notes of several velocities
NOTES = [(0.05, 0.30, 72, 100), (0.30, 0.55, 74, 60), (0.80, 1.30, 76, 127), (1.45, 1.60, 79, 30)]
SECONDS = 1.9


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    return export_model("flute_harmonic", tmp_path_factory.mktemp("ts") / "flute.ts")


def controls(rate, notes=NOTES, seconds=SECONDS):
    """Pitch (MIDI note, held after the note ends) and velocity / 127 per host frame."""
    F = int(seconds * rate)
    pitch, velocity = np.zeros(F, np.float32), np.zeros(F, np.float32)
    for start, end, note, vel in notes:
        a, b = round(start * rate), round(end * rate)
        pitch[a:] = note
        velocity[a:b] = vel / 127
    return np.stack([pitch, velocity])


def events_of(ctrl, a, b):
    """The MIDI events of frames ``a .. b`` of the controls, offsets inside that block."""
    out = []
    for j in range(a, b):
        before = ctrl[:, j - 1] if j else np.zeros(2, np.float32)
        p, v = ctrl[:, j]
        if before[1] > 0 and (v == 0 or p != before[0]):
            out.append((j - a, "note_off", int(before[0]), 0))
        if v > 0 and (before[1] == 0 or p != before[0]):
            out.append((j - a, "note_on", int(p), int(round(v * 127))))
    return out


def plugin_output(rate, block, ctrl=None, model="flute_harmonic", **params):
    ctrl = controls(rate) if ctrl is None else ctrl
    plug = get_plugin("generator")(model, polyphony=1, **params)
    plug.prepare(rate, block, 1)
    F = ctrl.shape[1]
    return np.concatenate(
        [
            plug.process_midi(events_of(ctrl, i, min(i + block, F)), min(block, F - i))[0].copy()
            for i in range(0, F, block)
        ]
    )


def export_output(module, rate, block):
    ctrl = torch.from_numpy(controls(rate))[None]
    assert module.set_sample_rate(rate) == 0
    with torch.inference_mode():
        return torch.cat([module(ctrl[:, :, i : i + block]) for i in range(0, ctrl.shape[2], block)], 2)[
            0, 0
        ].numpy()


@pytest.mark.parametrize("rate, block", [(48000, 512), (44100, 333), (44100, 4096)])
def test_the_file_plays_the_notes_as_the_plugin_plays_them(exported, rate, block):
    m = torch.jit.load(str(exported))
    want = plugin_output(rate, block)
    got = export_output(m, rate, block)
    assert np.abs(want).max() > 0.01  # the notes sound
    np.testing.assert_allclose(got, want, atol=1e-4)


def test_attributes_act_as_the_plugins_parameters(exported):
    m = torch.jit.load(str(exported))
    assert m.get_methods() == ["forward"] and m.forward_params.tolist() == [2, 1, 1, 1]
    names = [p.name for p in get_plugin("generator")("flute_harmonic", polyphony=1).parameters]
    assert m.get_attributes() == [*names, "pitch_in_hz"]
    assert m.set_attack_ms(5.0) == 0 and m.set_release_ms(400.0) == 0 and m.set_gain_db(-6.0) == 0
    want = plugin_output(48000, 512, attack_ms=5.0, release_ms=400.0, gain_db=-6.0)
    np.testing.assert_allclose(export_output(m, 48000, 512), want, atol=1e-4)
    assert m.set_attack_ms(-1.0) == -1 and m.get_attack_ms() == 5.0


def test_reset_restores_silence_and_the_initial_state(exported):
    m = torch.jit.load(str(exported))
    first = export_output(m, 48000, 512)
    assert m.reset() == 0
    np.testing.assert_array_equal(export_output(m, 48000, 512), first)


def test_a_fresh_process_and_the_cpp_host_play_the_same(cpp_host, exported, tmp_path):
    want = plugin_output(44100, 512)
    controls(44100).tofile(tmp_path / "in.f32")
    out = tmp_path / "out.f32"
    cmd = [str(cpp_host), str(exported), "--input", str(tmp_path / "in.f32"), "--output", str(out)]
    done = subprocess.run([*cmd, "--block", "512", "--sample-rate", "44100"], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    np.testing.assert_allclose(np.fromfile(out, np.float32), want, atol=1e-4)
    code = (
        "import sys, numpy as np, torch; m = torch.jit.load(sys.argv[1]); m.set_sample_rate(44100);"
        "x = torch.from_numpy(np.fromfile(sys.argv[2], np.float32).reshape(1, 2, -1));"
        "y = torch.cat([m(x[:, :, i:i + 512]) for i in range(0, x.shape[2], 512)], 2);"
        "y[0, 0].numpy().tofile(sys.argv[3])"
    )
    subprocess.run(
        [sys.executable, "-c", code, str(exported), str(tmp_path / "in.f32"), str(out)], check=True
    )
    np.testing.assert_allclose(np.fromfile(out, np.float32), want, atol=1e-4)


def test_pitch_in_hz_plays_the_same_notes(exported):
    # A4 and A5: their Hz are exact in float32, so both inputs give the synthesizer the same f0
    ctrl = controls(48000)
    ctrl[0] = np.where(ctrl[0] >= 75, 81, 69)
    outs = []
    for hz in (False, True):
        m = torch.jit.load(str(exported))
        assert m.set_pitch_in_hz(hz) == 0 and m.set_sample_rate(48000) == 0
        x = torch.from_numpy(np.stack([440.0 * 2.0 ** ((ctrl[0] - 69.0) / 12.0), ctrl[1]]) if hz else ctrl)[
            None
        ]
        with torch.inference_mode():
            outs.append(
                torch.cat([m(x[:, :, i : i + 512].float()) for i in range(0, x.shape[2], 512)], 2)[
                    0, 0
                ].numpy()
            )
    assert np.abs(outs[0]).max() > 0.01
    np.testing.assert_allclose(outs[1], outs[0], atol=1e-6)


def test_notes_inside_frames_rendered_ahead_play_as_the_plugin_plays_them(exported):
    # The file renders 16 frames (64 ms) when a block needs more, before it knows the coming notes;
    # notes every 20-70 ms land inside such frames, which it must forget and render again.
    rng = np.random.default_rng(3)
    notes, t = [], 0.02
    while t < 1.2:
        length = rng.uniform(0.02, 0.07)
        gap = rng.choice([0.0, rng.uniform(0.005, 0.03)])
        notes.append((t, t + length, int(rng.integers(65, 80)), int(rng.integers(20, 127))))
        t += length + gap
    for rate, block in ((48000, 256), (44100, 700)):
        ctrl = controls(rate, notes, 1.4)
        want = plugin_output(rate, block, ctrl)
        m = torch.jit.load(str(exported))
        assert m.set_sample_rate(rate) == 0
        x = torch.from_numpy(ctrl)[None]
        got, inside = [], 0
        with torch.inference_mode():
            for i in range(0, x.shape[2], block):
                ahead = m.frames  # frames rendered before this block's notes are known
                starts = np.flatnonzero(np.diff(ctrl[1, max(i - 1, 0) : i + block] > 0))
                inside += sum(-(-(i + j) * m.sr // (rate * m.hop)) < ahead for j in starts)
                got.append(m(x[:, :, i : i + block])[0, 0].numpy())
        assert inside >= 5, inside  # the case under test happened
        np.testing.assert_allclose(np.concatenate(got), want, atol=1e-4, err_msg=f"{rate} Hz, block {block}")


@pytest.fixture(scope="module")
def expressive(tmp_path_factory):
    """The bundled flute with an untrained expression model, made audible and moving."""
    import shutil

    from conftest import make_model

    import cwrnn_audio_samples
    from cwrnn_audio.expression.codec import ExpressionCodec
    from cwrnn_audio.expression.play import FOLDER, LIVE_FOLDER
    from cwrnn_audio.models.folder import save_model_dir

    folder = tmp_path_factory.mktemp("expressive") / "flute"
    shutil.copytree(
        str(cwrnn_audio_samples.path("models/flute_harmonic")),
        folder,
        ignore=shutil.ignore_patterns(FOLDER, LIVE_FOLDER),
    )
    expr = make_model(np.random.default_rng(7), input_size=ExpressionCodec().input_size, output_size=2,
                      num_modules=5, module_size=4)  # fmt: skip
    with torch.no_grad():
        expr.b_O[:] = torch.tensor([0.8, 0.0])
        expr.W_O.mul_(torch.tensor([[0.4], [3.0]]))
    save_model_dir(folder / LIVE_FOLDER, expr, ExpressionCodec(frame_rate=250, lookahead=False))
    return folder, export_model(folder, folder.parent / "expressive.ts")


@pytest.mark.parametrize("rate, block", [(48000, 512), (44100, 333)])
def test_the_file_performs_with_the_folders_expression_model_as_the_plugin_does(expressive, rate, block):
    folder, ts = expressive
    plug = get_plugin("generator")(folder, polyphony=1)
    assert plug.expression_model is not None
    ctrl = controls(rate)
    want = plugin_output(rate, block, ctrl, model=folder)
    got = export_output(torch.jit.load(str(ts)), rate, block)
    np.testing.assert_allclose(got, want, atol=1e-4)
    plain = plugin_output(rate, block, ctrl, model=folder, expression=False)
    assert np.abs(plain - want).max() > 1e-2  # the expression model changed the sound
