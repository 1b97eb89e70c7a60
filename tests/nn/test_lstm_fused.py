"""``LSTMNet`` through torch's fused LSTM kernel against its step loop (``lstm._step_loop``).

The loop is the reference: it is the recurrence written out gate by gate, and
``tests/kernels/test_lstm_vs_torch.py`` holds it to ``torch.nn.LSTM``. Each comparison runs one
network twice, once with ``CWRNN_AUDIO_CPU_KERNELS=0`` (the loop) and once without (the kernel),
counts which path ran, and compares the outputs, the final state and the gradients of every
parameter, the input and the initial state. Weights are random (std 0.5), not the init, so that
every gate matters; the loss weighs every output and state entry differently.
"""

import pytest
import torch
from torch.func import functional_call, stack_module_state, vmap

from cwrnn_audio.nn import lstm as lstm_mod
from cwrnn_audio.nn.lstm import LSTMNet
from cwrnn_audio.nn.numba_function import ENV_SWITCH

B, T, H, O = 3, 17, 5, 2
NAMES = ("W_x", "W_h", "b", "W_O", "b_O")
RTOL = {torch.float64: 1e-10, torch.float32: 1e-5}


@pytest.fixture
def calls(monkeypatch):
    """Counts of the two paths' calls, and ``set_switch(value)`` for ``CWRNN_AUDIO_CPU_KERNELS``."""
    count = {"_fused": 0, "_step_loop": 0}
    for name in count:
        real = getattr(lstm_mod, name)

        def spy(*args, _real=real, _name=name):
            count[_name] += 1
            return _real(*args)

        monkeypatch.setattr(lstm_mod, name, spy)
    monkeypatch.delenv(ENV_SWITCH, raising=False)
    return count


def make_net(I, dtype, forget_bias=5.0, batch_first=True, seed=0):
    torch.manual_seed(seed)
    net = LSTMNet(
        input_size=I, hidden_size=H, output_size=O, forget_bias=forget_bias, batch_first=batch_first
    )
    net = net.to(dtype)
    with torch.no_grad():
        for name in NAMES:
            getattr(net, name).normal_(0.0, 0.5)
        net.b[H : 2 * H] = forget_bias
    return net


def make_inputs(I, dtype, batch_first=True, with_hx=True, steps=T, seed=1):
    g = torch.Generator().manual_seed(seed)
    shape = (B, steps, I) if batch_first else (steps, B, I)
    x = torch.randn(shape, generator=g, dtype=dtype)
    hx = (
        (0.5 * torch.randn(B, H, generator=g, dtype=dtype), torch.randn(B, H, generator=g, dtype=dtype))
        if with_hx
        else None
    )
    return x, hx


def run(net, x, hx, seed=2):
    """Outputs, final state and every gradient (None where a tensor got none) of one call."""
    net.zero_grad(set_to_none=True)
    x = x.clone().requires_grad_(True)
    hx = None if hx is None else tuple(t.clone().requires_grad_(True) for t in hx)
    y, (h, c) = net(x, hx)
    g = torch.Generator().manual_seed(seed)
    w = [torch.randn(t.shape, generator=g, dtype=t.dtype) for t in (y, h, c)]
    loss = (y * w[0]).sum() + (h * w[1]).sum() + (c * w[2]).sum()
    loss.backward()
    out = {"y": y.detach(), "h": h.detach(), "c": c.detach(), "d_input": x.grad}
    out.update({f"d_{n}": getattr(net, n).grad for n in NAMES})
    if hx is not None:
        out.update({"d_h0": hx[0].grad, "d_c0": hx[1].grad})
    return out


def both(net, x, hx, calls, monkeypatch):
    """(kernel's results, loop's results), checking that each ran the path it was meant to."""
    fused = run(net, x, hx)
    assert calls == {"_fused": 1, "_step_loop": 0}
    monkeypatch.setenv(ENV_SWITCH, "0")
    loop = run(net, x, hx)
    assert calls == {"_fused": 1, "_step_loop": 1}
    return fused, loop


def assert_close(got, ref, rtol):
    assert got.keys() == ref.keys()
    for key, r in ref.items():
        g = got[key]
        if r is None:  # e.g. W_x and the input without input features: the loop never uses them
            assert g is None, key
            continue
        assert g is not None and g.shape == r.shape and g.dtype == r.dtype, key
        if r.numel() == 0:
            continue
        scale = r.abs().max().item()
        assert scale > 0, key  # every compared quantity is live
        err = (g - r).abs().max().item() / scale
        assert err <= rtol, f"{key}: relative error {err:.3g} > {rtol:g}"


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32], ids=["f64", "f32"])
@pytest.mark.parametrize("I", [0, 1, 3])
@pytest.mark.parametrize("with_hx", [True, False], ids=["hx", "no_hx"])
@pytest.mark.parametrize("batch_first", [True, False], ids=["batch_first", "time_first"])
def test_fused_equals_the_step_loop(calls, monkeypatch, dtype, I, with_hx, batch_first):
    net = make_net(I, dtype, batch_first=batch_first)
    x, hx = make_inputs(I, dtype, batch_first, with_hx)
    fused, loop = both(net, x, hx, calls, monkeypatch)
    assert_close(fused, loop, RTOL[dtype])
    # the forget bias of 5 is in play, and the state moved away from where it started
    assert (loop["h"] - (0 if hx is None else hx[0])).abs().max() > 1e-2
    assert (loop["d_W_x"] is None) == (I == 0)


@pytest.mark.parametrize("forget_bias", [1.0, 5.0])
def test_output_activation_tanh_and_forget_bias(calls, monkeypatch, forget_bias):
    torch.manual_seed(3)
    net = LSTMNet(
        input_size=2, hidden_size=H, output_size=O, forget_bias=forget_bias, output_activation="tanh"
    )
    net = net.double()  # the init itself, forget bias included
    x, hx = make_inputs(2, torch.float64)
    fused, loop = both(net, x, hx, calls, monkeypatch)
    assert_close(fused, loop, RTOL[torch.float64])


def test_without_autograd_equals_the_loop(calls, monkeypatch):
    net = make_net(2, torch.float32)
    x, hx = make_inputs(2, torch.float32)
    with torch.no_grad():
        y, (h, c) = net(x, hx)
        monkeypatch.setenv(ENV_SWITCH, "0")
        y_ref, (h_ref, c_ref) = net(x, hx)
    assert calls == {"_fused": 1, "_step_loop": 1}
    for got, ref in ((y, y_ref), (h, h_ref), (c, c_ref)):
        torch.testing.assert_close(got, ref, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("with_hx", [True, False], ids=["hx", "no_hx"])
@pytest.mark.parametrize("batch_first", [True, False], ids=["batch_first", "time_first"])
def test_no_time_steps_run_the_loop(calls, with_hx, batch_first):
    # torch's kernel refuses an empty sequence: the loop returns the state it was given
    net = make_net(2, torch.float64, batch_first=batch_first)
    x, hx = make_inputs(2, torch.float64, batch_first, with_hx, steps=0)
    out = run(net, x, hx)
    assert calls == {"_fused": 0, "_step_loop": 1}
    assert out["y"].shape == ((B, 0, O) if batch_first else (0, B, O))
    h0, c0 = hx if with_hx else (torch.zeros(B, H, dtype=torch.float64),) * 2
    assert torch.equal(out["h"], h0) and torch.equal(out["c"], c0)
    if with_hx:  # the state passes straight through: d(loss)/d(h0) is the loss's weight on h
        g = torch.Generator().manual_seed(2)
        w = [torch.randn(t.shape, generator=g, dtype=torch.float64) for t in (out["y"], h0, c0)]
        assert torch.equal(out["d_h0"], w[1]) and torch.equal(out["d_c0"], w[2])


def test_an_empty_batch(calls, monkeypatch):
    net = make_net(2, torch.float64)
    x = torch.zeros(0, T, 2, dtype=torch.float64)
    y, (h, c) = net(x)
    assert calls["_fused"] == 1 and y.shape == (0, T, O) and h.shape == c.shape == (0, H)


def test_the_switch_forces_the_loop(calls, monkeypatch):
    net = make_net(1, torch.float32)
    x, _ = make_inputs(1, torch.float32)
    for value, path in (("0", "_step_loop"), ("1", "_fused"), ("", "_fused"), ("0", "_step_loop")):
        monkeypatch.setenv(ENV_SWITCH, value)  # read at every call
        before = dict(calls)
        net(x)
        assert calls[path] == before[path] + 1 and sum(calls.values()) == sum(before.values()) + 1


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16], ids=["bf16", "f16"])
def test_half_precisions_keep_the_loop(calls, dtype):
    net = make_net(2, dtype)
    y, _ = net(make_inputs(2, dtype)[0])
    assert calls == {"_fused": 0, "_step_loop": 1} and y.dtype == dtype


def test_mixed_dtypes_raise_as_before(calls):
    # the loop raises torch's own error; torch's kernel is never asked
    net = make_net(1, torch.float64)
    with pytest.raises(RuntimeError):
        net(torch.zeros(1, 4, 1))
    assert calls == {"_fused": 0, "_step_loop": 1}


def test_no_new_parameters_or_buffers(calls):
    net = make_net(2, torch.float32)
    net(make_inputs(2, torch.float32)[0]).__getitem__(0).sum().backward()
    assert calls["_fused"] == 1
    assert [n for n, _ in net.named_parameters()] == list(NAMES)
    assert list(net.state_dict()) == list(NAMES) and not list(net.buffers())


@pytest.mark.parametrize("I", [0, 2])
def test_vmap_over_stacked_networks_equals_each_network(calls, I):
    dtype = torch.float64
    nets = [make_net(I, dtype, seed=s) for s in range(3)]
    params, _ = stack_module_state(nets)
    g = torch.Generator().manual_seed(5)
    xs = torch.randn(3, B, T, I, generator=g, dtype=dtype)

    def one(p, x):
        return functional_call(nets[0], p, (x,))[0]

    ys = vmap(one)(params, xs)
    assert calls == {"_fused": 0, "_step_loop": 1}  # under vmap: the loop, once for all networks
    weights = torch.randn(ys.shape, generator=g, dtype=dtype)
    (ys * weights).sum().backward()
    for k, net in enumerate(nets):
        y, _ = net(xs[k])
        (y * weights[k]).sum().backward()
        torch.testing.assert_close(ys[k].detach(), y.detach(), rtol=1e-10, atol=1e-12)
        for name in NAMES:
            ref = getattr(net, name).grad
            if ref is None:
                assert I == 0 and name == "W_x"
                continue
            torch.testing.assert_close(params[name].grad[k], ref, rtol=1e-10, atol=1e-12)
    assert calls == {"_fused": 3, "_step_loop": 1}  # each network on its own: the kernel


def test_torch_func_grad_equals_autograd(calls):
    net = make_net(2, torch.float64)
    x, hx = make_inputs(2, torch.float64)
    params = {n: p.detach() for n, p in net.named_parameters()}

    def loss(p):
        y, (h, c) = functional_call(net, p, (x, hx))
        return y.pow(2).sum() + h.sum() + c.sum()

    grads = torch.func.grad(loss)(params)
    assert calls == {"_fused": 0, "_step_loop": 1}  # under torch.func.grad: the loop
    loss(dict(net.named_parameters())).backward()
    assert calls == {"_fused": 1, "_step_loop": 1}  # plain autograd: the kernel
    for name in NAMES:
        torch.testing.assert_close(grads[name], getattr(net, name).grad, rtol=1e-10, atol=1e-12)


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
@pytest.mark.parametrize("I", [0, 2])
def test_cuda_fused_equals_the_step_loop(calls, monkeypatch, I):
    # float64: cuDNN's float32 LSTM may round products to TF32 (torch.backends.cudnn.allow_tf32)
    net = make_net(I, torch.float64, batch_first=False).cuda()
    x, hx = make_inputs(I, torch.float64, batch_first=False)
    x, hx = x.cuda(), tuple(t.cuda() for t in hx)
    if I == 0:  # no input features off the CPU: the loop serves
        run(net, x, hx)
        assert calls == {"_fused": 0, "_step_loop": 1}
        return
    fused, loop = both(net, x, hx, calls, monkeypatch)
    assert_close(fused, loop, RTOL[torch.float64])
