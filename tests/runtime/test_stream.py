import numpy as np
import pytest
import torch

from cwrnn_audio import CWRNN, ParameterError


@pytest.fixture
def model():
    torch.manual_seed(3)
    return CWRNN(
        input_size=1, output_size=2, module_sizes=[4, 4, 3], periods=[1, 2, 5], output_activation="tanh"
    )


@pytest.mark.parametrize("backend", ["numba", "torch"])
def test_blocks_continue_where_the_last_one_stopped(model, backend, rng):
    x = rng.normal(size=(2, 90, 1)).astype(np.float32)
    whole = model.run(x, backend="numba")
    s = model.stream(backend=backend, voices=2)
    parts = [s.process(x[:, a:b]) for a, b in ((0, 1), (1, 33), (33, 33), (33, 90))]
    np.testing.assert_allclose(np.concatenate(parts, 1), whole, rtol=1e-5, atol=1e-5)
    assert s.state.t.tolist() == [90, 90]
    s.reset()
    np.testing.assert_allclose(s.process(x), whole, rtol=1e-5, atol=1e-5)


def test_state_moves_between_backends(model, rng):
    x = rng.normal(size=(120, 1)).astype(np.float32)
    a = model.stream(backend="numba")
    a.process(x[:50])
    b = model.stream(backend="torch")
    b.state = a.state
    np.testing.assert_allclose(b.process(x[50:]), a.process(x[50:]), rtol=1e-5, atol=1e-5)
    np.testing.assert_array_equal(a.state.t, b.state.t)


def test_restoring_a_state_mid_stream_reproduces_the_continuation_exactly(model, rng):
    x = rng.normal(size=(200, 1)).astype(np.float32)
    s = model.stream()
    s.process(x[:77])
    saved = s.state
    first = s.process(x[77:])
    s.process(x[:13])  # wander off
    s.set_state(saved)
    np.testing.assert_array_equal(s.process(x[77:]), first)


def test_out_buffer_is_filled_in_place(model, rng):
    x = rng.normal(size=(64, 1)).astype(np.float32)
    out = np.full((64, 2), np.nan, np.float32)
    s = model.stream()
    y = s.process(x, out=out)
    assert np.shares_memory(y, out)  # the result is the caller's buffer, not a copy
    np.testing.assert_array_equal(out, model.run(x))
    with pytest.raises(ParameterError, match="out must be"):
        s.process(x, out=np.empty((64, 2), np.float64))


def test_bad_blocks_and_states(model):
    s = model.stream(voices=2)
    with pytest.raises(ParameterError, match=r"block must have shape \(2, time, 1\)"):
        s.process(np.zeros((10, 1), np.float32))
    with pytest.raises(ParameterError, match="floating-point dtype"):
        s.process(np.zeros((2, 10, 1), np.int16))
    with pytest.raises(ParameterError, match="NaN"):
        s.process(np.full((2, 3, 1), np.inf, np.float32))
    with pytest.raises(ParameterError, match=r"state.h must be a float array of shape \(2, 11\)"):
        s.set_state((np.zeros((1, 11)), np.zeros(2, int)))
    with pytest.raises(ParameterError, match="state.t"):
        s.set_state((np.zeros((2, 11)), np.array([0, -1])))
    with pytest.raises(ParameterError, match="voices"):
        model.stream(voices=0)
    with pytest.raises(ParameterError, match="backend"):
        model.stream(backend="jax")


def test_run_validates_its_inputs(model):
    with pytest.raises(ParameterError, match=r"\(time, 1\)"):
        model.run(np.zeros((10, 2), np.float32))
    with pytest.raises(ParameterError, match="steps= alone"):
        model.run(steps=10)
    nothing = CWRNN(input_size=0)
    assert nothing.run(steps=0).shape == (0, 1)
    with pytest.raises(ParameterError, match="non-negative integer"):
        nothing.run(steps=-3)
