"""A wrong type raises ParameterTypeError (also a TypeError), a wrong value ParameterError, as the
README promises: one test per check that used to raise a plain ParameterError for both."""

import copy

import pytest

from cwrnn_audio.errors import ParameterError, ParameterTypeError


def exactly_value_error(excinfo) -> bool:
    return not isinstance(excinfo.value, ParameterTypeError)


# experiments/tune.py -------------------------------------------------------------------------


def tuned():
    from cwrnn_audio.experiments.tune import FORMAT, VERSION

    return {
        "format": FORMAT,
        "version": VERSION,
        "methods": ["srn", "lstm"],
        "sizes": [100],
        "chosen": {
            "srn": {"100": {"optimizer": "sgd", "lr": 0.01, "clip": None}},
            "lstm": {"100": {"optimizer": "adam", "lr": 0.001, "clip": 1.0, "forget_bias": 5.0}},
        },
    }


def with_(path, value):
    data = copy.deepcopy(tuned())
    *keys, last = path
    node = data
    for k in keys:
        node = node[k]
    node[last] = value
    return data


def test_the_valid_settings_pass():
    from cwrnn_audio.experiments.tune import validate_settings

    assert validate_settings(tuned()) == tuned()


@pytest.mark.parametrize("optimizers", ["sgd", 3, None])
def test_tune_config_optimizers_of_another_type(optimizers):
    from cwrnn_audio.experiments.tune import TuneConfig

    with pytest.raises(ParameterTypeError, match=f"optimizers must be a non-empty list; got {optimizers!r}"):
        TuneConfig(optimizers=optimizers)


def test_tune_config_no_optimizers_is_a_value_error():
    from cwrnn_audio.experiments.tune import TuneConfig

    with pytest.raises(ParameterError, match="optimizers must be a non-empty list") as e:
        TuneConfig(optimizers=())
    assert exactly_value_error(e)


LSTM = ("chosen", "lstm", "100")


@pytest.mark.parametrize(
    "path, value, match",
    [
        (LSTM, [1], r"chosen\['lstm'\]\['100'\]: a setting must be an object; got \[1\]"),
        ((*LSTM, "lr"), "0.1", r"lr must be a positive number; got '0.1'"),
        ((*LSTM, "lr"), True, r"lr must be a positive number; got True"),
        ((*LSTM, "lr"), None, r"lr must be a positive number; got None"),
        ((*LSTM, "clip"), "1", r"clip must be a positive number or null; got '1'"),
        ((*LSTM, "forget_bias"), "5", r"forget_bias must be a number for lstm; got '5'"),
        (("methods",), "srn", r"'methods' must be a non-empty list; got 'srn'"),
        (("sizes",), 100, r"'sizes' must be a non-empty list; got 100"),
        (("sizes",), [[100]], r"sizes must be integers.*got \[100\]"),
        (("chosen",), [], r"'chosen' must be an object; got \[\]"),
    ],
)
def test_tuned_settings_of_another_type(path, value, match):
    from cwrnn_audio.experiments.tune import validate_settings

    with pytest.raises(ParameterTypeError, match=match):
        validate_settings(with_(path, value), source="t.json")


def test_a_tuned_settings_file_that_is_not_an_object():
    from cwrnn_audio.experiments.tune import validate_settings

    with pytest.raises(ParameterTypeError, match=r"t.json: .*JSON object; got \[1, 2\]"):
        validate_settings([1, 2], source="t.json")


@pytest.mark.parametrize(
    "path, value, match",
    [
        ((*LSTM, "lr"), 0.0, r"lr must be a positive number; got 0.0"),
        ((*LSTM, "lr"), float("nan"), r"lr must be a positive number; got nan"),
        ((*LSTM, "clip"), -1.0, r"clip must be a positive number or null; got -1.0"),
        ((*LSTM, "forget_bias"), float("inf"), r"forget_bias must be a number for lstm; got inf"),
        (("methods",), [], r"'methods' must be a non-empty list; got \[\]"),
        (("sizes",), [], r"'sizes' must be a non-empty list; got \[\]"),
        (("format",), "other", r"not a tuned-settings file"),
        (("chosen",), None, r"'chosen' is missing"),
        (("sizes",), [7], r"unknown size 7"),
    ],
)
def test_tuned_settings_of_a_bad_value_stay_value_errors(path, value, match):
    from cwrnn_audio.experiments.tune import validate_settings

    with pytest.raises(ParameterError, match=match) as e:
        validate_settings(with_(path, value), source="t.json")
    assert exactly_value_error(e)


# gpu ----------------------------------------------------------------------------------------


def test_supports_needs_a_config():
    from cwrnn_audio.gpu import supports

    with pytest.raises(ParameterTypeError, match="config must be a CWRNNConfig; got dict"):
        supports({"num_modules": 2})


def fused_args(dtype):
    import torch

    periods, offsets = (1, 2), (0, 2, 4)
    B, T, I, n = 1, 3, 1, 4
    return dict(
        x=torch.zeros(B, T, I, dtype=dtype),
        h0=torch.zeros(B, n),
        t0=0,
        W_H=torch.zeros(n, n),
        W_I=torch.zeros(n, I),
        b_H=torch.zeros(n),
        periods=periods,
        offsets=offsets,
    )


def test_fused_call_float32_passes():
    pytest.importorskip("triton")
    import torch

    from cwrnn_audio.gpu.function import _check

    assert _check(**fused_args(torch.float32)) == 0


def test_fused_call_of_another_dtype():
    pytest.importorskip("triton")
    import torch

    from cwrnn_audio.gpu.function import _check

    with pytest.raises(ParameterTypeError, match="x must be float32 on cpu; got torch.float64 on cpu"):
        _check(**fused_args(torch.float64))


# nn/lstm.py ---------------------------------------------------------------------------------


@pytest.mark.parametrize("field", ["init_std", "forget_bias"])
@pytest.mark.parametrize("value", ["0.1", True, None])
def test_lstm_config_number_of_another_type(field, value):
    from cwrnn_audio.nn.lstm import LSTMConfig

    with pytest.raises(ParameterTypeError, match=f"{field} must be a finite number; got {value!r}"):
        LSTMConfig(**{field: value})


@pytest.mark.parametrize("field", ["init_std", "forget_bias"])
def test_lstm_config_infinite_number_stays_a_value_error(field):
    from cwrnn_audio.nn.lstm import LSTMConfig

    with pytest.raises(ParameterError, match=f"{field} must be a finite number; got inf") as e:
        LSTMConfig(**{field: float("inf")})
    assert exactly_value_error(e)


def test_lstm_forward_needs_a_tensor():
    import numpy as np

    from cwrnn_audio.nn.lstm import LSTMNet

    net = LSTMNet(input_size=2, hidden_size=3, output_size=1)
    with pytest.raises(
        ParameterTypeError, match=r"input must be a tensor of shape \(batch, time, 2\); got ndarray"
    ):
        net(np.zeros((1, 4, 2), np.float32))


def test_lstm_forward_of_a_wrong_shape_stays_a_value_error():
    import torch

    from cwrnn_audio.nn.lstm import LSTMNet

    net = LSTMNet(input_size=2, hidden_size=3, output_size=1)
    with pytest.raises(
        ParameterError, match=r"input must be a tensor of shape \(batch, time, 2\); got \(1, 4, 3\)"
    ) as e:
        net(torch.zeros(1, 4, 3))
    assert exactly_value_error(e)


@pytest.mark.parametrize("seed", ["0", 1.5])
def test_split_excerpts_seed_of_another_type(seed):
    import numpy as np

    from cwrnn_audio.experiments.tune import split_excerpts

    with pytest.raises(ParameterTypeError, match=f"seed must be a non-negative integer; got {seed!r}"):
        split_excerpts(np.ones(4000, np.float32), count=1, length=100, seed=seed)
