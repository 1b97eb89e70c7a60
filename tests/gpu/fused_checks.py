"""The fused kernels' checks, run in one process and reported as numbers for test_fused.py to judge.

On CPU this file runs as a script in a subprocess with ``TRITON_INTERPRET=1`` (set before triton is
first imported) and ``CWRNN_AUDIO_FUSED=1``, and prints one JSON object; the CUDA test imports it and
calls :func:`run_all` on the GPU. Every check compares the fused path against an independent one:
the float64 equations (``tests/reference.py``) or autograd through the step loop
(``CWRNN_AUDIO_FUSED=0`` forces the step loop for the same call).
"""

from __future__ import annotations

import json
import os
import sys
import warnings
from contextlib import contextmanager

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # reference.py
from reference import reference_forward  # noqa: E402

from cwrnn_audio import CWRNN, CWRNNState  # noqa: E402
from cwrnn_audio.core.clock import block_upper_mask  # noqa: E402
from cwrnn_audio.nn.functional import cwrnn_forward  # noqa: E402

# small shapes (the interpreter is slow): two tiles of 16 sequences, mixed module sizes
CONFIGS = {
    "mixed": dict(input_size=3, output_size=2, module_sizes=[16, 8, 16], periods=[1, 2, 5]),
    "no_input": dict(input_size=0, output_size=1, module_sizes=[16, 16, 16, 16]),
}
BATCH, STEPS = 18, 20


@contextmanager
def fused(on: bool):
    """Force the fused path on or off for the calls inside; off is the step loop (the CPU's Numba
    kernels are switched off too: the reference here is the loop, and refusals must run it)."""
    switches = {"CWRNN_AUDIO_FUSED": "1" if on else "0", "CWRNN_AUDIO_CPU_KERNELS": "0"}
    old = {k: os.environ.get(k) for k in switches}
    os.environ.update(switches)
    try:
        yield
    finally:
        for k, v in old.items():
            if v is None:
                del os.environ[k]
            else:
                os.environ[k] = v


CALLS = {}  # calls of each counted function since count_calls wrapped it: proof the kernels ran


def count_calls(module_name: str, attr: str) -> None:
    """Count the calls of ``module.attr`` in ``CALLS[attr]``; the callers look it up on every call."""
    import importlib

    module = importlib.import_module(module_name)
    inner = getattr(module, attr)
    if getattr(inner, "counted", False):
        return
    CALLS[attr] = 0

    def counted(*args):
        CALLS[attr] += 1
        return inner(*args)

    counted.counted = True
    setattr(module, attr, counted)


def model_and_data(name, device, seed=0):
    torch.manual_seed(seed)
    model = CWRNN(**CONFIGS[name], init_std=0.3).to(device)
    g = torch.Generator().manual_seed(seed + 1)
    x = torch.randn(BATCH, STEPS, model.config.input_size, generator=g).to(device)
    h0 = (0.5 * torch.randn(BATCH, model.config.hidden_size, generator=g)).to(device)
    return model, x, h0


def max_diff(a, b) -> float:
    b = torch.as_tensor(b)
    return float((a.detach().double().cpu() - b.double().cpu()).abs().max()) if b.numel() else 0.0


def rel_diff(a, b) -> float:
    """Max difference relative to ``b``'s largest entry; 0 for empty (input_size = 0) tensors."""
    if not b.numel():
        return 0.0
    return max_diff(a, b) / max(float(b.abs().max()), 1e-30)


def check_forward(device) -> dict:
    """Every state H against the float64 equations and the step loop, at t0 = 0 and 7."""
    out = {}
    for name in CONFIGS:
        model, x, h0 = model_and_data(name, device)
        c = model.config
        W = model.W_H * model.W_H_mask
        # the reference's read-out set to the identity: its outputs are the hidden states
        weights = {**model.numpy_weights(), "W_O": np.eye(c.hidden_size), "b_O": np.zeros(c.hidden_size)}
        for t0 in (0, 7):
            calls = CALLS["fused_forward"]
            t = torch.full((BATCH,), t0, device=device)
            with torch.no_grad():
                with fused(True):
                    H = cwrnn_forward(x, h0, t, W, model.W_I, model.b_H, c.periods, c.offsets)
                with fused(False):
                    H_loop = cwrnn_forward(x, h0, t, W, model.W_I, model.b_H, c.periods, c.offsets)
            ref = 0.0
            for b in (0, 15, BATCH - 1):  # both tiles, and the partial one's last row
                H_ref, _ = reference_forward(
                    weights, c.module_sizes, c.periods, "linear", x[b].cpu().numpy(), h0[b].cpu().numpy(), t0
                )
                ref = max(ref, max_diff(H[b], H_ref))
            out[f"{name}/t0={t0}"] = {
                "fused_calls": CALLS["fused_forward"] - calls,
                "vs_reference": ref,
                "vs_step_loop": max_diff(H, H_loop),
            }
    return out


def grads(model, x, h0, t, on: bool):
    """Gradients of one loss w.r.t. x, h0, W_H, W_I, b_H through CWRNN.forward."""
    model.zero_grad()
    x = x.clone().requires_grad_(True)
    h0 = h0.clone().requires_grad_(True)
    with fused(on):
        y, state = model(x, CWRNNState(h0, t))
    w = torch.linspace(-1, 1, y.numel(), device=y.device).reshape(y.shape)
    ((y * w).mean() + state.h.pow(2).mean()).backward()
    named = {"x": x, "h0": h0, **{k: getattr(model, k) for k in ("W_H", "W_I", "b_H")}}
    # no gradient (None) where a tensor was not read, e.g. x and W_I when input_size = 0: zeros
    return {k: torch.zeros_like(v) if v.grad is None else v.grad.clone() for k, v in named.items()}


def check_gradients(device) -> dict:
    """Fused gradients against autograd through the step loop, one clock group and two."""
    out = {}
    starts = {"t0=5": [5] * BATCH, "two_groups": [0] * 9 + [3] * (BATCH - 9)}
    for name in CONFIGS:
        model, x, h0 = model_and_data(name, device, seed=2)
        for label, t in starts.items():
            t = torch.tensor(t, device=device)
            calls = CALLS["fused_forward"]
            gf = grads(model, x, h0, t, True)
            calls = CALLS["fused_forward"] - calls
            gs = grads(model, x, h0, t, False)
            scale = {k: float(v.abs().max()) if v.numel() else 0.0 for k, v in gs.items()}
            diff = {k: rel_diff(gf[k], gs[k]) for k in gs}
            below = ~torch.from_numpy(block_upper_mask(model.config.module_sizes)).to(device)
            out[f"{name}/{label}"] = {
                "rel_diff": diff,
                "scale": scale,
                "fused_calls": calls,
                "W_H_below_blocks": float(gf["W_H"][below].abs().max()),
            }
    return out


def check_windows(device) -> dict:
    """A sequence cut into windows, the state (h, t) carried, equals one pass."""
    model, x, h0 = model_and_data("mixed", device, seed=3)
    with torch.no_grad(), fused(True):
        y, state = model(x, CWRNNState(h0, 2))
        ys, s = [], CWRNNState(h0, 2)
        for lo, hi in ((0, 5), (5, 6), (6, 17), (17, STEPS)):
            yw, s = model(x[:, lo:hi], s)
            ys.append(yw)
    return {"y": max_diff(torch.cat(ys, 1), y), "h": max_diff(s.h, state.h), "t": s.t.tolist()}


def check_structural_zeros(device) -> dict:
    """Straight into the function with a dense W: module k's rows read only columns j >= k, so W's
    entries below the blocks get exactly zero gradient (through CWRNN.forward: check_gradients)."""
    model, x, h0 = model_and_data("mixed", device, seed=4)
    c = model.config
    below = ~torch.from_numpy(block_upper_mask(c.module_sizes)).to(device)
    W = torch.randn(c.hidden_size, c.hidden_size, device=device, requires_grad=True)
    t = torch.zeros(BATCH, dtype=torch.long, device=device)
    with fused(True):
        H = cwrnn_forward(x, h0, t, W, model.W_I, model.b_H, c.periods, c.offsets)
    H.pow(2).sum().backward()
    return {"below": float(W.grad[below].abs().max()), "above": float(W.grad[~below].abs().max())}


def check_fallback(device) -> dict:
    """Refused configurations warn once and give the step loop's numbers."""
    out = {}
    cases = {
        "big_module": (dict(input_size=1, module_sizes=[130, 4], periods=[1, 2]), torch.float32),
        "float64": (dict(input_size=1, module_sizes=[16, 16]), torch.float64),
    }
    for label, (kw, dtype) in cases.items():
        torch.manual_seed(5)
        model = CWRNN(**kw).to(device, dtype)
        x = torch.randn(3, 9, 1, device=device, dtype=dtype)
        with torch.no_grad():
            with fused(False):
                y_loop, _ = model(x)
            with fused(True), warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                y, _ = model(x)
        out[label] = {"diff": max_diff(y, y_loop), "warnings": [str(w.message) for w in caught]}
    return out


def check_edges(device) -> dict:
    """T = 0 returns an empty H; bad arguments raise the project's ParameterError."""
    from cwrnn_audio.errors import ParameterError
    from cwrnn_audio.gpu.function import fused_forward

    model, x, h0 = model_and_data("mixed", device)
    c = model.config
    W = model.W_H * model.W_H_mask
    H = fused_forward(x[:, :0], h0, 0, W, model.W_I, model.b_H, c.periods, c.offsets)
    errors = []
    for bad in (
        (x, h0[:, :5], 0, W, model.W_I, model.b_H, c.periods, c.offsets),
        (x, h0, 0, W, model.W_I, model.b_H, c.periods, c.offsets[:-1]),
        (x.double(), h0, 0, W, model.W_I, model.b_H, c.periods, c.offsets),
        (x, h0, -1, W, model.W_I, model.b_H, c.periods, c.offsets),
    ):
        try:
            fused_forward(*bad)
            errors.append(None)
        except ParameterError as exc:
            errors.append(str(exc))
    return {"empty_shape": list(H.shape), "errors": errors}


def run_all(device) -> dict:
    count_calls("cwrnn_audio.gpu.function", "fused_forward")
    checks = (
        check_forward,
        check_gradients,
        check_windows,
        check_structural_zeros,
        check_fallback,
        check_edges,
    )
    return {f.__name__[6:]: f(device) for f in checks} | {"triton_loaded": "triton" in sys.modules}


if __name__ == "__main__":
    torch.set_num_threads(1)
    print(json.dumps(run_all("cpu")))
