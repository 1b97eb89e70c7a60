"""The LSTM baseline against an independent reference: ``torch.nn.LSTM`` + ``torch.nn.Linear`` autograd.

Both of the project's LSTMs are checked, with random weights (not the init, so
that every gate matters) and the forget-gate bias at 1 and at 5:

(a) the Numba BPTT of the paper's populations, ``kernels.bptt_lstm.lstm_loss_grad``;
(b) the torch module ``nn.lstm.LSTMNet`` (its own hand-written recurrence + autograd).

Mapping, read from the code (``bptt_lstm.lstm_loss_grad``: ``z[j], z[H+j], z[2H+j],
z[3H+j]`` go through sigmoid, sigmoid, tanh, sigmoid and are used as input, forget,
cell, output; ``LSTMNet.forward``: ``i, f, g, o = z.chunk(4)``): the project's gate
rows are in torch's order (input, forget, cell, output), so the map is the identity:

    weight_ih_l0 = W_x (4H, I)     bias_ih_l0 = b (4H)    Linear.weight = W_O (O, H)
    weight_hh_l0 = W_h (4H, H)     bias_hh_l0 = 0         Linear.bias   = b_O (O)

with the forget-gate bias in ``b[H:2H]``; theta is ``W_x, W_h, b, W_O, b_O`` flattened
row-major (``train.networks.param_names`` / ``kernels.bptt_lstm.lstm_layout``). The
loss is ``scale * sum((y - target)**2)`` over steps and outputs (``train.losses``).
``torch.nn.LSTM`` refuses ``input_size=0`` (the paper's no-input generators), so
there the reference is an LSTM with one input fed zeros; its input weights are
random and must not matter.

Tolerances: ``LSTMNet`` in float64 matches to ~1e-12. The Numba kernel cannot get
below ~1e-6 in float64: its tanh (and sigmoid = 0.5 + 0.5 tanh(x/2)) is the
``kernels.forward.fast_tanh`` rational approximation (max error 2.8e-7 against
float64 tanh), by design, and its backward uses ``1 - tanh**2`` of that value.
So the kernel is held to 2e-5 relative in float64 and 1e-4 in float32; a wrong
gate mapping is off by O(1e-1) or more at those tolerances (checked below).
"""

import numpy as np
import pytest
import torch

from cwrnn_audio.kernels.bptt_lstm import lstm_layout, lstm_loss_grad
from cwrnn_audio.nn.lstm import LSTMNet

H, T, O = 5, 40, 1
SCALE = 1.0  # losses.loss_scale("sum", ...), the default
NAMES = ("W_x", "W_h", "b", "W_O", "b_O")
GATES = ("input", "forget", "cell", "output")

# (forward rtol, gradient rtol), relative to each compared block's largest entry
TOL = {
    ("module", np.float64): (1e-10, 1e-8),
    ("module", np.float32): (1e-5, 1e-4),
    ("numba", np.float64): (2e-5, 2e-5),  # fast_tanh, see the docstring
    ("numba", np.float32): (1e-4, 1e-4),
}


def make_case(seed, I, forget_bias, state=False):
    """Random float64 weights (std 0.5, read-out std 1), inputs, targets and initial state."""
    r = np.random.default_rng(seed)
    p = {
        "W_x": r.normal(0, 0.5, (4 * H, I)),
        "W_h": r.normal(0, 0.5, (4 * H, H)),
        "b": r.normal(0, 0.5, 4 * H),
        "W_O": r.normal(0, 1.0, (O, H)),
        "b_O": r.normal(0, 0.5, O),
    }
    p["b"][H : 2 * H] = forget_bias
    x = r.normal(0, 1, (T, I))
    tgt = np.sin(np.arange(T)[:, None] * 0.3 + np.arange(O)) * 0.8
    h0 = r.normal(0, 0.5, H) if state else np.zeros(H)
    c0 = r.normal(0, 1.0, H) if state else np.zeros(H)
    return p, x, tgt, h0, c0


def torch_reference(p, x, tgt, h0, c0, perm=(0, 1, 2, 3), double_bias=False):
    """Forward and loss gradients in float64 from ``torch.nn.LSTM`` + ``nn.Linear``.

    ``perm`` reorders the gate blocks on the way in (and back for the gradients):
    the identity is the correct map; anything else is a deliberately wrong one.
    ``double_bias`` puts ``b`` in both torch biases (another wrong map).
    """
    I = p["W_x"].shape[1]
    rows = np.concatenate([np.arange(H) + k * H for k in perm])
    lstm = torch.nn.LSTM(max(I, 1), H, batch_first=True).double()
    lin = torch.nn.Linear(H, O).double()
    t = lambda a: torch.as_tensor(np.ascontiguousarray(a), dtype=torch.float64)  # noqa: E731
    with torch.no_grad():
        if I:
            lstm.weight_ih_l0.copy_(t(p["W_x"][rows]))
        else:  # no input: one dummy input fed zeros, with weights that must not matter
            lstm.weight_ih_l0.copy_(t(np.random.default_rng(99).normal(0, 1, (4 * H, 1))))
        lstm.weight_hh_l0.copy_(t(p["W_h"][rows]))
        lstm.bias_ih_l0.copy_(t(p["b"][rows]))
        lstm.bias_hh_l0.copy_(t(p["b"][rows]) if double_bias else torch.zeros(4 * H))
        lin.weight.copy_(t(p["W_O"]))
        lin.bias.copy_(t(p["b_O"]))
    xt = t(x if I else np.zeros((T, 1)))[None]
    hs, (hn, cn) = lstm(xt, (t(h0)[None, None], t(c0)[None, None]))
    y = lin(hs)
    loss = SCALE * ((y - t(tgt)[None]) ** 2).sum()
    loss.backward()
    inv = np.argsort(rows)
    np.testing.assert_allclose(
        lstm.bias_ih_l0.grad.numpy(), lstm.bias_hh_l0.grad.numpy(), rtol=1e-12, atol=1e-12
    )
    grads = {
        "W_x": lstm.weight_ih_l0.grad.numpy()[inv] if I else np.zeros((4 * H, 0)),
        "W_h": lstm.weight_hh_l0.grad.numpy()[inv],
        "b": lstm.bias_ih_l0.grad.numpy()[inv],
        "W_O": lin.weight.grad.numpy(),
        "b_O": lin.bias.grad.numpy(),
    }
    fwd = {"y": y[0].detach().numpy(), "h": hs[0].detach().numpy(), "c_T": cn[0, 0].detach().numpy()}
    return float(loss.detach()), fwd, grads


def run_numba(p, x, tgt, h0, c0, dtype):
    """The paper's kernel, called as ``kernels.population.train_lstm_population`` calls it."""
    I = x.shape[1]
    lay = lstm_layout(H, I, O)
    theta = np.concatenate([p[k].ravel() for k in NAMES]).astype(dtype)
    assert theta.size == lay["size"]
    grad = np.zeros_like(theta)
    z = lambda *s: np.zeros(s, dtype)  # noqa: E731
    Hs, Cs = z(T + 1, H), z(T + 1, H)
    loss = lstm_loss_grad(
        theta, grad, x.astype(dtype), tgt.astype(dtype), h0.astype(dtype), c0.astype(dtype), H, 0, SCALE,
        Hs, Cs, z(T, 4 * H), z(T, H), z(T, O), z(H), z(H), z(4 * H),
    )  # fmt: skip
    grads = {k: grad[lay[k][0] : lay[k][0] + int(np.prod(lay[k][1]))].reshape(lay[k][1]) for k in NAMES}
    y = Hs[1:].astype(np.float64) @ p["W_O"].astype(dtype).T + p["b_O"].astype(dtype)
    return float(loss), {"y": y, "h": Hs[1:], "c_T": Cs[T]}, grads


def run_module(p, x, tgt, h0, c0, dtype):
    """``LSTMNet``'s forward and autograd, weights loaded by name."""
    I = x.shape[1]
    tdt = torch.float64 if dtype == np.float64 else torch.float32
    net = LSTMNet(input_size=I, hidden_size=H, output_size=O).to(tdt)
    with torch.no_grad():
        for k in NAMES:
            getattr(net, k).copy_(torch.as_tensor(p[k]))
    t = lambda a: torch.as_tensor(a, dtype=tdt)  # noqa: E731
    y, (hn, cn) = net(t(x)[None], (t(h0)[None], t(c0)[None]))
    loss = SCALE * ((y[0] - t(tgt)) ** 2).sum()
    loss.backward()
    # W_x is (4H, 0) with no input and gets no .grad at all
    grads = {
        k: np.zeros(p[k].shape) if g is None else g.double().numpy()
        for k in NAMES
        for g in [getattr(net, k).grad]
    }
    return (
        float(loss.detach()),
        {"y": y[0].detach().double().numpy(), "c_T": cn[0].detach().double().numpy()},
        grads,
    )


IMPLS = {"numba": run_numba, "module": run_module}


def blocks(name, a):
    """A parameter's gradient split so that each gate is compared on its own scale."""
    if name in ("W_x", "W_h", "b"):
        return {f"{name}[{g}]": a[k * H : (k + 1) * H] for k, g in enumerate(GATES)}
    return {name: a}


def mismatches(got, ref, fwd_tol, grad_tol):
    """Every compared quantity whose error exceeds its tolerance, with the relative error."""
    loss, fwd, grads = got
    loss_r, fwd_r, grads_r = ref
    bad = {}

    def check(key, a, b, tol):
        a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
        if b.size == 0:
            return
        err = np.abs(a - b).max() / max(np.abs(b).max(), 1e-300)
        if not err <= tol:
            bad[key] = err

    check("loss", loss, loss_r, fwd_tol)
    for k in fwd:
        check(k, fwd[k], fwd_r[k], fwd_tol)
    for name in NAMES:
        for key, b in blocks(name, grads_r[name]).items():
            check(key, blocks(name, grads[name])[key], b, grad_tol)
    return bad


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["f64", "f32"])
@pytest.mark.parametrize("forget_bias", [1.0, 5.0])
@pytest.mark.parametrize("I", [0, 2])
@pytest.mark.parametrize("impl", ["numba", "module"])
def test_lstm_matches_torch_nn_lstm(impl, I, forget_bias, dtype):
    case = make_case(1000 * I + int(forget_bias), I, forget_bias)
    ref = torch_reference(*case)
    got = IMPLS[impl](*case, dtype)
    assert mismatches(got, ref, *TOL[impl, dtype]) == {}
    # every gradient block is live (random weights, not the init), the forget-gate bias included
    for name in ("W_h", "b") + (("W_x",) if I else ()):
        for key, blk in blocks(name, ref[2][name]).items():
            assert np.abs(blk).max() > 1e-4, key


@pytest.mark.parametrize("impl", ["numba", "module"])
def test_nonzero_initial_state(impl):
    case = make_case(7, 2, 1.0, state=True)
    assert mismatches(IMPLS[impl](*case, np.float64), torch_reference(*case), *TOL[impl, np.float64]) == {}


@pytest.mark.parametrize(
    "wrong", ["swap_input_forget", "swap_forget_cell", "swap_cell_output", "double_bias"]
)
@pytest.mark.parametrize("impl", ["numba", "module"])
def test_wrong_mapping_is_caught(impl, wrong):
    """The comparison has teeth: a wrong map fails it, by far more than the tolerance."""
    kw = {
        "swap_input_forget": {"perm": (1, 0, 2, 3)},
        "swap_forget_cell": {"perm": (0, 2, 1, 3)},
        "swap_cell_output": {"perm": (0, 1, 3, 2)},
        "double_bias": {"double_bias": True},
    }[wrong]
    for fb in (1.0, 5.0):
        case = make_case(3, 2, fb)
        fwd_tol, grad_tol = TOL[impl, np.float64]
        bad = mismatches(IMPLS[impl](*case, np.float64), torch_reference(*case, **kw), fwd_tol, grad_tol)
        assert "y" in bad and max(bad.values()) > 1e3 * grad_tol, bad
