import json

import pytest

from cwrnn_audio import CWRNNConfig, ParameterError
from cwrnn_audio.core.config import split_hidden


def test_default_is_eight_modules_of_sixteen_with_exponential_periods():
    c = CWRNNConfig()
    assert c.module_sizes == (16,) * 8
    assert c.periods == (1, 2, 4, 8, 16, 32, 64, 128)
    assert (c.num_modules, c.module_size, c.hidden_size) == (8, 16, 128)


def test_hidden_size_split_gives_extra_neurons_to_faster_modules():
    # 40 over 9: 4 each, 4 left over -> the first four modules get 5
    assert split_hidden(40, 9) == (5, 5, 5, 5, 4, 4, 4, 4, 4)
    c = CWRNNConfig(hidden_size=11, num_modules=9)
    assert c.module_sizes == (2, 2, 1, 1, 1, 1, 1, 1, 1)
    assert c.module_size is None and c.hidden_size == 11


def test_explicit_sizes_and_periods():
    c = CWRNNConfig(module_sizes=[3, 2], periods=[1, 3], input_size=0, output_size=2)
    assert c.offsets == (0, 3, 5)
    assert c.periods == (1, 3)


def paper_count(n, g, input_size=0, output_size=1):
    """Count by hand: block-upper-triangular W_H, W_I, b_H, W_O, b_O (PAPER.md)."""
    sizes = split_hidden(n, g)
    total, remaining = 0, n
    for k in sizes:
        total += k * remaining  # module reads itself and all slower ones
        remaining -= k
    return total + n * input_size + n + output_size * n + output_size


@pytest.mark.parametrize("n,budget", [(11, 100), (19, 250), (27, 500), (40, 1000)])
def test_parameter_count_matches_the_papers_sizes(n, budget):
    c = CWRNNConfig(input_size=0, hidden_size=n, num_modules=9)
    assert c.num_parameters == paper_count(n, 9)
    assert c.num_periods == 9
    # the paper sized its networks to these budgets, periods included
    assert abs(c.num_parameters + c.num_periods - budget) <= 0.1 * budget


def test_round_trip_through_json():
    c = CWRNNConfig(
        input_size=2, output_size=3, module_sizes=[4, 3, 3], periods=[1, 4, 6], output_activation="tanh"
    )
    again = CWRNNConfig.from_dict(json.loads(c.to_json()))
    assert again == c
    assert again.module_sizes == (4, 3, 3) and again.periods == (1, 4, 6)


@pytest.mark.parametrize(
    "kwargs, needle",
    [
        (dict(periods=[1, 2, 2, 8, 16, 32, 64, 128]), "strictly increasing"),
        (dict(periods=[0, 1, 2, 3, 4, 5, 6, 7]), "periods[0]"),
        (dict(periods=[1, 2, 4]), "periods has 3 entries"),
        (dict(periods="linear"), "'linear'"),
        (dict(periods=[1.5, 2, 3, 4, 5, 6, 7, 8]), "periods[0]"),
        (dict(hidden_size=5, num_modules=9), "cannot be split"),
        (dict(module_sizes=[4, 0]), "module_sizes[1]"),
        (dict(module_sizes=[]), "must not be empty"),
        (dict(module_sizes=[4, 4], num_modules=3), "num_modules=3"),
        (dict(input_size=-1), "input_size"),
        (dict(output_size=0), "output_size"),
        (dict(output_activation="relu"), "'relu'"),
        (dict(init_std=0.0), "init_std"),
        (dict(num_modules=2.5), "num_modules"),
    ],
)
def test_bad_configurations_name_the_argument(kwargs, needle):
    with pytest.raises(ValueError) as err:
        CWRNNConfig(**kwargs)
    assert isinstance(err.value, ParameterError)
    assert needle in str(err.value)


def test_from_dict_refuses_unknown_and_missing_keys():
    d = CWRNNConfig().to_dict()
    with pytest.raises(ParameterError, match="unknown key"):
        CWRNNConfig.from_dict({**d, "bogus": 1})
    del d["periods"]
    with pytest.raises(ParameterError, match="missing key"):
        CWRNNConfig.from_dict(d)


def test_wrong_types_raise_type_errors_of_the_same_family():
    from cwrnn_audio import ParameterTypeError

    for kwargs in (dict(num_modules=2.5), dict(input_size="1"), dict(output_activation=3)):
        with pytest.raises(TypeError) as err:
            CWRNNConfig(**kwargs)
        assert isinstance(err.value, ParameterTypeError) and isinstance(err.value, ParameterError)


def test_legacy_none_activation_is_linear():
    # "none" computed exactly what "linear" does; model files that say "none" still load
    assert CWRNNConfig(output_activation="none") == CWRNNConfig(output_activation="linear")
    assert CWRNNConfig(output_activation=None).output_activation == "linear"
