"""The error contract of the torch module: a wrong type is a ParameterTypeError (a TypeError and a
ParameterError), a wrong value a plain ParameterError."""

import numpy as np
import pytest
import torch

from cwrnn_audio import CWRNN
from cwrnn_audio.checks import valid_out
from cwrnn_audio.errors import ParameterError, ParameterTypeError


@pytest.fixture
def model():
    return CWRNN(input_size=2, output_size=1, num_modules=2, module_size=2)


@pytest.mark.parametrize(
    "call",
    [
        lambda m: m(np.zeros((1, 3, 2), np.float32)),  # an array, not a tensor
        lambda m: m([[0.0, 0.0]]),
        lambda m: m(torch.zeros(1, 3, 2, dtype=torch.int64)),  # integer dtype
        lambda m: m(torch.zeros(1, 3, 2, dtype=torch.bool)),
        lambda m: m(torch.zeros(1, 3, 2), hx=5),  # not a pair
        lambda m: m(torch.zeros(1, 3, 2), hx=("h", 0)),
        lambda m: m(torch.zeros(1, 3, 2), hx=(torch.zeros(1, 4), torch.zeros(1))),  # float counters
        lambda m: CWRNN({"input_size": 1}),
        lambda m: CWRNN(m.config, batch_first=1),
        lambda m: m.stream(voices="2"),
        lambda m: m.stream(voices=2.0),
        lambda m: valid_out([0.0], (1,)),
        lambda m: valid_out(np.zeros(1, np.float64), (1,)),
    ],
)
def test_wrong_types_raise_parameter_type_error(model, call):
    with pytest.raises(ParameterTypeError):
        call(model)


@pytest.mark.parametrize(
    "call",
    [
        lambda m: m(torch.zeros(1, 3, 5)),  # wrong shape
        lambda m: m(torch.full((1, 3, 2), float("nan"))),
        lambda m: m(torch.zeros(1, 3, 2), hx=(torch.zeros(1, 5), torch.zeros(1, dtype=torch.long))),
        lambda m: m(torch.zeros(1, 3, 2), hx=(torch.zeros(1, 4), -torch.ones(1, dtype=torch.long))),
        lambda m: m.stream(voices=0),
        lambda m: valid_out(np.zeros(2, np.float32), (1,)),
    ],
)
def test_wrong_values_raise_a_plain_parameter_error(model, call):
    with pytest.raises(ParameterError) as info:
        call(model)
    assert not isinstance(info.value, TypeError)


def test_right_types_still_run(model):
    y, state = model(torch.zeros(1, 3, 2), hx=(torch.zeros(1, 4), torch.zeros(1, dtype=torch.long)))
    assert y.shape == (1, 3, 1) and int(state.t[0]) == 3
    assert model.stream(voices=np.int64(2)).voices == 2
