"""A model folder is a user's input: every field read from it is checked, each refusal a
ParameterError naming the file and the key and quoting the value, and the CLI exits 2."""

import json
import math

import numpy as np
import pytest
import soundfile as sf

from cwrnn_audio import CWRNN
from cwrnn_audio.adapters import MuLawAdapter, RawAdapter
from cwrnn_audio.audio.dataset import load_clip
from cwrnn_audio.cli.main import main
from cwrnn_audio.errors import ParameterError, ParameterTypeError
from cwrnn_audio.models import load_model_dir, make_codec, save_model_dir


def raw_folder(path):
    model = CWRNN(input_size=1, output_size=1, num_modules=2, module_size=2)
    return save_model_dir(path, model, make_codec("raw", sample_rate=8000))


def melody_folder(path):
    codec = make_codec("melody")
    model = CWRNN(input_size=codec.input_size, output_size=codec.output_size, num_modules=2, module_size=2)
    return save_model_dir(path, model, codec, program=5, tempo_bpm=90.0)


def edit(folder, name, **changes):
    p = folder / name
    data = json.loads(p.read_text())
    data.update(changes)
    p.write_text(json.dumps(data))  # NaN is written as the bare NaN that json.loads reads back


# (folder maker, file, what to write there, the key the message must name, the quoted value)
HOSTILE = {
    "config list": (raw_folder, "config.json", "[]", None, "[]"),
    "codec list": (raw_folder, "adapter.json", "[1, 2]", None, "[1, 2]"),
    "binary codec file": (raw_folder, "adapter.json", b"\xff\xfe\x00\x81{}", None, "\\xff"),
    "binary config": (raw_folder, "config.json", b'{"kind": "\xc3\x28"}', None, "\\xc3"),
    "deep nesting": (raw_folder, "adapter.json", "[" * 200_000 + "]" * 200_000, None, "nested"),
    "a 5000-digit number": (
        raw_folder,
        "adapter.json",
        '{"sample_rate": 1' + "0" * 5000 + "}",
        None,
        "digits",
    ),
    "kind a list": (raw_folder, "config.json", {"kind": ["CWRNN"]}, "kind", "['CWRNN']"),
    "encoding a list": (raw_folder, "adapter.json", {"encoding": ["raw"]}, "encoding", "['raw']"),
    "sample rate 1e12": (raw_folder, "adapter.json", {"sample_rate": 1e12}, "sample_rate", "1000000000000.0"),
    "sample rate 10**12": (
        raw_folder,
        "adapter.json",
        {"sample_rate": 10**12},
        "sample_rate",
        "1000000000000",
    ),
    "sample rate 1 Hz": (raw_folder, "adapter.json", {"sample_rate": 1}, "sample_rate", "got 1"),
    "tempo fast": (melody_folder, "encoding.json", {"tempo_bpm": "fast"}, "tempo_bpm", "'fast'"),
    "tempo 0": (melody_folder, "encoding.json", {"tempo_bpm": 0}, "tempo_bpm", "got 0"),
    "tempo NaN": (melody_folder, "encoding.json", {"tempo_bpm": math.nan}, "tempo_bpm", "nan"),
    "program 999": (melody_folder, "encoding.json", {"program": 999}, "program", "999"),
    "program a float": (melody_folder, "encoding.json", {"program": 5.5}, "program", "5.5"),
    "pitch range 5": (
        raw_folder,
        "adapter.json",
        {"encoding": "harmonic", "pitch_range": 5},
        "pitch_range",
        "5",
    ),
    "pitch range reversed": (
        raw_folder,
        "adapter.json",
        {"encoding": "harmonic", "pitch_range": [900, 100]},
        "pitch_range",
        "[900, 100]",
    ),
    "mel n_fft 1e12": (
        raw_folder,
        "adapter.json",
        {"encoding": "mel", "n_fft": 10**12},
        "n_fft",
        "1000000000000",
    ),
}


def hostile(tmp_path, label):
    make, name, content, _, _ = HOSTILE[label]
    folder = make(tmp_path / "m")
    if isinstance(content, dict):
        edit(folder, name, **content)
    elif isinstance(content, bytes):
        (folder / name).write_bytes(content)
    else:
        (folder / name).write_text(content)
    return folder


@pytest.mark.parametrize("label", sorted(HOSTILE))
def test_each_hostile_folder_is_refused_naming_file_and_key(tmp_path, label):
    _, name, _, key, quoted = HOSTILE[label]
    folder = hostile(tmp_path, label)
    with pytest.raises(ParameterError) as info:
        load_model_dir(folder)
    msg = str(info.value)
    assert str(folder / name) in msg
    assert key is None or key in msg
    assert quoted in msg


@pytest.mark.parametrize(
    "label", ["config list", "binary codec file", "tempo 0", "program 999", "sample rate 1e12"]
)
def test_the_cli_exits_2_for_a_hostile_folder(tmp_path, capsys, label):
    folder = hostile(tmp_path, label)
    assert main(["generate", str(folder), "-o", str(tmp_path / "x.wav")]) == 2
    err = capsys.readouterr().err
    assert "error:" in err and str(folder / HOSTILE[label][1]) in err
    assert not (tmp_path / "x.wav").exists()


def test_wrong_types_are_type_errors(tmp_path):
    for label in ("config list", "kind a list", "encoding a list", "tempo fast"):
        with pytest.raises(ParameterTypeError):
            load_model_dir(hostile(tmp_path / label.replace(" ", "_"), label))


def test_good_playback_values_load_unchanged(tmp_path):
    folder = melody_folder(tmp_path / "m")
    assert load_model_dir(folder).playback == {"program": 5, "tempo_bpm": 90.0}
    edit(folder, "encoding.json", tempo_bpm=120)  # a whole number is a tempo too
    assert load_model_dir(folder).playback == {"program": 5, "tempo_bpm": 120.0}
    (folder / "encoding.json").write_text(json.dumps({"encoding": "melody"}))  # missing: the defaults
    assert load_model_dir(folder).playback == {"program": 0, "tempo_bpm": 120.0}


def test_one_sample_rate_rule_for_codecs_and_files(tmp_path):
    lo, hi = RawAdapter.sample_rates
    assert RawAdapter(sample_rate=lo).sample_rate == lo and MuLawAdapter(sample_rate=hi).sample_rate == hi
    assert RawAdapter(sample_rate=16000.0).sample_rate == 16000  # whole floats, as JSON may hold
    for bad in (lo - 1, hi + 1, 10**12, 16000.5, math.inf, math.nan):
        with pytest.raises(ParameterError, match=f"from {lo} to {hi}"):
            RawAdapter(sample_rate=bad)
    with pytest.raises(ParameterTypeError, match="sample_rate"):
        RawAdapter(sample_rate="16000")
    # a header's 1 Hz: 64 samples would become a million at 16 kHz
    tone = 0.5 * np.sin(np.arange(64)).astype(np.float32)
    sf.write(tmp_path / "one_hz.wav", tone, 1)
    with pytest.raises(
        ParameterError, match=rf"one_hz.wav: the file's sample rate .* from {lo} to {hi}; got 1$"
    ):
        load_clip(tmp_path / "one_hz.wav", 16000)
    sf.write(tmp_path / "ok.wav", np.tile(tone, 20), 8000)
    assert load_clip(tmp_path / "ok.wav", 16000).shape == (1, 2560)


def test_a_codec_declares_its_own_range_once(tmp_path):
    class Narrow(RawAdapter):
        sample_rates = (4000, 48000)

    with pytest.raises(ParameterError, match="from 4000 to 48000; got 2000"):
        Narrow(sample_rate=2000)
    sf.write(tmp_path / "low.wav", 0.5 * np.sin(np.arange(2000) / 3).astype(np.float32), 2000)
    assert load_clip(tmp_path / "low.wav", 8000).shape == (1, 8000)  # the generic range takes 2 kHz
    with pytest.raises(
        ParameterError, match="low.wav: the file's sample rate .* from 4000 to 48000; got 2000"
    ):
        load_clip(tmp_path / "low.wav", 8000, codec=Narrow(sample_rate=8000))


@pytest.mark.parametrize("meta", ["[" * 100_000 + "]" * 100_000, '{"input_size": 1' + "0" * 5000 + "}"])
def test_hostile_model_file_metadata_is_a_parameter_error(tmp_path, meta):
    from safetensors import safe_open
    from safetensors.numpy import load_file, save_file

    from cwrnn_audio.io.model_file import CONFIG_KEY, read_model_file

    folder = raw_folder(tmp_path / "m")
    weights = folder / "model.safetensors"
    with safe_open(str(weights), "numpy") as f:
        metadata = f.metadata()
    save_file(load_file(str(weights)), str(weights), metadata={**metadata, CONFIG_KEY: meta})
    with pytest.raises(ParameterError, match=f"model.safetensors: '{CONFIG_KEY}' is not usable JSON"):
        read_model_file(weights)
    assert main(["generate", str(folder), "-o", str(tmp_path / "x.wav")]) == 2
