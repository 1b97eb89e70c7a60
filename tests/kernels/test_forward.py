import threading
import tracemalloc

import numpy as np
import pytest
from conftest import make_model as make
from conftest import random_config_kwargs
from reference import reference_forward

from cwrnn_audio.core.clock import block_upper_mask
from cwrnn_audio.kernels.forward import FASTMATH, fast_tanh, forward_kernel
from cwrnn_audio.runtime.stream import NumbaStream


@pytest.mark.parametrize("trial", range(12))
def test_numba_matches_the_equations_on_random_configs(rng, trial):
    kw = random_config_kwargs(rng)
    model = make(rng, **kw)
    x = rng.normal(0, 1, (int(rng.integers(1, 200)), kw["input_size"])).astype(np.float32)
    y = model.run(x, backend="numba")
    c = model.config
    ref, _ = reference_forward(model.numpy_weights(), c.module_sizes, c.periods, c.output_activation, x)
    np.testing.assert_allclose(y, ref, rtol=1e-5, atol=1e-5)


def test_voices_with_their_own_state_and_clock(rng):
    model = make(rng, input_size=2, output_size=2, module_sizes=[3, 2, 4], periods=[1, 3, 4])
    n, voices, steps = model.hidden_size, 4, 50
    h0 = rng.uniform(-0.5, 0.5, (voices, n)).astype(np.float32)
    t0 = np.array([0, 1, 7, 1000], np.int64)
    x = rng.normal(size=(voices, steps, 2)).astype(np.float32)
    s = model.stream(voices=voices)
    s.set_state((h0, t0))
    y = s.process(x)
    c = model.config
    for v in range(voices):
        ref, h_ref = reference_forward(
            model.numpy_weights(), c.module_sizes, c.periods, c.output_activation, x[v], h0[v], int(t0[v])
        )
        np.testing.assert_allclose(y[v], ref, rtol=1e-5, atol=1e-5)
        np.testing.assert_allclose(s.state.h[v], h_ref, rtol=1e-5, atol=1e-5)
    np.testing.assert_array_equal(s.state.t, t0 + steps)


@pytest.mark.parametrize("trial", range(5))
def test_any_split_into_blocks_is_bit_identical(rng, trial):
    kw = random_config_kwargs(rng)
    model = make(rng, **kw)
    x = rng.normal(size=(3, 700, kw["input_size"])).astype(np.float32)
    whole = model.stream(voices=3).process(x)
    s = model.stream(voices=3)
    cuts = np.sort(rng.choice(np.arange(1, 700), size=int(rng.integers(1, 40)), replace=False))
    parts = [s.process(xb) for xb in np.split(x, cuts, axis=1)]
    np.testing.assert_array_equal(np.concatenate(parts, axis=1), whole)


@pytest.mark.parametrize("trial", range(6))
def test_voices_on_the_same_step_run_as_pairs_and_match_the_equations(rng, trial):
    # t = (5, 5, 9, 9, 2): two pairs through step_pair, the last voice alone
    kw = random_config_kwargs(rng)
    model = make(rng, **kw)
    c = model.config
    t0 = np.array([5, 5, 9, 9, 2], np.int64)
    h0 = rng.uniform(-0.5, 0.5, (5, c.hidden_size)).astype(np.float32)
    x = rng.normal(size=(5, int(rng.integers(1, 150)), kw["input_size"])).astype(np.float32)
    s = model.stream(voices=5)
    s.set_state((h0, t0))
    y = s.process(x)
    for v in range(5):
        ref, h_ref = reference_forward(
            model.numpy_weights(), c.module_sizes, c.periods, c.output_activation, x[v], h0[v], int(t0[v])
        )
        np.testing.assert_allclose(y[v], ref, rtol=1e-5, atol=1e-5)
        np.testing.assert_allclose(s.state.h[v], h_ref, rtol=1e-5, atol=1e-5)


def test_a_pair_rebuilds_the_cache_of_a_voice_whose_state_was_replaced(rng):
    # voice 0 keeps a current slow-input cache, voice 1's state is swapped under it
    model = make(rng, input_size=1, module_sizes=[3, 4, 2, 5], periods=[1, 2, 4, 8])
    c, w = model.config, model.kernel_weights()
    n, g = c.hidden_size, c.num_modules
    h = np.zeros((2, n), np.float32)
    t = np.zeros(2, np.int64)
    S, ok = np.zeros((2, n), np.float32), np.zeros((2, g), np.uint8)
    work = (np.zeros((2, n), np.float32), np.zeros(g, np.int64))
    x = rng.normal(size=(2, 37, 1)).astype(np.float32)
    y = np.zeros((2, 37, 1), np.float32)
    forward_kernel(x, h, t, S, ok, w.WH, w.WI, w.bH, w.WO, w.bO, w.offsets, w.periods, w.act, y, *work)
    assert ok[0].any()
    h_start = h.copy()
    h_start[1] = rng.uniform(-0.9, 0.9, n)
    h[1], ok[1] = h_start[1], 0
    forward_kernel(x, h, t, S, ok, w.WH, w.WI, w.bH, w.WO, w.bO, w.offsets, w.periods, w.act, y, *work)
    for v in range(2):
        ref, _ = reference_forward(
            model.numpy_weights(), c.module_sizes, c.periods, c.output_activation, x[v], h_start[v], 37
        )
        np.testing.assert_allclose(y[v], ref, rtol=1e-5, atol=1e-5)


def test_no_input_generator_runs_for_a_number_of_steps(rng):
    model = make(rng, input_size=0, hidden_size=40, num_modules=9)
    y = model.run(steps=320)
    assert y.shape == (320, 1)
    c = model.config
    ref, _ = reference_forward(model.numpy_weights(), c.module_sizes, c.periods, "linear", np.zeros((320, 0)))
    np.testing.assert_allclose(y, ref, rtol=1e-5, atol=1e-5)


def test_kernel_never_reads_below_the_block_diagonal(rng):
    model = make(rng, input_size=1, module_sizes=[4, 3, 5], periods=[1, 2, 4])
    x = rng.normal(size=(1, 64, 1)).astype(np.float32)
    expect = model.stream().process(x)
    w = model.kernel_weights()
    poisoned = w.WH.copy()
    poisoned[~block_upper_mask([4, 3, 5])] = np.nan  # any read, even times 0, gives NaN
    s = NumbaStream(model.config, w._replace(WH=poisoned))
    np.testing.assert_array_equal(s.process(x), expect)
    pair = np.concatenate([x, -x])  # two voices on one clock: the paired step
    expect = model.stream(voices=2).process(pair)
    s = NumbaStream(model.config, w._replace(WH=poisoned), voices=2)
    np.testing.assert_array_equal(s.process(pair), expect)


def _spins_while(kernel, args):
    """How often the main thread loops while ``kernel`` runs in another thread."""
    worker = threading.Thread(target=kernel, args=args)
    spins = 0
    worker.start()
    while worker.is_alive():
        spins += 1
    worker.join()
    return spins


def test_kernel_releases_the_gil(rng):
    from numba import njit

    holding = njit(fastmath=FASTMATH)(forward_kernel.py_func)  # same code, GIL held
    model = make(rng, input_size=1, num_modules=8, module_size=32)
    s, w = model.stream(), model.kernel_weights()
    x = np.zeros((1, 500_000, 1), np.float32)
    y = np.empty((1, 500_000, 1), np.float32)

    def args():
        k = s.kernel
        return (x, k.h, k.t, k.S, k.S_ok, *w, y, k._scratch, k._phase)

    counts = {}
    for name, kernel in (("holding", holding), ("released", forward_kernel)):
        kernel(*args())  # compile
        counts[name] = _spins_while(kernel, args())
    # with the GIL held the main thread only runs around the call's edges
    assert counts["released"] > 20 * counts["holding"], counts


def test_kernel_is_cached_on_disk():
    assert type(forward_kernel._cache).__name__ == "FunctionCache"


def test_streaming_allocates_nothing_per_sample(rng):
    model = make(rng, input_size=1, num_modules=8, module_size=16)
    s = model.stream()
    short, long_ = np.zeros((16, 1), np.float32), np.zeros((4096, 1), np.float32)
    y_short, y_long = np.empty((16, 1), np.float32), np.empty((4096, 1), np.float32)
    s.process(short, out=y_short)  # compile, warm caches

    def peak(block, out):
        tracemalloc.start()
        s.process(block, out=out)
        _, top = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        return top

    # a per-sample allocation would cost >= 4096 x a few bytes on the long block
    assert peak(long_, y_long) <= peak(short, y_short) + 1024


def test_fast_tanh_is_accurate():
    from numba import njit

    @njit
    def apply(a):
        out = np.empty_like(a)
        for i in range(a.size):
            out[i] = fast_tanh(a[i])
        return out

    x = np.concatenate([np.linspace(-12, 12, 200001), [0.0, 1e-7, -3e-4]]).astype(np.float32)
    err = np.abs(apply(x) - np.tanh(x.astype(np.float64)))
    assert err.max() < 5e-7
