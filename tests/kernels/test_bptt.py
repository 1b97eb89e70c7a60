"""Numba BPTT against torch autograd and against finite differences."""

import numpy as np
import pytest
import torch
from conftest import make_model, random_config_kwargs

from cwrnn_audio.kernels.bptt_cwrnn import cwrnn_layout, cwrnn_loss_grad
from cwrnn_audio.kernels.bptt_lstm import lstm_layout, lstm_loss_grad
from cwrnn_audio.nn.lstm import LSTMNet
from cwrnn_audio.train.networks import flatten


def cwrnn_numba(model, x, tgt, scale, dtype=np.float32, theta=None):
    c = model.config
    n, T = c.hidden_size, len(x)
    theta = flatten(model).astype(dtype) if theta is None else theta
    grad = np.zeros_like(theta)
    z = lambda *s: np.zeros(s, dtype)  # noqa: E731
    loss = cwrnn_loss_grad(
        theta,
        grad,
        x.astype(dtype),
        tgt.astype(dtype),
        z(n),
        0,
        n,
        np.array(c.offsets),
        np.array(c.periods),
        int(c.output_activation == "tanh"),
        scale,
        z(T + 1, n),
        z(T, c.output_size),
        z(n),
        z(n),
    )
    return loss, grad


def lstm_numba(model, x, tgt, scale, dtype=np.float32, theta=None):
    c = model.config
    H, T = c.hidden_size, len(x)
    theta = flatten(model).astype(dtype) if theta is None else theta
    grad = np.zeros_like(theta)
    z = lambda *s: np.zeros(s, dtype)  # noqa: E731
    loss = lstm_loss_grad(
        theta,
        grad,
        x.astype(dtype),
        tgt.astype(dtype),
        z(H),
        z(H),
        H,
        int(c.output_activation == "tanh"),
        scale,
        z(T + 1, H),
        z(T + 1, H),
        z(T, 4 * H),
        z(T, H),
        z(T, c.output_size),
        z(H),
        z(H),
        z(4 * H),
    )
    return loss, grad


def autograd(model, x, tgt, scale):
    model.zero_grad()
    y, _ = model(torch.from_numpy(x)[None])
    loss = scale * (y[0] - torch.from_numpy(tgt)).pow(2).sum()
    loss.backward()
    grads = [p.grad if p.grad is not None else torch.zeros_like(p) for p in model.parameters()]
    return loss.item(), torch.cat([g.reshape(-1) for g in grads]).numpy()


@pytest.mark.parametrize("trial", range(8))
def test_cwrnn_gradient_matches_autograd(rng, trial):
    kw = random_config_kwargs(rng)
    model = make_model(rng, **kw)
    T = int(rng.integers(1, 150))
    x = rng.normal(size=(T, kw["input_size"])).astype(np.float32)
    tgt = rng.uniform(-1, 1, (T, kw["output_size"])).astype(np.float32)
    scale = float(rng.choice([1.0, 0.5, 1 / T]))
    loss, grad = cwrnn_numba(model, x, tgt, scale)
    loss_ref, grad_ref = autograd(model, x, tgt, scale)
    assert loss == pytest.approx(loss_ref, rel=1e-5)
    np.testing.assert_allclose(grad, grad_ref, rtol=1e-4, atol=1e-4 * np.abs(grad_ref).max())
    # structural zeros of W_H never receive gradient
    n = model.hidden_size
    lower = ~model.W_H_mask.numpy()
    assert np.all(grad[: n * n].reshape(n, n)[lower] == 0)


@pytest.mark.parametrize("trial", range(4))
def test_lstm_gradient_matches_autograd(rng, trial):
    I, H, O = int(rng.integers(0, 3)), int(rng.integers(1, 9)), int(rng.integers(1, 3))
    torch.manual_seed(trial)
    model = LSTMNet(
        input_size=I, hidden_size=H, output_size=O, output_activation=str(rng.choice(["linear", "tanh"]))
    )
    T = int(rng.integers(1, 120))
    x = rng.normal(size=(T, I)).astype(np.float32)
    tgt = rng.uniform(-1, 1, (T, O)).astype(np.float32)
    loss, grad = lstm_numba(model, x, tgt, 1.0)
    loss_ref, grad_ref = autograd(model, x, tgt, 1.0)
    assert loss == pytest.approx(loss_ref, rel=1e-5)
    np.testing.assert_allclose(grad, grad_ref, rtol=1e-4, atol=1e-4 * np.abs(grad_ref).max())


@pytest.mark.parametrize("which", ["cwrnn", "lstm"])
def test_gradient_matches_finite_differences(rng, which):
    if which == "cwrnn":
        model = make_model(
            rng, input_size=1, module_sizes=[3, 2, 2], periods=[1, 2, 4], output_activation="tanh"
        )
        fn, layout = cwrnn_numba, cwrnn_layout(7, 1, 1)
        lower = ~model.W_H_mask.numpy().ravel()
        free = [i for i in range(layout["size"]) if not (i < 49 and lower[i])]
    else:
        torch.manual_seed(0)
        model = LSTMNet(input_size=1, hidden_size=3)
        fn, layout = lstm_numba, lstm_layout(3, 1, 1)
        free = list(range(layout["size"]))
    x = rng.normal(size=(40, 1))
    tgt = rng.uniform(-1, 1, (40, 1))
    theta = flatten(model).astype(np.float64)
    _, grad = fn(model, x, tgt, 0.5, np.float64, theta.copy())
    eps = 1e-5
    for i in rng.choice(free, size=25, replace=False):
        up, down = theta.copy(), theta.copy()
        up[i] += eps
        down[i] -= eps
        numeric = (
            fn(model, x, tgt, 0.5, np.float64, up)[0] - fn(model, x, tgt, 0.5, np.float64, down)[0]
        ) / (2 * eps)
        assert grad[i] == pytest.approx(numeric, rel=2e-3, abs=1e-5), f"parameter {i}"


def test_idle_modules_carry_their_error_unchanged():
    """A slow module's weights only learn from steps where it fired (PAPER.md, backward pass)."""
    torch.manual_seed(0)
    from cwrnn_audio import CWRNN

    model = CWRNN(input_size=1, module_sizes=[2, 2], periods=[1, 8])
    x = np.zeros((8, 1), np.float32)
    x[3] = 1.0  # input arrives while the slow module is idle (it fires at t=0 only within 8 steps)
    tgt = np.zeros((8, 1), np.float32)
    _, grad = cwrnn_numba(model, x, tgt, 1.0)
    W_I = grad[16:20]  # W_I rows: 2 fast, then 2 slow
    assert np.all(W_I[2:] == 0)  # the slow module never read x[3]
    assert np.any(W_I[:2] != 0)
