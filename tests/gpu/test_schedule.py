"""The module schedule (gpu/schedule.py) against autograd through the step loop, in float64 on the CPU.

The schedule is plain torch, so every line the GPU runs runs here; the step loop is the
independent reference (it computes each step's active rows directly from the equations).
"""

import types
import warnings

import pytest
import torch

from cwrnn_audio import CWRNN, CWRNNState, ParameterError
from cwrnn_audio.core.clock import block_upper_mask
from cwrnn_audio.gpu import MEASURED_FASTEST, PATH_SWITCH, gpu_path
from cwrnn_audio.gpu import schedule as schedule_mod
from cwrnn_audio.gpu.chain import CHAIN_SWITCH, torch_chain
from cwrnn_audio.gpu.schedule import schedule_forward
from cwrnn_audio.nn.functional import _step_loop

# (module sizes, periods, input size): 1, 2, 3 and 8 modules; sizes 1, 2 and 16; unequal sizes;
# periods not powers of two
CASES = {
    "one": ([3], [1], 2),
    "two": ([2, 2], [1, 2], 1),
    "three_unequal": ([1, 16, 2], [1, 3, 5], 2),
    "eight": ([2] * 8, [2**i for i in range(8)], 1),
    "no_input": ([16, 1], [2, 7], 0),
    "slow_first_tick": ([2, 3], [3, 4], 1),
}


def network(sizes, periods, inputs, *, seed=0, dtype=torch.float64):
    g = torch.Generator().manual_seed(seed)
    n = sum(sizes)
    mask = torch.as_tensor(block_upper_mask(sizes))
    offsets = [0]
    for k in sizes:
        offsets.append(offsets[-1] + k)
    W = (torch.randn(n, n, generator=g, dtype=dtype) * 0.6) * mask
    return dict(
        W=W.requires_grad_(),
        W_I=torch.randn(n, inputs, generator=g, dtype=dtype).requires_grad_(),
        b_H=(torch.randn(n, generator=g, dtype=dtype) * 0.3).requires_grad_(),
        periods=periods,
        offsets=offsets,
        mask=mask,
    )


def run(fn, net, x, h, t0, **kw):
    return fn(x, h, t0, net["W"], net["W_I"], net["b_H"], net["periods"], net["offsets"], **kw)


def rel(a, b):
    return ((a - b).abs().max() / b.abs().max().clamp_min(1e-300)).item()


@pytest.mark.parametrize("chain", ["torch", "cudnn"])
@pytest.mark.parametrize("t0", [0, 5, 37])
@pytest.mark.parametrize("case", sorted(CASES))
def test_forward_and_every_gradient_equal_the_step_loop(case, t0, chain):
    sizes, periods, inputs = CASES[case]
    net = network(sizes, periods, inputs)
    g = torch.Generator().manual_seed(1)
    L = 23  # a multiple of no period above 1
    x = torch.randn(3, L, inputs, generator=g, dtype=torch.float64).requires_grad_()
    h = torch.randn(3, sum(sizes), generator=g, dtype=torch.float64).requires_grad_()
    weights = torch.randn(3, L, sum(sizes), generator=g, dtype=torch.float64)  # a loss reaching every state
    leaves = [x, h, net["W"], net["W_I"], net["b_H"]]

    ref = run(_step_loop, net, x, h, t0)
    got = run(schedule_forward, net, x, h, t0, chain=chain)
    assert rel(got, ref) < 1e-10
    want = torch.autograd.grad((ref * weights).sum(), leaves, allow_unused=True)
    have = list(torch.autograd.grad((got * weights).sum(), leaves, allow_unused=True))
    want = list(want)
    below = have[2][~net["mask"]]
    # the step loop reads whole runs of rows, structural zeros included (its callers mask W), so
    # W_H's gradients compare on the blocks
    have[2], want[2] = have[2][net["mask"]], want[2][net["mask"]]
    for name, a, b in zip(("x", "h0", "W_H", "W_I", "b_H"), have, want):
        if b is None or not b.abs().max() > 0:  # no input: x and W_I have no entries
            assert a is None or a.numel() == 0 or a.abs().max() == 0, name
            continue
        assert rel(a, b) < 1e-10, (name, rel(a, b))
    # structural zeros: W below the blocks gets no gradient from the schedule
    assert not below.any()


def test_gradcheck_on_a_tiny_network():
    net = network([1, 2], [1, 3], 1, seed=3)
    x = torch.randn(2, 7, 1, dtype=torch.float64, requires_grad=True)
    h = torch.randn(2, 3, dtype=torch.float64, requires_grad=True)
    mask = net["mask"].to(torch.float64)

    def f(x, h, W, W_I, b_H):
        return schedule_forward(x, h, 2, W * mask, W_I, b_H, net["periods"], net["offsets"], chain="cudnn")

    assert torch.autograd.gradcheck(f, (x, h, net["W"], net["W_I"], net["b_H"]))


@pytest.fixture
def schedule_path(monkeypatch):
    """CWRNN.forward through the schedule on CPU tensors, counting its calls."""
    calls = []
    real = schedule_mod.schedule_forward

    def counted(*a, **k):
        calls.append(a[0].shape)
        return real(*a, **k)

    import cwrnn_audio.nn.functional as functional

    monkeypatch.setattr(functional, "schedule_forward", counted)
    monkeypatch.setenv(PATH_SWITCH, "schedule")
    return calls


def test_windows_carried_through_the_model_equal_one_window(schedule_path, monkeypatch):
    torch.manual_seed(0)
    model = CWRNN(input_size=2, output_size=2, module_sizes=[4, 3, 2], periods=[1, 3, 4]).double()
    x = torch.randn(4, 30, 2, dtype=torch.float64)
    start = CWRNNState(torch.randn(4, 9, dtype=torch.float64) * 0.5, torch.tensor([5, 5, 6, 6]))
    y_sched, s_sched = model(x, start)
    state, pieces = start, []
    for a, b in [(0, 7), (7, 18), (18, 30)]:  # windows that cut the slow modules' periods
        y, state = model(x[:, a:b], state)
        pieces.append(y)
    assert len(schedule_path) >= 4  # two clock groups, each in every call
    monkeypatch.delenv(PATH_SWITCH)
    monkeypatch.setenv("CWRNN_AUDIO_CPU_KERNELS", "0")
    y_loop, s_loop = model(x, start)
    assert rel(y_sched, y_loop) < 1e-10 and rel(torch.cat(pieces, 1), y_loop) < 1e-10
    assert (
        rel(state.h, s_loop.h) < 1e-10 and torch.equal(state.t, s_loop.t) and torch.equal(s_sched.t, s_loop.t)
    )


def test_model_gradients_through_the_schedule_leave_structural_zeros(schedule_path):
    torch.manual_seed(1)
    model = CWRNN(input_size=1, output_size=1, module_sizes=[3, 3, 3], periods=[1, 2, 4]).double()
    y, _ = model(torch.randn(2, 16, 1, dtype=torch.float64))
    y.square().sum().backward()
    assert schedule_path
    assert model.W_H.grad[~model.W_H_mask.bool()].abs().max().item() == 0.0
    assert model.W_H.grad[model.W_H_mask.bool()].abs().max().item() > 0.0


def test_a_window_of_no_steps_returns_no_states():
    net = network([2, 2], [1, 2], 1)
    out = run(
        schedule_forward,
        net,
        torch.zeros(3, 0, 1, dtype=torch.float64),
        torch.zeros(3, 4, dtype=torch.float64),
        4,
    )
    assert out.shape == (3, 0, 4)


def test_the_triton_chain_where_it_cannot_run_falls_back_to_cudnn_with_a_warning():
    net = network([2, 3], [1, 2], 1)
    x = torch.randn(2, 9, 1, dtype=torch.float64)
    h = torch.zeros(2, 5, dtype=torch.float64)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        got = run(schedule_forward, net, x, h, 0, chain="triton")
    said = [str(w.message) for w in caught]
    assert len(said) == 1 and "Triton chain kernel not used" in said[0] and "cuDNN" in said[0], said
    assert rel(got, run(_step_loop, net, x, h, 0)) < 1e-10


def test_out_of_memory_names_the_batch_and_window(monkeypatch):
    def no_memory(*a):
        raise torch.OutOfMemoryError("CUDA out of memory")

    monkeypatch.setattr(schedule_mod, "chain_for", lambda *a: no_memory)
    net = network([2, 2], [1, 2], 1)
    with pytest.raises(ParameterError, match=r"batch of 3 .*window of 11 steps.*--batch.*--window"):
        run(
            schedule_forward,
            net,
            torch.zeros(3, 11, 1, dtype=torch.float64),
            torch.zeros(3, 4, dtype=torch.float64),
            0,
        )


def test_bad_switch_values_are_refused_naming_the_variable(monkeypatch):
    monkeypatch.setenv(PATH_SWITCH, "fast")
    with pytest.raises(ParameterError, match=f"{PATH_SWITCH}.*'fast'"):
        gpu_path(torch.zeros(1))
    monkeypatch.delenv(PATH_SWITCH)
    monkeypatch.setenv(CHAIN_SWITCH, "cuda")
    net = network([2], [1], 1)
    with pytest.raises(ParameterError, match=f"{CHAIN_SWITCH}.*'cuda'"):
        run(
            schedule_forward,
            net,
            torch.zeros(1, 3, 1, dtype=torch.float64),
            torch.zeros(1, 2, dtype=torch.float64),
            0,
        )


def test_the_cuda_path_follows_the_measured_table(monkeypatch):
    monkeypatch.delenv(PATH_SWITCH, raising=False)
    monkeypatch.delenv("CWRNN_AUDIO_FUSED", raising=False)
    cuda, cpu = types.SimpleNamespace(is_cuda=True), torch.zeros(1)
    assert gpu_path(cpu, [32] * 8, 64) is None  # the CPU's own kernels
    for (m, k, b), fastest in MEASURED_FASTEST.items():
        assert gpu_path(cuda, [k] * m, b) == fastest
    assert gpu_path(cuda, [5, 7], 3) == "schedule"  # unmeasured
    monkeypatch.setenv("CWRNN_AUDIO_FUSED", "1")
    assert gpu_path(cuda, [16] * 8, 64) == "fused"


def test_torch_chain_is_the_recurrence():
    g = torch.Generator().manual_seed(0)
    U, W, h0 = (
        torch.randn(2, 5, 3, generator=g),
        torch.randn(3, 3, generator=g),
        torch.randn(2, 3, generator=g),
    )
    h, want = h0, []
    for s in range(5):
        h = torch.tanh(U[:, s] + h @ W.T)
        want.append(h)
    torch.testing.assert_close(torch_chain(U, W, h0), torch.stack(want, 1))


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
@pytest.mark.parametrize("chain", ["cudnn", "triton"])
def test_the_schedule_on_cuda_equals_the_step_loop(chain):
    # float64 through cuDNN's chain; the Triton chain runs float32 (TF32 off) against the loop's float32
    dtype = torch.float64 if chain == "cudnn" else torch.float32
    torch.backends.cuda.matmul.allow_tf32 = False
    sizes, periods, inputs = CASES["three_unequal"]
    net = {
        k: (v.detach().to("cuda", dtype).requires_grad_() if torch.is_tensor(v) and k != "mask" else v)
        for k, v in network(sizes, periods, inputs).items()
    }
    x = torch.randn(33, 41, inputs, device="cuda", dtype=dtype)
    h = torch.randn(33, sum(sizes), device="cuda", dtype=dtype)
    ref = run(_step_loop, net, x, h, 3)
    got = run(schedule_forward, net, x, h, 3, chain=chain)
    tol = 1e-10 if dtype == torch.float64 else 1e-5
    assert rel(got, ref) < tol
    leaves = [net["W"], net["W_I"], net["b_H"]]
    gw = torch.autograd.grad(ref.square().sum(), leaves)
    gs = torch.autograd.grad(got.square().sum(), leaves)
    mask = net["mask"].to("cuda")
    assert rel(gs[0][mask], gw[0][mask]) < tol * 10
    assert rel(gs[1], gw[1]) < tol * 10 and rel(gs[2], gw[2]) < tol * 10
