import json

import numpy as np
import pytest
import torch
from safetensors import safe_open
from safetensors.numpy import load_file, save_file

import cwrnn_audio
from cwrnn_audio import CWRNN, ParameterError


@pytest.fixture
def model():
    torch.manual_seed(1)
    return CWRNN(
        input_size=2, output_size=3, module_sizes=[3, 2, 2], periods=[1, 2, 6], output_activation="tanh"
    )


def test_file_layout_is_readable_without_this_package(model, tmp_path):
    path = tmp_path / "m.safetensors"
    model.save(path)
    tensors = load_file(str(path))
    assert {k: v.shape for k, v in tensors.items()} == {
        "W_H": (7, 7),
        "W_I": (7, 2),
        "b_H": (7,),
        "W_O": (3, 7),
        "b_O": (3,),
    }
    assert (tensors["W_H"][3:, :3] == 0).all() and (tensors["W_H"][5:, 3:5] == 0).all()
    with safe_open(str(path), framework="numpy") as f:
        cfg = json.loads(f.metadata()["cwrnn_config"])
    assert cfg["module_sizes"] == [3, 2, 2] and cfg["periods"] == [1, 2, 6]
    assert cfg["input_size"] == 2 and cfg["output_size"] == 3 and cfg["output_activation"] == "tanh"


def test_round_trip_gives_the_same_outputs(model, tmp_path, rng):
    path = tmp_path / "sub" / "m.safetensors"
    model.save(path)
    again = cwrnn_audio.load(path)
    assert again.config == model.config
    x = rng.normal(size=(50, 2)).astype(np.float32)
    np.testing.assert_array_equal(again.run(x), model.run(x))
    assert [p.name for p in path.parent.iterdir()] == ["m.safetensors"]  # no temp files left


def test_no_input_model_round_trips(tmp_path):
    m = CWRNN(input_size=0, hidden_size=40, num_modules=9)
    m.save(tmp_path / "g.safetensors")
    np.testing.assert_array_equal(cwrnn_audio.load(tmp_path / "g.safetensors").run(steps=64), m.run(steps=64))


def rewrite(path, out, *, tensors=None, config=None):
    t = load_file(str(path))
    t.update(tensors or {})
    with safe_open(str(path), framework="numpy") as f:
        meta = dict(f.metadata())
    if config is not None:
        meta["cwrnn_config"] = config if isinstance(config, str) else json.dumps(config)
    save_file(t, str(out), metadata=meta)
    return out


def test_refuses_broken_files(model, tmp_path):
    good = tmp_path / "good.safetensors"
    model.save(good)
    W = load_file(str(good))["W_H"]
    W[4, 0] = 0.5  # a slow module reading a fast one
    cfg = model.config.to_dict()
    cases = {
        "block-upper-triangular": rewrite(good, tmp_path / "a.st", tensors={"W_H": W}),
        "W_O must have shape (3, 7)": rewrite(
            good, tmp_path / "b.st", tensors={"W_O": np.zeros((2, 7), np.float32)}
        ),
        "strictly increasing": rewrite(good, tmp_path / "c.st", config={**cfg, "periods": [1, 6, 2]}),
        "NaN": rewrite(good, tmp_path / "d.st", tensors={"b_H": np.full(7, np.nan, np.float32)}),
        "not valid JSON": rewrite(good, tmp_path / "e.st", config="{oops"),
        "expected tensors": rewrite(good, tmp_path / "f.st", tensors={"extra": np.zeros(1, np.float32)}),
    }
    for needle, path in cases.items():
        with pytest.raises(ParameterError) as err:
            cwrnn_audio.load(path)
        assert needle in str(err.value) and str(path) in str(err.value)
    junk = tmp_path / "junk.safetensors"
    junk.write_bytes(b"\x00" * 64)
    with pytest.raises(ParameterError, match="not a readable safetensors"):
        cwrnn_audio.load(junk)
    with pytest.raises(ParameterError, match="no such model file"):
        cwrnn_audio.load(tmp_path / "missing.safetensors")
    bare = tmp_path / "bare.safetensors"
    save_file(load_file(str(good)), str(bare))
    with pytest.raises(ParameterError, match="cwrnn_config"):
        cwrnn_audio.load(bare)


def test_failed_save_keeps_the_old_file(model, tmp_path, monkeypatch):
    path = tmp_path / "m.safetensors"
    model.save(path)
    before = path.read_bytes()

    def boom(*a, **k):
        raise OSError("disk full")

    monkeypatch.setattr("safetensors.numpy.save_file", boom)
    with pytest.raises(OSError):
        CWRNN().save(path)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["m.safetensors"]
