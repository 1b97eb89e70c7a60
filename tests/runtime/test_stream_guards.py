"""The stream's public methods check every array before a nogil kernel indexes it (DEFECTS 1).

The Numba kernels take their loop bounds from the arrays they are given and index unchecked, so
an array of the wrong shape read or wrote past the stream's state: garbage, then SIGSEGV.
"""

import subprocess
import sys

import numpy as np
import pytest
import torch

from cwrnn_audio import CWRNN, ParameterError
from cwrnn_audio.errors import ParameterTypeError

# the reproduction of DEFECTS.md item 1: 64 voices of noise for a one-voice stream
CRASH = """
import numpy as np, cwrnn_audio
s = cwrnn_audio.CWRNN(input_size=1, output_size=1, num_modules=2, module_size=4).stream(voices=1)
s.free_run(np.zeros((64, 100000, 1), np.float32), np.zeros((64, 1), np.float32))
"""


def test_the_reported_free_run_is_refused_not_a_crash():
    r = subprocess.run([sys.executable, "-c", CRASH], capture_output=True, text=True, timeout=300)
    assert r.returncode == 1, f"exit {r.returncode}: {r.stderr[-800:]}"
    last = r.stderr.strip().splitlines()[-1]
    assert last.startswith("cwrnn_audio.errors.ParameterError: noise must have shape (1, N, 1)"), last
    assert "(64, 100000, 1)" in last


@pytest.fixture
def regression():
    torch.manual_seed(0)
    return CWRNN(input_size=2, output_size=2, module_sizes=[3, 2], periods=[1, 3], output_activation="tanh")


@pytest.fixture
def classifier():
    torch.manual_seed(1)
    return CWRNN(input_size=3, output_size=5, module_sizes=[3, 2], periods=[1, 2])


def f32(*shape):
    return np.zeros(shape, np.float32)


# (arguments, exception, text the message must hold); the stream has 2 voices, I = O = 2
FREE_RUN_BAD = [
    (
        (f32(3, 4, 2), f32(2, 2)),
        ParameterError,
        r"noise must have shape \(2, N, 2\) for 2 voice\(s\); got \(3, 4, 2\)",
    ),
    (
        (f32(1, 4, 2), f32(2, 2)),
        ParameterError,
        r"noise must have shape \(2, N, 2\) for 2 voice\(s\); got \(1, 4, 2\)",
    ),
    (
        (f32(2, 4, 1), f32(2, 2)),
        ParameterError,
        r"noise must have shape \(2, N, 2\) for 2 voice\(s\); got \(2, 4, 1\)",
    ),
    ((f32(2, 4, 9), f32(2, 2)), ParameterError, r"got \(2, 4, 9\)"),
    ((f32(2, 4), f32(2, 2)), ParameterError, r"noise must have shape \(2, N, 2\); got \(2, 4\)"),
    (
        (np.zeros((2, 4, 2), np.int32), f32(2, 2)),
        ParameterTypeError,
        "noise must have a floating-point dtype",
    ),
    ((np.full((2, 4, 2), np.nan, np.float32), f32(2, 2)), ParameterError, "noise contains NaN"),
    ((f32(2, 4, 2), f32(3, 2)), ParameterError, r"x_last must have shape \(2, 2\); got \(3, 2\)"),
    ((f32(2, 4, 2), f32(2, 1)), ParameterError, r"x_last must have shape \(2, 2\); got \(2, 1\)"),
    ((f32(2, 4, 2), f32(2)), ParameterError, r"x_last must have shape \(2, 2\); got \(2,\)"),
    ((f32(2, 4, 2), np.zeros((2, 2))), ParameterTypeError, "x_last must be float32 .* got dtype float64"),
    ((f32(2, 4, 2), [[0.0, 0.0], [0.0, 0.0]]), ParameterTypeError, "x_last must be a float32 NumPy array"),
    ((f32(2, 4, 2), f32(2, 4)[:, ::2]), ParameterError, "x_last must be C-contiguous and writeable"),
    ((f32(2, 4, 2), np.full((2, 2), np.inf, np.float32)), ParameterError, "x_last contains NaN"),
]


@pytest.mark.parametrize("backend", ["numba", "torch"])
@pytest.mark.parametrize("args, exc, message", FREE_RUN_BAD)
def test_free_run_refuses_arrays_that_do_not_fit_the_stream(regression, backend, args, exc, message):
    s = regression.stream(backend=backend, voices=2)
    before = s.state
    with pytest.raises(exc, match=message):
        s.free_run(*args)
    np.testing.assert_array_equal(s.state.h, before.h)  # refused before anything ran
    np.testing.assert_array_equal(s.state.t, before.t)


def test_free_run_refuses_read_only_inputs_and_bad_bounds(regression):
    s = regression.stream(voices=2)
    frozen = f32(2, 2)
    frozen.flags.writeable = False
    with pytest.raises(ParameterError, match="x_last must be C-contiguous and writeable"):
        s.free_run(f32(2, 3, 2), frozen)
    with pytest.raises(ParameterError, match="lo must be <= hi"):
        s.free_run(f32(2, 3, 2), f32(2, 2), lo=1.0, hi=-1.0)
    with pytest.raises(ParameterError, match="lo must be <= hi"):
        s.free_run(f32(2, 3, 2), f32(2, 2), lo=float("nan"))
    with pytest.raises(ParameterTypeError, match="hi must be a number; got '1'"):
        s.free_run(f32(2, 3, 2), f32(2, 2), hi="1")


def test_free_run_needs_as_many_inputs_as_outputs(classifier):
    with pytest.raises(
        ParameterError, match="input_size == output_size; this model has input_size=3, output_size=5"
    ):
        classifier.stream().free_run(f32(1, 4, 5), f32(1, 3))


@pytest.mark.parametrize("backend", ["numba", "torch"])
def test_free_run_still_runs_and_takes_any_float_noise(regression, backend, rng):
    noise = rng.normal(size=(2, 6, 2)) * 0.1  # float64, converted (noise is only read)
    a, b = regression.stream(backend=backend, voices=2), regression.stream(backend="numba", voices=2)
    xa, xb = np.full((2, 2), 0.5, np.float32), np.full((2, 2), 0.5, np.float32)
    ya = a.free_run(noise, xa, lo=-0.9, hi=0.9)
    yb = b.free_run(noise.astype(np.float32), xb, lo=-0.9, hi=0.9)
    assert ya.shape == (2, 6, 2) and ya.dtype == np.float32
    np.testing.assert_allclose(ya, yb, atol=1e-5)
    np.testing.assert_allclose(xa, ya[:, -1], atol=1e-6)  # updated in place: the last output
    assert np.abs(ya).max() <= np.float32(0.9)
    assert a.state.t.tolist() == [6, 6]


def uniforms(*shape):
    return np.full(shape, 0.5)


VALUES = np.linspace(-1, 1, 5, dtype=np.float32)

# the stream has 2 voices, I = 3, K = 5 classes
SAMPLE_BAD = [
    (
        (uniforms(3, 4), VALUES, f32(2, 3)),
        ParameterError,
        r"uniforms must have shape \(2, N\) for 2 voice\(s\); got \(3, 4\)",
    ),
    ((uniforms(1, 4), VALUES, f32(2, 3)), ParameterError, r"got \(1, 4\)"),
    ((uniforms(2), VALUES, f32(2, 3)), ParameterError, r"uniforms must have shape \(2, N\); got \(2,\)"),
    (
        (np.zeros((2, 4), int), VALUES, f32(2, 3)),
        ParameterTypeError,
        "uniforms must have a floating-point dtype",
    ),
    ((np.full((2, 4), np.nan), VALUES, f32(2, 3)), ParameterError, r"uniforms must lie in \[0, 1\)"),
    ((np.full((2, 4), 1.0), VALUES, f32(2, 3)), ParameterError, r"uniforms must lie in \[0, 1\)"),
    (
        (uniforms(2, 4), VALUES[:3], f32(2, 3)),
        ParameterError,
        r"class_values must have shape \(5,\), one per class; got \(3,\)",
    ),
    (
        (uniforms(2, 4), VALUES[:, None], f32(2, 3)),
        ParameterError,
        r"class_values must have shape \(5,\); got \(5, 1\)",
    ),
    (
        (uniforms(2, 4), np.arange(5), f32(2, 3)),
        ParameterTypeError,
        "class_values must have a floating-point dtype",
    ),
    (
        (uniforms(2, 4), np.full(5, np.nan, np.float32), f32(2, 3)),
        ParameterError,
        "class_values contains NaN",
    ),
    ((uniforms(2, 4), VALUES, f32(3, 3)), ParameterError, r"x_last must have shape \(2, 3\); got \(3, 3\)"),
    ((uniforms(2, 4), VALUES, f32(2, 1)), ParameterError, r"x_last must have shape \(2, 3\); got \(2, 1\)"),
    ((uniforms(2, 4), VALUES, np.zeros((2, 3))), ParameterTypeError, "x_last must be float32"),
]


@pytest.mark.parametrize("backend", ["numba", "torch"])
@pytest.mark.parametrize("args, exc, message", SAMPLE_BAD)
def test_sample_classes_refuses_arrays_that_do_not_fit_the_stream(classifier, backend, args, exc, message):
    s = classifier.stream(backend=backend, voices=2)
    before = s.state
    with pytest.raises(exc, match=message):
        s.sample_classes(*args)
    np.testing.assert_array_equal(s.state.h, before.h)
    np.testing.assert_array_equal(s.state.t, before.t)


@pytest.mark.parametrize(
    "options, exc, message",
    [
        ({"temperature": 0.0}, ParameterError, "temperature must be a positive finite number; got 0.0"),
        ({"temperature": -1.0}, ParameterError, "temperature must be a positive finite number"),
        ({"temperature": float("nan")}, ParameterError, "temperature must be a positive finite number"),
        ({"temperature": 1e-320}, ParameterError, "temperature must be a positive finite number"),
        ({"temperature": "hot"}, ParameterTypeError, "temperature must be a number; got 'hot'"),
        ({"top_k": -1}, ParameterError, "top_k must be a non-negative integer; got -1"),
        ({"top_k": 2.5}, ParameterTypeError, "top_k must be a non-negative integer; got 2.5"),
    ],
)
def test_sample_classes_refuses_bad_options(classifier, options, exc, message):
    with pytest.raises(exc, match=message):
        classifier.stream().sample_classes(uniforms(1, 3), VALUES, f32(1, 3), **options)


def test_sample_classes_needs_an_input_to_feed_the_class_back():
    m = CWRNN(input_size=0, output_size=4, num_modules=2, module_size=2)
    with pytest.raises(ParameterError, match="needs input_size >= 1; this model has input_size=0"):
        m.stream().sample_classes(uniforms(1, 3), VALUES[:4], f32(1, 0))


@pytest.mark.parametrize("backend", ["numba", "torch"])
def test_sample_classes_still_draws_the_same_classes_on_both_engines(classifier, backend, rng):
    u = rng.random((2, 40))[:, ::2]  # not contiguous: read-only inputs are converted
    a, b = classifier.stream(backend=backend, voices=2), classifier.stream(voices=2)
    xa, xb = f32(2, 3), f32(2, 3)
    huge = 2**70  # any top_k of K or more keeps every class, as 0 does, on either engine
    ca = a.sample_classes(u, VALUES.astype(np.float64), xa, temperature=0.7, top_k=huge)
    cb = b.sample_classes(np.ascontiguousarray(u), VALUES, xb, temperature=0.7, top_k=0)
    np.testing.assert_array_equal(ca, cb)
    assert ca.shape == (2, 20) and ca.dtype == np.int64 and ((0 <= ca) & (ca < 5)).all()
    np.testing.assert_array_equal(xa[:, 0], VALUES[ca[:, -1]])  # the newest class first


def test_process_refuses_a_read_only_out_buffer(regression):
    out = f32(4, 2)
    out.flags.writeable = False
    with pytest.raises(ParameterError, match="out must be a writeable array"):
        regression.stream().process(f32(4, 2), out=out)


def test_a_clock_past_the_int64_range_is_refused_not_wrapped(regression):
    s = regression.stream(voices=2)
    with pytest.raises(ParameterError, match=r"state.t must be integers in \[0, 2\*\*63 - 1\]"):
        s.set_state((np.zeros((2, 5)), np.array([2**63, 0], np.uint64)))
    s.set_state((np.zeros((2, 5)), np.array([2**63 - 1, 0], np.uint64)))
    assert s.state.t.tolist() == [2**63 - 1, 0]


def test_a_stream_refuses_weights_of_another_shape(regression, classifier):
    from cwrnn_audio.runtime.stream import NumbaStream

    with pytest.raises(ParameterError, match=r"weights.WI must have shape \(5, 2\)"):
        NumbaStream(regression.config, classifier.kernel_weights())
    with pytest.raises(ParameterError, match="voices must be a positive integer; got 0"):
        NumbaStream(regression.config, regression.kernel_weights(), voices=0)


@pytest.mark.parametrize("backend", ["numba", "torch"])
def test_a_clock_is_never_carried_past_int64_where_it_would_wrap(regression, backend):
    limit = 2**63 - 1
    s = regression.stream(backend=backend, voices=2)
    s.set_state((np.zeros((2, 5)), np.array([limit - 5, 3])))
    s.process(f32(2, 4, 2))
    with pytest.raises(ParameterError, match=r"2 more steps would carry the stream's clock past 2\*\*63 - 1"):
        s.process(f32(2, 2, 2))
    with pytest.raises(ParameterError, match="clock past 2"):
        s.free_run(f32(2, 2, 2), f32(2, 2))
    assert s.state.t.tolist() == [limit - 1, 7]  # refused before anything ran
    s.free_run(f32(2, 1, 2), f32(2, 2))  # the last step an int64 clock can take
    assert s.state.t.tolist() == [limit, 8]
    s.reset()
    s.process(f32(2, 3, 2))
    assert s.state.t.tolist() == [3, 3]
