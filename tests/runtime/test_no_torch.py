"""Playing a model needs no torch: plugins and ``load_model_dir(..., torch=False)`` read the weights
into NumPy and run the Numba kernels, and they sound exactly as the torch-loaded model does."""

import functools
import inspect
import subprocess
import sys

import numpy as np
import pytest
import torch

import cwrnn_audio
import cwrnn_audio_samples
from cwrnn_audio import CWRNN, CWRNNConfig, ParameterError, ParameterTypeError
from cwrnn_audio.models import load_model_dir, make_codec, save_model_dir
from cwrnn_audio.plugin import base, get_plugin
from cwrnn_audio.runtime.model import RuntimeModel

MODELS = cwrnn_audio_samples.path("models")
BLOCK, RATE = 256, 48000
# a note held over 16 blocks (85 ms: a harmonic voice's attack and the resampler's delay pass)
NOTES = [[(3, "note_on", 60, 100)]] + [[]] * 14 + [[(200, "note_off", 60, 0)]]

# the continuator: four notes of 0.2 s in blocks of 50 ms, a 0.1 s pause, then its one-bar answer
MIDI_BLOCK, ANSWER_BLOCKS = 2400, 80


def phrase(i):
    ev = [(0, "note_on", 60 + i // 5 * 2, 100)] if i < 20 and i % 5 == 0 else []
    return ev + ([(0, "note_off", 60 + i // 5 * 2, 0)] if i < 20 and i % 5 == 4 else [])


PHRASE = inspect.getsource(phrase)  # the same phrase in the subprocess
# the effect at its model's rate (48 kHz, no resampling) and both kinds of generator
PLAY = f"""
import sys
import numpy as np
import cwrnn_audio.plugin
from cwrnn_audio.plugin import get_plugin

{PHRASE}
x = np.random.default_rng(0).uniform(-0.5, 0.5, (2, {BLOCK})).astype(np.float32)
fx = get_plugin("effect")()
fx.prepare({RATE}, {BLOCK}, 2)
out = {{"effect": fx.process(x).copy(), "x": x}}
for key, model in (("mulaw", None), ("harmonic", "flute_harmonic")):
    g = get_plugin("generator")(model, polyphony=2)
    g.prepare({RATE}, {BLOCK}, 1)
    out[key] = np.concatenate([g.process_midi(ev, {BLOCK}) for ev in {NOTES!r}], axis=1)
c = get_plugin("continuator")(wait_s=0.1, bars=1)
c.prepare({RATE}, {MIDI_BLOCK}, 1)
answer = []
for i in range({ANSWER_BLOCKS}):
    answer += [repr((i, *e)) for e in c.process_midi(phrase(i), {MIDI_BLOCK})]
out["continuator"] = np.array(answer)
np.savez(sys.argv[1], torch_loaded=np.array("torch" in sys.modules), **out)
"""


@pytest.fixture(scope="module")
def played(tmp_path_factory):
    path = tmp_path_factory.mktemp("play") / "out.npz"
    subprocess.run([sys.executable, "-c", PLAY, str(path)], check=True, capture_output=True, text=True)
    return dict(np.load(path))


def test_playing_plugins_loads_no_torch(played):
    assert not played["torch_loaded"], "importing cwrnn_audio.plugin and playing a block loaded torch"


def test_effect_sounds_as_the_torch_loaded_model(played):
    model = cwrnn_audio.load(MODELS / "effect_drive" / "model.safetensors")
    assert isinstance(model, CWRNN)
    x = played["x"][:, :, None]
    np.testing.assert_array_equal(played["effect"], model.stream(voices=2).process(x)[:, :, 0])
    torch_path = model.stream(backend="torch", voices=2).process(x)[:, :, 0]
    np.testing.assert_allclose(played["effect"], torch_path, atol=1e-5)
    assert np.abs(played["effect"]).max() > 1e-3  # it played something


@pytest.mark.parametrize("key, model", [("mulaw", None), ("harmonic", "flute_harmonic")])
def test_generator_sounds_as_with_the_torch_module(played, monkeypatch, key, model):
    gen = get_plugin("generator")
    module = sys.modules[gen.__module__]
    monkeypatch.setattr(module, "load_plugin_model", functools.partial(base.load_plugin_model, torch=True))
    g = gen(model, polyphony=2)
    assert isinstance(g.model, CWRNN)
    g.prepare(RATE, BLOCK, 1)
    want = np.concatenate([g.process_midi(ev, BLOCK) for ev in NOTES], axis=1)
    np.testing.assert_array_equal(played[key], want)
    assert np.abs(want).max() > 1e-3  # it played the note


def test_model_file_reads_without_the_torch_module(tmp_path):
    """io.model_file reads and writes with NumPy alone: it does not import nn.module (torch)."""
    code = (
        "import sys\n"
        "from cwrnn_audio.runtime.model import RuntimeModel\n"
        f"m = RuntimeModel.load({str(MODELS / 'effect_drive' / 'model.safetensors')!r})\n"
        f"m.save({str(tmp_path / 'copy.safetensors')!r})\n"
        "print(sorted(k for k in ('torch', 'cwrnn_audio.nn.module') if k in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
    a = cwrnn_audio.load(tmp_path / "copy.safetensors")
    b = cwrnn_audio.load(MODELS / "effect_drive" / "model.safetensors")
    for name, w in a.numpy_weights().items():
        np.testing.assert_array_equal(w, b.numpy_weights()[name])


def _folder(tmp_path):
    torch.manual_seed(0)
    model = CWRNN(CWRNNConfig(input_size=1, output_size=1, module_sizes=[3, 2], periods=[1, 2]))
    save_model_dir(tmp_path / "m", model, make_codec("raw", sample_rate=16000))
    return model


def test_load_model_dir_torch_false_is_the_same_network(tmp_path):
    model = _folder(tmp_path)
    runtime, codec, _ = load_model_dir(tmp_path / "m", torch=False)
    assert isinstance(runtime, RuntimeModel) and runtime.config == model.config
    assert isinstance(load_model_dir(tmp_path / "m").model, CWRNN)  # the default is unchanged
    x = np.random.default_rng(1).standard_normal((2, 50, 1)).astype(np.float32)
    np.testing.assert_array_equal(runtime.stream(voices=2).process(x), model.stream(voices=2).process(x))
    np.testing.assert_allclose(
        runtime.stream(backend="torch", voices=2).process(x), model.run(x, backend="torch"), atol=1e-6
    )
    back = runtime.to_torch()
    for name, w in model.numpy_weights().items():
        np.testing.assert_array_equal(back.numpy_weights()[name], w)


def test_runtime_model_refuses_bad_arguments(tmp_path):
    _folder(tmp_path)
    with pytest.raises(ParameterTypeError, match="torch must be a bool; got 'no'"):
        load_model_dir(tmp_path / "m", torch="no")
    runtime = load_model_dir(tmp_path / "m", torch=False).model
    weights = runtime.numpy_weights()
    with pytest.raises(ParameterTypeError, match="config must be a CWRNNConfig; got dict"):
        RuntimeModel({}, weights)
    with pytest.raises(ParameterError, match="tensor W_O must have shape"):
        RuntimeModel(runtime.config, {**weights, "W_O": np.zeros((2, 5), np.float32)})
    with pytest.raises(ParameterError, match="backend"):
        runtime.stream(backend="jax")
    weights["W_H"][0, 0] = 7.0  # a copy: the model's weights stay as loaded
    assert runtime.numpy_weights()["W_H"][0, 0] != 7.0
    with pytest.raises(ParameterTypeError, match="weights must be a dict of NumPy arrays; got list"):
        RuntimeModel(runtime.config, [])
    with pytest.raises(ParameterTypeError, match="tensor b_O must be a NumPy array; got list"):
        CWRNN.from_weights(runtime.config, {**weights, "b_O": [0.0]})


def test_continuator_answers_as_with_the_torch_module(played, monkeypatch):
    cont = get_plugin("continuator")
    module = sys.modules[cont.__module__]
    monkeypatch.setattr(
        module, "load_plugin_model", lambda *a, **k: base.load_plugin_model(*a, **{**k, "torch": True})
    )
    c = cont(wait_s=0.1, bars=1)
    assert isinstance(c.model, CWRNN)
    c.prepare(RATE, MIDI_BLOCK, 1)
    answer = []
    for i in range(ANSWER_BLOCKS):
        answer += [repr((i, *e)) for e in c.process_midi(phrase(i), MIDI_BLOCK)]
    assert answer, "the continuator did not answer"
    assert list(played["continuator"]) == answer
