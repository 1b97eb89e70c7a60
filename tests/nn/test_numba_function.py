"""The CPU recurrence as a Numba ``torch.autograd.Function`` (``nn/numba_function.py``) against an
independent reference: autograd through the step loop (``functional._step_loop``), called directly
or through ``CWRNN`` with ``CWRNN_AUDIO_CPU_KERNELS=0``."""

import os
from collections import Counter

import numpy as np
import pytest
import torch

import cwrnn_audio.kernels.recurrence as recurrence
import cwrnn_audio.nn.numba_function as numba_function
from cwrnn_audio import CWRNN, CWRNNState, ParameterError
from cwrnn_audio.core.clock import block_upper_mask
from cwrnn_audio.core.config import CWRNNConfig
from cwrnn_audio.nn.functional import _step_loop
from cwrnn_audio.nn.numba_function import ENV_SWITCH, CWRNNRecurrence, numba_forward

TOL = {torch.float64: 1e-10, torch.float32: 1e-5}
NAMES = ("x", "h0", "W_H", "W_I", "b_H")


@pytest.fixture(autouse=True)
def _default_switches(monkeypatch):
    # the kernels by default, never the fused (Triton) path, whatever the shell says; and lane
    # blocks on every thread however small the model, so these small cases run several blocks
    monkeypatch.delenv(ENV_SWITCH, raising=False)
    monkeypatch.delenv("CWRNN_AUDIO_FUSED", raising=False)
    monkeypatch.setattr(numba_function, "MIN_BLOCK_WORK", 0)


@pytest.fixture
def calls(monkeypatch):
    """Counts calls of the two entry points (as ``functional`` looks them up: ``numba_forward``, and
    ``numba_readout`` for the module's narrow read-outs) and of the two kernels."""
    counter = Counter()

    def count(module, name):
        original = getattr(module, name)

        def counted(*args, **kwargs):
            counter[name] += 1
            return original(*args, **kwargs)

        monkeypatch.setattr(module, name, counted)

    count(numba_function, "numba_forward")
    count(numba_function, "numba_readout")
    count(recurrence, "forward_block")
    count(recurrence, "backward_block")
    return counter


def rel(a, b) -> float:
    """max |a - b| relative to max |b| (absolute where b is all zero)."""
    assert a.shape == b.shape and a.dtype == b.dtype, (a.shape, b.shape, a.dtype, b.dtype)
    if a.numel() == 0:
        return 0.0
    scale = b.abs().max().item()
    return (a - b).abs().max().item() / (scale if scale > 0 else 1.0)


def problem(dtype, B, T, I, sizes, periods, seed=0):
    """Config, mask and random leaves (x, h0, W_H unmasked, W_I, b_H) plus an upstream gradient dH."""
    c = CWRNNConfig(input_size=I, module_sizes=sizes, periods=periods)
    n = c.hidden_size
    g = torch.Generator().manual_seed(seed)

    def r(*shape, scale=0.5):
        return (torch.randn(*shape, generator=g, dtype=torch.float64) * scale).to(dtype)

    mask = torch.from_numpy(block_upper_mask(c.module_sizes)).to(dtype)
    leaves = [r(B, T, I, scale=1.0), r(B, n), r(n, n), r(n, I), r(n)]
    return c, mask, leaves, r(B, T, n, scale=1.0)


def run(fn, c, mask, leaves, dH, t0):
    """H and the gradients of <H, dH> w.r.t. every leaf (zeros where the graph does not reach it)."""
    leaves = [t.detach().clone().requires_grad_(True) for t in leaves]
    x, h, W, W_I, b = leaves
    H = fn(x, h, t0, W * mask, W_I, b, c.periods, c.offsets)
    if not H.requires_grad:  # the loop at T = 0 returns fresh zeros
        return H, [torch.zeros_like(t) for t in leaves]
    grads = torch.autograd.grad(H, leaves, dH, allow_unused=True)
    return H.detach(), [torch.zeros_like(t) if d is None else d for t, d in zip(leaves, grads)]


CASES = {
    # name: (B, T, I, module_sizes, periods, t0)
    "uneven_sizes_odd_periods": (5, 40, 3, [3, 5, 4, 7], [1, 3, 5, 7], 0),
    "t0_4_slow_modules_idle_at_first_step": (13, 37, 1, [3, 5, 4, 7], [1, 3, 5, 7], 4),
    "no_module_ticks_at_first_step": (1, 23, 2, [2, 3, 4], [2, 3, 5], 1),
    "batch_33_no_input_exponential": (33, 30, 0, [4, 4, 4, 4], "exponential", 7),
    "slowest_never_ticks": (5, 5, 1, [3, 5, 4, 7], [1, 3, 5, 7], 1),
    "T_1_at_t0_0": (8, 1, 3, [3, 5, 4, 7], [1, 3, 5, 7], 0),
    "T_1_at_t0_3": (13, 1, 3, [3, 5, 4, 7], [1, 3, 5, 7], 3),
    "large_t0": (9, 16, 2, [2, 2, 2], [1, 3, 5], 10**9 + 7),
}


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32], ids=["f64", "f32"])
@pytest.mark.parametrize("case", list(CASES), ids=list(CASES))
def test_forward_and_every_gradient_match_autograd_through_the_step_loop(case, dtype):
    B, T, I, sizes, periods, t0 = CASES[case]
    c, mask, leaves, dH = problem(dtype, B, T, I, sizes, periods)
    H, grads = run(numba_forward, c, mask, leaves, dH, t0)
    H_ref, grads_ref = run(_step_loop, c, mask, leaves, dH, t0)
    assert H.shape == (B, T, c.hidden_size) and H.dtype == dtype
    errors = {"H": rel(H, H_ref), **{k: rel(a, b) for k, a, b in zip(NAMES, grads, grads_ref)}}
    assert max(errors.values()) < TOL[dtype], errors
    # the comparison is not vacuous: every gradient that exists is non-zero
    for k, d in zip(NAMES, grads_ref):
        assert d.numel() == 0 or d.abs().max() > 0, k


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32], ids=["f64", "f32"])
def test_T_0_gives_empty_states_and_zero_gradients(dtype):
    c, mask, leaves, _ = problem(dtype, 5, 0, 2, [3, 5, 4], [1, 3, 5])
    H, grads = run(numba_forward, c, mask, leaves, torch.zeros(5, 0, c.hidden_size, dtype=dtype), 3)
    assert H.shape == (5, 0, c.hidden_size) and H.dtype == dtype
    for k, d, leaf in zip(NAMES, grads, leaves):
        assert d.shape == leaf.shape and not d.any(), k
    # through the module: the state passes through unchanged, clock included, and its gradient is 1
    model = CWRNN(c).to(dtype)
    h0 = leaves[1].clone().requires_grad_(True)
    y, state = model(leaves[0], CWRNNState(h0, 3))
    assert y.shape == (5, 0, 1) and torch.equal(state.h, h0) and state.t.tolist() == [3] * 5
    state.h.sum().backward()
    assert torch.equal(h0.grad, torch.ones_like(h0))


def test_gradcheck_through_the_function():
    """gradcheck differentiates each output twice (a reentrancy check), so it needs the graph kept:
    see :func:`test_backward_twice_through_a_retained_graph`."""
    c, mask, leaves, _ = problem(torch.float64, 3, 9, 2, [2, 3, 2], [1, 2, 5], seed=1)
    args = [t.clone().requires_grad_(True) for t in leaves]

    def f(x, h, W, W_I, b):
        return CWRNNRecurrence.apply(x, h, W * mask, W_I, b, 3, c.periods, c.offsets)

    assert torch.autograd.gradcheck(f, args)


def test_directional_derivatives_match_central_differences():
    """The check gradcheck makes, one backward per forward: <dL/dleaf, u> against
    (L(leaf + eps u) - L(leaf - eps u)) / 2 eps for random directions u, L = <H, dH>."""
    c, mask, leaves, dH = problem(torch.float64, 3, 9, 2, [2, 3, 2], [1, 2, 5], seed=2)
    _, grads = run(numba_forward, c, mask, leaves, dH, 3)
    g = torch.Generator().manual_seed(2)

    def loss(args):
        x, h, W, W_I, b = args
        with torch.no_grad():
            return (CWRNNRecurrence.apply(x, h, W * mask, W_I, b, 3, c.periods, c.offsets) * dH).sum()

    eps = 1e-6
    for k, name in enumerate(NAMES):
        for _ in range(3):
            u = torch.randn(leaves[k].shape, generator=g, dtype=torch.float64)
            plus, minus = list(leaves), list(leaves)
            plus[k], minus[k] = leaves[k] + eps * u, leaves[k] - eps * u
            numeric = ((loss(plus) - loss(minus)) / (2 * eps)).item()
            analytic = (grads[k] * u).sum().item()
            assert abs(numeric - analytic) <= 1e-7 * max(1.0, abs(analytic)), (name, numeric, analytic)


def test_backward_twice_through_a_retained_graph():
    """Truncated-BPTT style: each window's loss is backpropagated with retain_graph=True through the
    whole (not detached) history, so the first window's Function runs its backward twice. The step
    loop allows it; ``CWRNNRecurrence.backward`` sets ``ctx.saved = None`` after its first use."""
    kw = dict(input_size=2, output_size=3, module_sizes=[3, 5, 4], periods=[1, 3, 5])
    x = torch.randn(4, 20, 2, generator=torch.Generator().manual_seed(20), dtype=torch.float64)

    def grads():
        model = model_pair(torch.float64, 20, **kw)
        y1, state = model(x[:, :8])
        y1.pow(2).sum().backward(retain_graph=True)
        y2, _ = model(x[:, 8:], state)
        y2.pow(2).sum().backward()  # through the first window again
        return [p.grad for p in model.parameters()]

    kernels = grads()
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv(ENV_SWITCH, "0")
        loop = grads()
    assert max(rel(a, b) for a, b in zip(kernels, loop)) < 1e-10


def model_pair(dtype, seed=0, **kw):
    torch.manual_seed(seed)
    return CWRNN(**kw).to(dtype)


def identity_readout(model):
    """Output = hidden state, exactly: each output is one state times 1 plus zeros, in any order."""
    with torch.no_grad():
        model.W_O.copy_(torch.eye(model.hidden_size, dtype=model.W_O.dtype))
        model.b_O.zero_()
    return model


CUTS = [0, 1, 7, 8, 30, 50]


def windowed(model, x, state):
    ys = []
    for a, b in zip(CUTS, CUTS[1:]):
        y, state = model(x[:, a:b], state)
        ys.append(y)
    return torch.cat(ys, 1), state


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32], ids=["f64", "f32"])
def test_windows_with_the_state_carried_equal_one_pass(dtype):
    """States are bitwise equal: the kernels recompute a module's cached sum over the slower modules
    at a window's start from the same numbers in the same order as in one pass. Outputs through a
    general read-out agree to 1e-6 (float32) / 1e-12 (float64), not bitwise: torch's read-out GEMM
    over (B * window, n) rounds differently for different window lengths (seen: 3e-8 in float32)."""
    kw = dict(input_size=2, module_sizes=[3, 5, 4, 7], periods=[1, 3, 5, 7])
    x = torch.randn(13, CUTS[-1], 2, generator=torch.Generator().manual_seed(3), dtype=dtype)
    h0 = torch.rand(13, 19, generator=torch.Generator().manual_seed(4), dtype=dtype) - 0.5
    start = CWRNNState(h0, 2)
    with torch.no_grad():
        states = identity_readout(model_pair(dtype, output_size=19, **kw))
        H, s = states(x, start)
        H_w, s_w = windowed(states, x, start)
        assert torch.equal(H_w, H) and torch.equal(s_w.h, s.h)
        assert s_w.t.tolist() == s.t.tolist() == [2 + CUTS[-1]] * 13

        model = model_pair(dtype, output_size=3, **kw)
        y, s = model(x, start)
        y_w, s_w = windowed(model, x, start)
    assert rel(y_w, y) < (1e-6 if dtype == torch.float32 else 1e-12)
    assert torch.equal(s_w.h, s.h)


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32], ids=["f64", "f32"])
def test_gradients_through_chained_windows_equal_one_pass(dtype):
    model = model_pair(dtype, 5, input_size=2, output_size=3, module_sizes=[3, 5, 4, 7], periods=[1, 3, 5, 7])
    g = torch.Generator().manual_seed(5)
    x0 = torch.randn(6, CUTS[-1], 2, generator=g, dtype=dtype)
    h00 = torch.rand(6, 19, generator=g, dtype=dtype) - 0.5
    G = torch.randn(6, CUTS[-1], 3, generator=g, dtype=dtype)

    def grads(one_pass):
        model.zero_grad()
        x, h0 = x0.clone().requires_grad_(True), h00.clone().requires_grad_(True)
        start = CWRNNState(h0, 1)
        y, s = model(x, start) if one_pass else windowed(model, x, start)  # state not detached
        ((y * G).sum() + s.h.pow(2).sum()).backward()
        return [x.grad, h0.grad] + [p.grad for p in model.parameters()]

    one, chained = grads(True), grads(False)
    errors = [rel(a, b) for a, b in zip(chained, one)]
    assert max(errors) < TOL[dtype], errors


def test_voices_in_different_clock_groups_equal_each_voice_alone():
    model = model_pair(
        torch.float64, 6, input_size=3, output_size=2, module_sizes=[3, 5, 4, 7], periods=[1, 3, 5, 7]
    )
    g = torch.Generator().manual_seed(6)
    x = torch.randn(4, 21, 3, generator=g, dtype=torch.float64)
    h0 = torch.rand(4, 19, generator=g, dtype=torch.float64) - 0.5
    t0 = torch.tensor([0, 3, 3, 10])

    model.zero_grad()
    xg = x.clone().requires_grad_(True)
    y, s = model(xg, CWRNNState(h0, t0))
    y.pow(2).sum().backward()
    together = [p.grad.clone() for p in model.parameters()]
    assert s.t.tolist() == [21, 24, 24, 31]

    alone = [torch.zeros_like(p) for p in model.parameters()]
    for b in range(4):
        model.zero_grad()
        xb = x[b : b + 1].clone().requires_grad_(True)
        yb, sb = model(xb, CWRNNState(h0[b : b + 1], int(t0[b])))
        yb.pow(2).sum().backward()
        assert rel(y[b : b + 1].detach(), yb.detach()) < 1e-12
        assert torch.equal(s.h[b : b + 1], sb.h)  # lanes never interact
        assert rel(xg.grad[b : b + 1], xb.grad) < 1e-10
        alone = [a + p.grad for a, p in zip(alone, model.parameters())]
    assert max(rel(a, b) for a, b in zip(together, alone)) < 1e-10


def test_structural_zeros_get_exactly_zero_gradient():
    sizes = [3, 5, 4, 7]
    model = model_pair(torch.float32, 7, input_size=1, module_sizes=sizes, periods=[1, 3, 5, 7])
    model(torch.randn(5, 30, 1))[0].pow(2).sum().backward()
    lower = ~torch.from_numpy(block_upper_mask(sizes))
    assert (model.W_H.grad[lower] == 0).all() and (model.W_H.grad[~lower] != 0).all()

    # the Function's own dW_H, W requiring grad directly (no mask product after it); W is dense
    # random, so the Function must read, and differentiate, only the block pattern
    for dtype in (torch.float32, torch.float64):
        c, mask, (x, h, W, W_I, b), dH = problem(dtype, 5, 30, 1, sizes, [1, 3, 5, 7])
        W = W.requires_grad_(True)
        H = CWRNNRecurrence.apply(x, h, W, W_I, b, 0, c.periods, c.offsets)
        (dW,) = torch.autograd.grad(H, W, dH)
        assert (dW[lower] == 0).all() and (dW[~lower] != 0).all()
        H_masked = CWRNNRecurrence.apply(x, h, W.detach() * mask, W_I, b, 0, c.periods, c.offsets)
        assert torch.equal(H.detach(), H_masked)


def bits_of_one_run(model, x):
    model.zero_grad()
    y, s = model(x)
    (y.pow(2).sum() + s.h.sum()).backward()
    return [y.detach(), s.h.detach()] + [p.grad.clone() for p in model.parameters()]


def test_repeatable_bitwise_and_the_same_bits_on_any_thread_count():
    """Lanes never interact and each weight gradient is summed over all lanes by one thread, so
    the thread count changes which thread computes a number, never how."""
    model = model_pair(
        torch.float32, 8, input_size=2, output_size=3, module_sizes=[3, 5, 4, 7], periods=[1, 3, 5, 7]
    )
    x = torch.randn(33, 40, 2, generator=torch.Generator().manual_seed(8))  # 5 vectors: 2 blocks on 2 threads
    before = torch.get_num_threads()
    runs = {}
    try:
        for threads in (1, 2):
            torch.set_num_threads(threads)
            first, second = bits_of_one_run(model, x), bits_of_one_run(model, x)
            assert all(torch.equal(a, b) for a, b in zip(first, second)), threads
            runs[threads] = first
    finally:
        torch.set_num_threads(before)
    assert all(torch.equal(a, b) for a, b in zip(runs[2], runs[1]))


def test_non_contiguous_arguments_give_the_numbers_of_their_contiguous_copies():
    B, T, I = 13, 17, 3
    c, mask, (x, h, W, W_I, b), dH = problem(torch.float64, B, T, I, [3, 5, 4, 7], [1, 3, 5, 7])
    g = torch.Generator().manual_seed(9)
    # a transposed view, a strided slice, and transposed weights and upstream gradient
    views = {
        "x_transposed": x.transpose(0, 1).contiguous().transpose(0, 1),
        "x_strided": torch.randn(B, 2 * T, I + 2, generator=g, dtype=torch.float64)[:, ::2, 1:-1],
        "h0": h.t().contiguous().t(),
        "W_H": (W * mask).t().contiguous().t(),
        "W_I": W_I.t().contiguous().t(),
        "dH": dH.permute(2, 0, 1).contiguous().permute(1, 2, 0),
    }
    assert not any(v.is_contiguous() for v in views.values())
    for x_view in (views["x_transposed"], views["x_strided"]):
        strided = [x_view, views["h0"], views["W_H"], views["W_I"], b]
        strided = [t.detach().requires_grad_(True) for t in strided]
        H = CWRNNRecurrence.apply(*strided, 4, c.periods, c.offsets)
        grads = torch.autograd.grad(H, strided, views["dH"])
        dense = [t.detach().contiguous().requires_grad_(True) for t in strided]
        H_c = CWRNNRecurrence.apply(*dense, 4, c.periods, c.offsets)
        grads_c = torch.autograd.grad(H_c, dense, dH)
        assert torch.equal(H, H_c)
        assert all(torch.equal(a, b) for a, b in zip(grads, grads_c))


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16], ids=["f16", "bf16"])
def test_half_precision_parameters_run_the_step_loop(dtype, calls, monkeypatch):
    model = model_pair(dtype, 10, input_size=2, output_size=3, module_sizes=[3, 5, 4], periods=[1, 3, 5])
    x = torch.randn(5, 20, 2, generator=torch.Generator().manual_seed(10))  # float32 in, cast by forward
    kernels = bits_of_one_run(model, x)
    assert kernels[0].dtype == dtype
    assert calls["forward_block"] == calls["backward_block"] == 0
    monkeypatch.setenv(ENV_SWITCH, "0")
    loop = bits_of_one_run(model, x)
    assert all(torch.equal(a, b) for a, b in zip(kernels, loop))


@pytest.mark.parametrize("bad", [float("nan"), float("inf")])
def test_non_finite_input_is_refused_naming_the_input(bad, calls):
    model = CWRNN(input_size=2, module_sizes=[2, 3])
    x = torch.randn(3, 10, 2)
    x[1, 4, 0] = bad
    with pytest.raises(ParameterError, match="input"):
        model(x)
    assert sum(calls.values()) == 0


def stacked_population(model, P, seed):
    g = torch.Generator().manual_seed(seed)
    params = {}
    for k, p in model.named_parameters():
        params[k] = p.detach() + 0.1 * torch.randn((P, *p.shape), generator=g, dtype=p.dtype)
    params["W_H"] = params["W_H"] * model.W_H_mask
    return params


def test_population_under_vmap_runs_the_step_loop_with_its_numbers(calls, monkeypatch):
    model = model_pair(
        torch.float64, 11, input_size=2, output_size=2, module_sizes=[3, 5, 4], periods=[1, 3, 5]
    )
    x = torch.randn(4, 15, 2, generator=torch.Generator().manual_seed(11), dtype=torch.float64)
    params = stacked_population(model, 3, 12)
    y = torch.func.vmap(lambda p: torch.func.functional_call(model, p, (x,))[0])(params)
    assert sum(calls.values()) == 0
    monkeypatch.setenv(ENV_SWITCH, "0")
    for i in range(3):
        ref = torch.func.functional_call(model, {k: v[i] for k, v in params.items()}, (x,))[0]
        assert rel(y[i], ref) < 1e-12


def test_func_grad_runs_the_step_loop_with_its_numbers(calls, monkeypatch):
    model = model_pair(
        torch.float64, 13, input_size=2, output_size=2, module_sizes=[3, 5, 4], periods=[1, 3, 5]
    )
    x = torch.randn(4, 15, 2, generator=torch.Generator().manual_seed(13), dtype=torch.float64)
    params = {k: p.detach() for k, p in model.named_parameters()}

    def loss(p):
        return torch.func.functional_call(model, p, (x,))[0].pow(2).sum()

    grads = torch.func.grad(loss)(params)
    assert sum(calls.values()) == 0
    monkeypatch.setenv(ENV_SWITCH, "0")
    model.zero_grad()
    loss(dict(model.named_parameters())).backward()
    for k, p in model.named_parameters():
        assert rel(grads[k], p.grad) < 1e-10, k


def test_vmap_over_the_readout_alone_runs_and_equals_the_loop(monkeypatch):
    """Under vmap over parameters the recurrence does not read (here ``W_O``), x, h and W_H reach
    ``refusal`` unwrapped, so the Function is applied inside a functorch transform."""
    model = model_pair(
        torch.float64, 14, input_size=2, output_size=2, module_sizes=[3, 5, 4], periods=[1, 3, 5]
    )
    x = torch.randn(4, 15, 2, generator=torch.Generator().manual_seed(14), dtype=torch.float64)
    params = {k: p.detach() for k, p in model.named_parameters()}
    W_Os = stacked_population(model, 3, 15)["W_O"]

    def readout(W_O):
        return torch.func.functional_call(model, {**params, "W_O": W_O}, (x,))[0]

    with torch.no_grad():
        y = torch.func.vmap(readout)(W_Os)
        monkeypatch.setenv(ENV_SWITCH, "0")
        ref = torch.stack([readout(W_O) for W_O in W_Os])
    assert rel(y, ref) < 1e-12


def test_forward_mode_ad_runs_and_equals_the_loop(monkeypatch):
    """``torch.autograd.forward_ad`` dual tensors are not functorch-wrapped, so ``refusal`` lets the
    Function (no ``jvp``) take them; the step loop supports forward mode."""
    import torch.autograd.forward_ad as fwAD

    model = model_pair(
        torch.float64, 16, input_size=2, output_size=2, module_sizes=[3, 5, 4], periods=[1, 3, 5]
    )
    g = torch.Generator().manual_seed(16)
    x = torch.randn(4, 15, 2, generator=g, dtype=torch.float64)
    tangent = torch.randn(4, 15, 2, generator=g, dtype=torch.float64)

    def jvp():
        with torch.no_grad(), fwAD.dual_level():
            y, _ = model(fwAD.make_dual(x, tangent))
            return fwAD.unpack_dual(y).tangent

    monkeypatch.setenv(ENV_SWITCH, "0")
    ref = jvp()
    monkeypatch.delenv(ENV_SWITCH)
    assert rel(jvp(), ref) < 1e-10


def test_double_backward_is_refused_clearly():
    model = model_pair(torch.float64, 17, input_size=2, module_sizes=[3, 5], periods=[1, 3])
    x = torch.randn(2, 9, 2, dtype=torch.float64, requires_grad=True)
    (gx,) = torch.autograd.grad(model(x)[0].pow(2).sum(), x, create_graph=True)
    with pytest.raises(RuntimeError, match="differentiate twice"):
        gx.sum().backward()


def test_weights_changed_in_place_before_backward_are_refused_or_ignored():
    """Autograd's contract: backward either raises (the step loop: "modified by an inplace
    operation") or uses the weights the forward saw. ``CWRNNRecurrence.forward`` keeps a NumPy view
    of ``W_I`` (``W_I.detach().contiguous()`` is the parameter itself) for the backward's ``dx``."""
    model = model_pair(torch.float64, 18, input_size=2, module_sizes=[3, 5, 4], periods=[1, 3, 5])
    x = torch.randn(4, 10, 2, dtype=torch.float64, requires_grad=True)
    model(x)[0].sum().backward()
    expected = x.grad.clone()
    x.grad = None
    y, _ = model(x)
    with torch.no_grad():
        model.W_I.mul_(2.0)  # e.g. an optimiser step between forward and backward
    try:
        y.sum().backward()
    except RuntimeError as error:
        assert "inplace" in str(error)
        return
    assert rel(x.grad, expected) < 1e-12, "backward silently used the modified W_I"


def test_the_switch_turns_the_kernels_off_at_call_time(calls, monkeypatch):
    model = model_pair(torch.float32, 19, input_size=1, module_sizes=[3, 5], periods=[1, 3])
    x = torch.randn(3, 12, 1)
    monkeypatch.setenv(ENV_SWITCH, "0")
    model(x)[0].sum().backward()
    assert sum(calls.values()) == 0
    monkeypatch.setenv(ENV_SWITCH, "1")  # anything but "0" wants them
    model(x)[0].sum().backward()
    assert calls == {"numba_readout": 1, "forward_block": 1, "backward_block": 1}
    monkeypatch.delenv(ENV_SWITCH)  # and so does no setting at all
    model(x[:, :5])[0].sum().backward()
    assert calls == {"numba_readout": 2, "forward_block": 2, "backward_block": 2}


def _forked_child(model, x, queue):
    torch.set_num_threads(2)
    with torch.no_grad():
        queue.put(model(x)[0].numpy())


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_a_forked_child_runs_the_kernels_on_two_threads():
    """A child forked after the parent used the thread pool has the pool object but not its
    threads; the kernels must not wait on them (DataLoader workers fork)."""
    import multiprocessing as mp

    threads = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        torch.manual_seed(0)
        model = CWRNN(input_size=1, module_sizes=[8, 8, 8], periods=[1, 2, 4])
        x = torch.randn(64, 30, 1)  # 64 lanes: two blocks, one of them on the pool
        with torch.no_grad():
            expect = model(x)[0].numpy()
        ctx = mp.get_context("fork")
        queue = ctx.Queue()
        child = ctx.Process(target=_forked_child, args=(model, x, queue))
        child.start()
        try:
            got = queue.get(timeout=60)
        finally:
            child.join(timeout=5)
            if child.is_alive():
                child.kill()
        np.testing.assert_array_equal(got, expect)
    finally:
        torch.set_num_threads(threads)


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32], ids=["f64", "f32"])
@pytest.mark.parametrize(
    "B, T, I, O, sizes, periods, t0",
    [(5, 37, 2, 3, [3, 5, 4, 7], [1, 3, 5, 7], 4), (33, 40, 0, 1, [4, 4, 4, 4], [1, 2, 4, 8], 3)],
    ids=["odd_periods", "batch_33_no_input"],
)
def test_the_readout_in_the_kernels_matches_the_step_loop_and_a_linear(dtype, B, T, I, O, sizes, periods, t0):
    """``numba_readout``: ``y = W_O h_t + b_O`` and ``h_T``, and the gradients of every input and
    weight (read-out included, and the final state's own gradient), against the step loop."""
    from cwrnn_audio.nn.numba_function import numba_readout

    c, mask, leaves, _ = problem(dtype, B, T, I, sizes, periods)
    g = torch.Generator().manual_seed(3)
    extra = [
        torch.randn(O, c.hidden_size, generator=g, dtype=torch.float64).to(dtype),
        torch.randn(O, generator=g, dtype=torch.float64).to(dtype),
    ]
    dy = torch.randn(B, T, O, generator=g, dtype=torch.float64).to(dtype)
    dh_T = torch.randn(B, c.hidden_size, generator=g, dtype=torch.float64).to(dtype)
    results = []
    for fused in (False, True):
        ls = [t.detach().clone().requires_grad_(True) for t in leaves + extra]
        x, h, W, W_I, b, W_O, b_O = ls
        if fused:
            y, h_T = numba_readout(x, h, t0, W * mask, W_I, b, W_O, b_O, c.periods, c.offsets)
        else:
            H = _step_loop(x, h, t0, W * mask, W_I, b, c.periods, c.offsets)
            y, h_T = H @ W_O.t() + b_O, H[:, -1]
        grads = torch.autograd.grad((y * dy).sum() + (h_T * dh_T).sum(), ls, allow_unused=True)
        results.append(
            [y.detach(), h_T.detach()] + [torch.zeros_like(t) if d is None else d for t, d in zip(ls, grads)]
        )
    names = ["y", "h_T", *NAMES, "W_O", "b_O"]
    errors = {k: rel(a, b) for k, a, b in zip(names, results[1], results[0])}
    assert max(errors.values()) < TOL[dtype], errors
    assert all(results[0][k].abs().max() > 0 for k in (3, 4, 7, 8))  # the reference reaches h0, W_H, W_O, b_O


def test_the_module_reads_out_in_the_kernels_only_where_that_serves(calls):
    """Up to READOUT_MAX outputs and one clock: the kernels' read-out; wider read-outs or voices
    on several clocks: the states come out and torch reads them out. Same numbers either way."""
    torch.manual_seed(0)
    narrow = CWRNN(input_size=1, output_size=numba_function.READOUT_MAX, module_sizes=[4, 4], periods=[1, 2])
    wide = CWRNN(
        input_size=1, output_size=numba_function.READOUT_MAX + 1, module_sizes=[4, 4], periods=[1, 2]
    )
    x = torch.randn(3, 10, 1)
    narrow(x)
    assert calls["numba_readout"] == 1 and calls["numba_forward"] == 0
    wide(x)
    assert calls["numba_readout"] == 1 and calls["numba_forward"] == 1
    y_groups, _ = narrow(x, CWRNNState(torch.zeros(3, 8), torch.tensor([0, 1, 1])))
    assert calls["numba_readout"] == 1 and calls["numba_forward"] == 3  # one call per clock group
    for i, t in enumerate([0, 1, 1]):
        y_one, _ = narrow(x[i : i + 1], CWRNNState(torch.zeros(1, 8), t))
        torch.testing.assert_close(y_groups[i : i + 1], y_one, rtol=1e-6, atol=1e-6)


def test_nan_in_the_weights_comes_out_as_nan_as_in_the_step_loop(monkeypatch):
    """A diverged model must not look finite: the vector tanh's clamp lets NaN through."""
    model = CWRNN(input_size=1, module_sizes=[4, 4], periods=[1, 2])
    with torch.no_grad():
        model.W_H[0, 0] = float("nan")
    x = torch.randn(3, 6, 1)
    y_kernels = model(x)[0]
    monkeypatch.setenv(ENV_SWITCH, "0")
    y_loop = model(x)[0]
    assert torch.isnan(y_loop).all() and torch.isnan(y_kernels).all()


def test_an_empty_batch_runs_as_in_the_step_loop():
    model = CWRNN(input_size=1, output_size=1, module_sizes=[4, 4], periods=[1, 2])
    y, state = model(torch.randn(0, 5, 1))
    assert y.shape == (0, 5, 1) and state.h.shape == (0, 8)


def test_changing_the_returned_state_in_place_leaves_the_gradients_alone():
    """The read-out Function's final state is the caller's own copy, not a view of what the
    backward reads."""
    torch.manual_seed(1)
    model = CWRNN(input_size=1, output_size=2, module_sizes=[3, 5], periods=[1, 3])
    x = torch.randn(4, 9, 1)
    grads = []
    for poke in (False, True):
        model.zero_grad()
        y, state = model(x)
        if poke:
            state.h.detach().zero_()
        y.pow(2).sum().backward()
        grads.append([p.grad.clone() for p in model.parameters()])
    assert all(torch.equal(a, b) for a, b in zip(*grads))
