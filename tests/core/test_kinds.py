"""Each network kind is described once (core/kinds.py) and the description holds for the real class."""

import subprocess
import sys

import pytest
import torch

from cwrnn_audio import ParameterError, ParameterTypeError
from cwrnn_audio.core.kinds import BY_FILE_KIND, KINDS, file_kind, kind, kind_of
from cwrnn_audio.lazy import resolve


@pytest.mark.parametrize("name", sorted(KINDS))
def test_build_layout_and_files_agree_with_the_class(name, tmp_path):
    k = kind(name)
    net = k.build(input_size=2, output_size=3, hidden=16, init_std=0.1)
    assert isinstance(net, k.module_class())
    assert net.config.input_size == 2 and net.config.output_size == 3
    # the layout names every trainable parameter, once, and nothing else
    assert sorted(k.layout) == sorted(n for n, _ in net.named_parameters())
    assert kind_of(net).file_kind == k.file_kind
    resolve(k.save)(net, tmp_path / "m.safetensors")
    back = resolve(k.load)(tmp_path / "m.safetensors")
    for p in k.layout:
        torch.testing.assert_close(getattr(back, p), getattr(net, p), rtol=0, atol=0)


def test_an_srn_is_one_cwrnn_module_of_period_one():
    net = kind("srn").build(input_size=1, output_size=1, hidden=9)
    assert net.config.module_sizes == (9,) and net.config.periods == (1,)
    assert kind_of(net) is BY_FILE_KIND["CWRNN"]


def test_unknown_kinds_are_refused_naming_the_choices():
    with pytest.raises(ParameterError, match="'gru'"):
        kind("gru")
    with pytest.raises(ParameterTypeError):
        kind(3)
    with pytest.raises(ParameterError, match="config.json: 'kind'.*'GRU'"):
        file_kind("GRU")
    with pytest.raises(ParameterTypeError, match="Linear"):
        kind_of(torch.nn.Linear(1, 1))


def test_the_description_loads_no_torch():
    code = "import sys, cwrnn_audio.core.kinds as k; k.file_kind('CWRNN'); print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"


@pytest.mark.parametrize("name", sorted(KINDS))
@pytest.mark.parametrize("lanes", [False, True])
def test_the_population_trainer_named_by_a_kind_takes_its_clocks(name, lanes):
    import inspect

    k = kind(name)
    fn = k.population_kernel(lanes=lanes)
    params = list(inspect.signature(getattr(fn, "py_func", fn)).parameters)
    assert params[:7] == ["theta", "m1", "m2", "steps", "x", "target", "epochs"]
    assert ("offsets" in params and "periods" in params) == k.clocked
    assert name in fn.__name__ or (name == "srn" and "cwrnn" in fn.__name__)
