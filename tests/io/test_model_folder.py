"""One model-folder module and one codec registry for audio and MIDI."""

import json

import numpy as np
import pytest

import cwrnn_audio_samples
from cwrnn_audio import CWRNN
from cwrnn_audio.errors import ParameterError, ParameterTypeError
from cwrnn_audio.models import Codec, codec_names, load_model_dir, make_codec, register_codec, save_model_dir
from cwrnn_audio.models.codec import FrameCodec
from cwrnn_audio.models.registry import CODECS


def test_one_registry_for_every_encoding():
    assert codec_names("audio") == ("raw", "mulaw", "mel", "harmonic")
    assert codec_names("midi") == ("roll", "events", "melody")
    for name in codec_names():
        codec = make_codec(name, sample_rate=16000, steps_per_beat=4, unused=1)
        assert isinstance(codec, Codec) and codec.name == name
        loss = codec.loss_function()
        assert loss in ("ce", "mse", "bce") or (name in ("harmonic", "expression") and callable(loss))
        assert type(codec).from_dict(json.loads(json.dumps(codec.to_dict()))).settings() == codec.settings()
    with pytest.raises(ParameterError, match="encoding"):
        make_codec("wavelet")
    with pytest.raises(ParameterTypeError):
        make_codec(3)


@pytest.mark.parametrize("name", ["raw", "mulaw", "mel", "roll", "events", "melody"])
def test_feed_rebuilds_the_teacher_forced_inputs(name):
    """Generation feeds a sampled target back as training saw it: feed(inputs[t], targets[t]) == inputs[t+1]."""
    from cwrnn_audio.midi import read_midi

    codec = make_codec(name, sample_rate=16000, context=3)
    if codec.domain == "audio":
        data = (0.5 * np.sin(np.arange(4096) / 7.0)).astype(np.float32)[None]
    else:
        data = read_midi(cwrnn_audio_samples.path("midi/tune_0.mid"))
    (x, y), *_ = codec.streams(data)
    np.testing.assert_allclose(x[0], codec.initial_input())
    for t in (0, 1, len(y) // 2):
        np.testing.assert_allclose(codec.feed(x[t], y[t]), x[t + 1], rtol=1e-6)


def test_a_new_encoding_is_one_class_that_registers_itself(tmp_path):
    @register_codec("halves")
    class Halves(FrameCodec):
        domain, input_size, output_size = "audio", 1, 1

        def encode(self, audio):
            return audio[..., None] / 2, audio[..., None]

        def decode(self, targets):
            return targets[..., 0]

        def settings(self):
            return {}

    try:
        model = CWRNN(input_size=1, output_size=1, num_modules=2, module_size=2)
        save_model_dir(tmp_path / "m", model, Halves(), {"note": 1})
        loaded, codec, playback = load_model_dir(tmp_path / "m")
        assert isinstance(codec, Halves) and playback == {}
        assert json.loads((tmp_path / "m" / "config.json").read_text())["kind"] == "CWRNN"
    finally:
        del CODECS["halves"]


def test_bundled_folders_load_through_the_one_module():
    for name, domain, encoding in [
        ("piano_mel", "audio", "mel"),
        ("bach_mulaw", "audio", "mulaw"),
        ("effect_drive", "audio", "raw"),
        ("melody", "midi", "melody"),
    ]:
        model, codec, playback = load_model_dir(cwrnn_audio_samples.path(f"models/{name}"), domain=domain)
        assert codec.name == encoding and model.config.output_size == codec.output_size
        assert playback == ({"program": 73, "tempo_bpm": 100.0} if domain == "midi" else {})
    with pytest.raises(ParameterError, match="encoding"):
        load_model_dir(cwrnn_audio_samples.path("models/melody"), domain="audio")


def test_model_folder_errors(tmp_path):
    with pytest.raises(ParameterError, match="not a model folder"):
        load_model_dir(tmp_path)
    model = CWRNN(input_size=2, output_size=1, num_modules=2, module_size=2)
    save_model_dir(tmp_path, model, make_codec("raw", sample_rate=8000))
    with pytest.raises(ParameterError, match="does not fit"):
        load_model_dir(tmp_path)
    (tmp_path / "adapter.json").write_text("{")
    with pytest.raises(ParameterError, match="not valid JSON"):
        load_model_dir(tmp_path)
