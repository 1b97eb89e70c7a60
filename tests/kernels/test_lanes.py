"""Lane population kernels (networks in SIMD lanes) against the one-network-per-thread kernels."""

import numpy as np
import pytest

from cwrnn_audio.errors import ParameterError
from cwrnn_audio.kernels.lanes import lane_width, train_cwrnn_lanes, train_lstm_lanes
from cwrnn_audio.kernels.optim import ADAM, SGD
from cwrnn_audio.kernels.population import train_cwrnn_population, train_lstm_population

EPOCHS = 5
T = 24
# fastmath reorders the sums differently in the two kernels: agreement is to float32 rounding
RTOL, ATOL = 1e-4, 1e-6


def hyper(kind, clip):
    lr = 1e-2 if kind == SGD else 1e-3
    return np.array([lr, 0.9, 1.0, 0.9, 0.999, 1e-8, clip])


def cwrnn_case(rng, P, S, I, srn):
    sizes, periods = ([6], [1]) if srn else ([3, 2, 5, 4], [1, 2, 4, 8])
    offsets = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
    n, O = int(offsets[-1]), 1
    D = n * n + n * I + n + O * n + O
    theta = (0.3 * rng.standard_normal((P, D))).astype(np.float32)
    x = rng.standard_normal((P, S, T, I)).astype(np.float32)
    tgt = (0.5 * rng.standard_normal((P, S, T, O))).astype(np.float32)
    return theta, x, tgt, (n, offsets, np.asarray(periods, np.int64))


def lstm_case(rng, P, S, I):
    Hn, O = 3, 1
    D = 4 * Hn * I + 4 * Hn * Hn + 4 * Hn + O * Hn + O
    theta = (0.3 * rng.standard_normal((P, D))).astype(np.float32)
    x = rng.standard_normal((P, S, T, I)).astype(np.float32)
    tgt = (0.5 * rng.standard_normal((P, S, T, O))).astype(np.float32)
    return theta, x, tgt, (Hn,)


def train(kernel, theta, x, tgt, net, act, kind, hp, steps0=0, **kw):
    P = theta.shape[0]
    th = theta.copy()
    m1, m2 = np.zeros_like(th), np.zeros_like(th)
    steps = np.full(P, steps0, np.int64)
    losses = np.zeros((P, EPOCHS))
    hp = np.ascontiguousarray(np.broadcast_to(hp, (P, 7)))  # the kernels take a setting per network
    kernel(th, m1, m2, steps, x, tgt, EPOCHS, *net, act, 1.0 / T, kind, hp, losses, **kw)
    return th, m1, m2, steps, losses


def assert_same(a, b):
    for u, v in zip(a, b):
        np.testing.assert_allclose(u, v, rtol=RTOL, atol=ATOL)


@pytest.mark.parametrize("kind", [SGD, ADAM])
@pytest.mark.parametrize("srn", [False, True])
@pytest.mark.parametrize(
    ("S", "I", "act", "clip"), [(1, 0, 0, 1.0), (2, 2, 1, 0.0), (2, 0, 1, 0.5), (1, 2, 0, 0.0)]
)
def test_cwrnn_lanes_match_population(rng, kind, srn, S, I, act, clip):
    theta, x, tgt, net = cwrnn_case(rng, 13, S, I, srn)
    hp = hyper(kind, clip)
    assert_same(
        train(train_cwrnn_lanes, theta, x, tgt, net, act, kind, hp),
        train(train_cwrnn_population, theta, x, tgt, net, act, kind, hp),
    )


@pytest.mark.parametrize("kind", [SGD, ADAM])
@pytest.mark.parametrize(("S", "I", "act", "clip"), [(1, 0, 0, 1.0), (2, 2, 1, 0.0)])
def test_lstm_lanes_match_population(rng, kind, S, I, act, clip):
    theta, x, tgt, net = lstm_case(rng, 13, S, I)
    hp = hyper(kind, clip)
    assert_same(
        train(train_lstm_lanes, theta, x, tgt, net, act, kind, hp),
        train(train_lstm_population, theta, x, tgt, net, act, kind, hp),
    )


def test_resumed_steps_match(rng):
    # a resumed population: per-network step counts (Adam's bias correction, SGD's first step)
    theta, x, tgt, net = cwrnn_case(rng, 13, 1, 0, False)
    for kind in (SGD, ADAM):
        hp = hyper(kind, 1.0)
        assert_same(
            train(train_cwrnn_lanes, theta, x, tgt, net, 0, kind, hp, steps0=3),
            train(train_cwrnn_population, theta, x, tgt, net, 0, kind, hp, steps0=3),
        )


@pytest.mark.parametrize("lstm", [False, True])
@pytest.mark.parametrize("lanes", [8, 40])
def test_padding_lanes_change_nothing(rng, lstm, lanes):
    # the same 8 networks alone (one full block) and inside P=13: a block of 8 and one of 5
    # padded, or one block of 40 where they ride the 4-vector loop instead of the 1-vector tail
    theta, x, tgt, net = lstm_case(rng, 13, 2, 0) if lstm else cwrnn_case(rng, 13, 2, 0, False)
    kernel = train_lstm_lanes if lstm else train_cwrnn_lanes
    hp = hyper(ADAM, 1.0)
    whole = train(kernel, theta, x, tgt, net, 1, ADAM, hp, lanes=lanes)
    part = train(kernel, theta[:8], x[:8], tgt[:8], net, 1, ADAM, hp, lanes=8)
    for u, v in zip(part, whole):
        np.testing.assert_array_equal(u, v[:8])  # same lanes, same arithmetic: bit for bit


@pytest.mark.parametrize("lanes", [8, 24, 40])
def test_any_lane_width_matches_population(rng, lanes):
    theta, x, tgt, net = cwrnn_case(rng, 13, 1, 0, False)
    hp = hyper(SGD, 1.0)
    assert_same(
        train(train_cwrnn_lanes, theta, x, tgt, net, 0, SGD, hp, lanes=lanes),
        train(train_cwrnn_population, theta, x, tgt, net, 0, SGD, hp),
    )


def test_lane_width():
    assert lane_width(100, 2) == 56  # two blocks of 50 networks, padded to a multiple of 8
    assert lane_width(13, 2) == 8
    assert lane_width(1000, 2) == 64
    assert lane_width(3, 16) == 8


@pytest.mark.parametrize("lanes", [0, 12, -8])
def test_lane_width_must_be_a_multiple_of_8(rng, lanes):
    theta, x, tgt, net = cwrnn_case(rng, 5, 1, 0, False)
    with pytest.raises(ParameterError, match=f"lanes={lanes}"):
        train(train_cwrnn_lanes, theta, x, tgt, net, 0, SGD, hyper(SGD, 0.0), lanes=lanes)


def test_parameters_must_be_float32(rng):
    theta, x, tgt, net = lstm_case(rng, 5, 1, 0)
    with pytest.raises(TypeError, match="float32"):
        train(train_lstm_lanes, theta.astype(np.float64), x, tgt, net, 0, SGD, hyper(SGD, 0.0))


def test_inputs_untouched_and_in_place(rng):
    theta, x, tgt, net = cwrnn_case(rng, 5, 1, 2, False)
    x0, t0 = x.copy(), tgt.copy()
    th, *_ = train(train_cwrnn_lanes, theta, x, tgt, net, 0, SGD, hyper(SGD, 0.0))
    np.testing.assert_array_equal(x, x0)
    np.testing.assert_array_equal(tgt, t0)
    assert not np.array_equal(th, theta)


def test_the_engine_trains_large_populations_in_lanes_and_small_ones_per_thread(monkeypatch):
    """run_epochs picks the lane kernels from LANES_FROM networks; both give the same updates."""
    import cwrnn_audio.train.engine_numba as engine
    from cwrnn_audio import CWRNN
    from cwrnn_audio.train.optimizer import OptimizerConfig

    template = CWRNN(input_size=0, hidden_size=10, num_modules=3)
    D = sum(p.numel() for p in template.parameters() if p.requires_grad)
    rng = np.random.default_rng(0)
    P = engine.LANES_FROM
    theta = (0.1 * rng.standard_normal((P, D))).astype(np.float32)
    tgt = (0.5 * rng.standard_normal((P, 1, T, 1))).astype(np.float32)
    x = np.zeros((P, 1, T, 0), np.float32)
    opt = OptimizerConfig(name="sgd", lr=1e-3, momentum=0.9, nesterov=True, clip=10.0)
    called = []

    import cwrnn_audio.kernels.lanes as lanes_mod
    import cwrnn_audio.kernels.population as population_mod

    def counted(module, name):
        inner = getattr(module, name)
        return lambda *a: called.append(name) or inner(*a)

    # the engine finds them through the network kind (core/kinds.py), by module and name
    for module, name in ((lanes_mod, "train_cwrnn_lanes"), (population_mod, "train_cwrnn_population")):
        monkeypatch.setattr(module, name, counted(module, name))
    runs = {}
    for lanes_from in (P, P + 1):  # P networks: lanes, then (threshold above P) one per thread
        monkeypatch.setattr(engine, "LANES_FROM", lanes_from)
        th, m1, m2, steps = theta.copy(), np.zeros_like(theta), np.zeros_like(theta), np.zeros(P, np.int64)
        losses = engine.run_epochs(template, th, m1, m2, steps, x, tgt, EPOCHS, 1.0, opt)
        runs[lanes_from] = th, losses
    assert called == ["train_cwrnn_lanes", "train_cwrnn_population"]
    np.testing.assert_allclose(runs[P][0], runs[P + 1][0], rtol=RTOL, atol=ATOL)
    np.testing.assert_allclose(runs[P][1], runs[P + 1][1], rtol=RTOL, atol=ATOL)


def settings_per_network(P, kind):
    """A different learning rate and clip for every network (the rows a search stacks)."""
    hp = np.tile(hyper(kind, 0.0), (P, 1))
    hp[:, 0] *= np.geomspace(0.1, 3.0, P)
    hp[:, 6] = np.where(np.arange(P) % 3 == 0, 0.0, np.linspace(0.2, 2.0, P))
    return hp


@pytest.mark.parametrize("kind", [SGD, ADAM])
@pytest.mark.parametrize("lstm", [False, True])
def test_each_network_follows_its_own_settings_whoever_shares_its_population(kind, lstm):
    """Many settings in one population train each network as that network alone, with its own
    setting, would train (the one-network-per-thread kernel on a population of one)."""
    rng = np.random.default_rng(5)
    P = 70
    theta, x, tgt, net = lstm_case(rng, P, 1, 0) if lstm else cwrnn_case(rng, P, 1, 0, srn=False)
    hp = settings_per_network(P, kind)
    lanes, single = (
        (train_lstm_lanes, train_lstm_population) if lstm else (train_cwrnn_lanes, train_cwrnn_population)
    )
    together = train(lanes, theta, x, tgt, net, 0, kind, hp)
    for p in (0, 1, 33, 69):
        alone = train(single, theta[p : p + 1], x[p : p + 1], tgt[p : p + 1], net, 0, kind, hp[p])
        assert_same([a[p : p + 1] for a in together], alone)
    # a setting's networks do not depend on which other settings share their block
    again = train(lanes, theta[30:], x[30:], tgt[30:], net, 0, kind, hp[30:])
    for a, b in zip(together, again):
        np.testing.assert_array_equal(a[30:], b)
