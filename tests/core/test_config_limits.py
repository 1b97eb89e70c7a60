"""Clock periods the kernels cannot count are refused at the configuration (DEFECTS 10).

The Numba kernels (and the CUDA ones) keep periods, clocks and phases in int64. A period of 2**63
(the default exponential periods with 64 modules) constructed, trained on torch, saved and loaded,
then raised ``OverflowError`` in every Numba path.
"""

import json

import numpy as np
import pytest
import torch

from cwrnn_audio import CWRNN, CWRNNConfig, ParameterError

INT64_MAX = int(np.iinfo(np.int64).max)  # 2**63 - 1, independent of the library's constant


def test_exponential_periods_past_int64_are_refused_naming_the_module_count():
    with pytest.raises(ParameterError, match=r"num_modules=64 .*2\*\*63.* limit of 2\*\*63 - 1"):
        CWRNNConfig(num_modules=64, module_size=1)
    with pytest.raises(ParameterError, match="num_modules=1000000"):
        CWRNNConfig(num_modules=10**6, module_size=1)  # refused before 2**999999 is ever computed


def test_the_largest_exponential_period_that_fits_is_accepted_and_runs():
    c = CWRNNConfig(num_modules=63, module_size=1)
    assert c.periods[-1] == 2**62 == (INT64_MAX + 1) // 2
    torch.manual_seed(0)
    m = CWRNN(c)
    x = np.random.default_rng(0).normal(size=(40, 1)).astype(np.float32)
    np.testing.assert_allclose(m.run(x), m.run(x, backend="torch"), atol=1e-5)


def test_an_explicit_period_past_int64_is_refused_naming_it():
    with pytest.raises(ParameterError, match=rf"periods\[1\]={2**63} .*limit of 2\*\*63 - 1 = {INT64_MAX}"):
        CWRNNConfig(module_sizes=[2, 2], periods=[1, 2**63])


def test_a_period_of_exactly_int64_max_runs_on_both_engines_up_to_the_clocks_end():
    """The clock arithmetic at the limit: a phase below the period plus one never overflows."""
    torch.manual_seed(1)
    m = CWRNN(input_size=1, output_size=1, module_sizes=[2, 2], periods=[1, INT64_MAX])
    x = np.random.default_rng(1).normal(size=(30, 1)).astype(np.float32)
    start = INT64_MAX - 30  # the last 30 steps an int64 clock can take
    outs = []
    for backend in ("numba", "torch"):
        s = m.stream(backend=backend)
        s.process(x[:3])  # the slow module fires at t = 0 only
        h = s.state.h
        s.set_state((h, np.array([start], np.int64)))
        outs.append(s.process(x))
        assert s.state.t.tolist() == [INT64_MAX]
    np.testing.assert_allclose(outs[0], outs[1], atol=1e-5)


def test_a_model_file_with_such_periods_is_refused_naming_the_file(tmp_path):
    data = CWRNNConfig(num_modules=4, module_size=1).to_dict()
    data["periods"] = [1, 2, 4, 2**63]
    with pytest.raises(ParameterError, match=r"model.json: periods\[3\]=9223372036854775808"):
        CWRNNConfig.from_dict(json.loads(json.dumps(data)), source="model.json")
