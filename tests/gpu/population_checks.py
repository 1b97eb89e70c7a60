"""The fused population kernels' checks, run in one process and reported as numbers for
test_population.py to judge.

On CPU this file runs as a script in a subprocess with ``TRITON_INTERPRET=1`` (set before triton is
first imported) and ``CWRNN_AUDIO_FUSED=1``, and prints one JSON object; the CUDA test imports it and
calls :func:`run_all` on the GPU. Each check compares the fused population against an independent
path: a loop over the networks through the step loop, or ``run_epochs``' vmap path
(``CWRNN_AUDIO_FUSED=0``).
"""

from __future__ import annotations

import json
import sys

import numpy as np
import torch
from fused_checks import CALLS, count_calls, fused, max_diff, rel_diff  # this folder: a script's path

from cwrnn_audio import CWRNN  # noqa: E402
from cwrnn_audio.core.clock import block_upper_mask
from cwrnn_audio.nn.functional import _step_loop
from cwrnn_audio.train import engine_torch
from cwrnn_audio.train.networks import flatten
from cwrnn_audio.train.optimizer import OptimizerConfig

# small shapes (the interpreter is slow): three networks, two tiles of 16 sequences
CONFIGS = {
    "mixed": dict(input_size=3, module_sizes=[16, 8, 16], periods=[1, 2, 5]),
    "srn": dict(input_size=2, module_sizes=[16], periods=[1]),
    "no_input": dict(input_size=0, module_sizes=[16, 16], periods=[1, 2]),
}
STARTS = {"mixed": 7, "srn": 0, "no_input": 3}
NETS, BATCH, STEPS = 3, 18, 8


def check_kernels(device) -> dict:
    """The batched call's states and gradients against a loop over networks through the step loop."""
    from cwrnn_audio.gpu.population import CWRNNPopulationFused

    out = {}
    for name, kw in CONFIGS.items():
        model = CWRNN(**kw)
        c = model.config
        n, I, t0 = c.hidden_size, c.input_size, STARTS[name]
        g = torch.Generator().manual_seed(7)
        leaves = {
            "x": torch.randn(NETS, BATCH, STEPS, I, generator=g),
            "h0": 0.5 * torch.randn(NETS, BATCH, n, generator=g),
            "W_H": 0.3 * torch.randn(NETS, n, n, generator=g),
            "W_I": 0.3 * torch.randn(NETS, n, I, generator=g),
            "b_H": 0.3 * torch.randn(NETS, n, generator=g),
        }
        weight = torch.randn(NETS, BATCH, STEPS, n, generator=g).to(device)
        mask = torch.from_numpy(block_upper_mask(c.module_sizes)).to(device, torch.float32)
        results = {}
        for label in ("fused", "loop"):
            v = {k: t.to(device, copy=True).requires_grad_(True) for k, t in leaves.items()}
            W = v["W_H"] * mask
            args = (v["x"], v["h0"], t0, W, v["W_I"], v["b_H"], c.periods, c.offsets)
            if label == "fused":
                H = CWRNNPopulationFused.apply(*args)
            else:
                H = torch.stack(
                    [_step_loop(*(a[p] for a in args[:2]), t0, *(a[p] for a in args[3:6]), c.periods, c.offsets)
                     for p in range(NETS)]
                )  # fmt: skip
            ((H * weight).sum() + H[:, :, -1].pow(2).sum()).backward()
            results[label] = (H, {k: torch.zeros_like(t) if t.grad is None else t.grad for k, t in v.items()})
        (Hf, gf), (Hl, gl) = results["fused"], results["loop"]
        below = ~torch.from_numpy(block_upper_mask(c.module_sizes)).to(device)
        out[name] = {
            "shape": list(Hf.shape),
            "forward": max_diff(Hf, Hl),
            "rel_diff": {k: rel_diff(gf[k], gl[k]) for k in gl},
            "scale": {k: float(t.abs().max()) if t.numel() else 0.0 for k, t in gl.items()},
            "W_H_below_blocks": float(gf["W_H"][:, below].abs().max()) if bool(below.any()) else 0.0,
        }
    return out


def population(kw, seed):
    """A template, P flat parameter vectors, and the data of one population task."""
    torch.manual_seed(seed)
    template = CWRNN(**kw, output_size=2, init_std=0.3)
    rng = np.random.default_rng(seed)
    theta = np.stack([flatten(CWRNN(**kw, output_size=2, init_std=0.3)) for _ in range(NETS)])
    I = template.config.input_size
    x = rng.standard_normal((NETS, 2, 8, I)).astype(np.float32)
    target = np.tanh(rng.standard_normal((NETS, 2, 8, 2))).astype(np.float32)
    return template, theta, x, target


def train(template, theta, x, target, opt, on: bool, device):
    """Two chunks of run_epochs (the second continues the first's moments); returns every result."""
    theta = theta.copy()
    m1, m2 = np.zeros_like(theta), np.zeros_like(theta)
    steps = np.zeros(NETS, np.int64)
    calls = CALLS["population_forward"]
    with fused(on):
        losses = [
            engine_torch.run_epochs(template, theta, m1, m2, steps, x, target, e, 0.05, opt, device=device)
            for e in (2, 1)
        ]
    return {
        "losses": np.concatenate(losses, 1),
        "theta": theta,
        "m1": m1,
        "m2": m2,
        "steps": steps.tolist(),
        "calls": CALLS["population_forward"] - calls,
    }


def check_run_epochs(device) -> dict:
    """run_epochs with the switch on (one batched fused call per epoch) equals the vmap path."""
    out = {}
    cases = {
        "mixed/sgd_clip": (CONFIGS["mixed"], OptimizerConfig(name="sgd", lr=0.05, clip=0.5)),
        "mixed/adam": (CONFIGS["mixed"], OptimizerConfig(name="adam", lr=0.01)),
        "srn/sgd": (dict(input_size=1, module_sizes=[16], periods=[1]), OptimizerConfig(lr=0.05)),
        "no_input/adam_tanh": (
            dict(input_size=0, module_sizes=[16, 16], periods=[1, 2], output_activation="tanh"),
            OptimizerConfig(name="adam", lr=0.01, clip=1.0),
        ),
    }
    for i, (label, (kw, opt)) in enumerate(cases.items()):
        template, theta, x, target = population(kw, seed=10 + i)
        on = train(template, theta, x, target, opt, True, device)
        off = train(template, theta, x, target, opt, False, device)
        out[label] = {
            "calls_on": on["calls"],
            "calls_off": off["calls"],
            "moved": float(np.abs(on["theta"] - theta).max()),
            "steps": on["steps"],
            "losses_shape": list(on["losses"].shape),
            "losses_first": on["losses"][:, 0].tolist(),
            "losses_last": on["losses"][:, -1].tolist(),
            **{k: float(np.abs(on[k] - off[k]).max()) for k in ("losses", "theta", "m1", "m2")},
        }
    return out


def run_all(device) -> dict:
    count_calls("cwrnn_audio.gpu.population", "population_forward")
    return {"kernels": check_kernels(device), "run_epochs": check_run_epochs(device)} | {
        "triton_loaded": "triton" in sys.modules
    }


if __name__ == "__main__":
    torch.set_num_threads(1)
    print(json.dumps(run_all("cpu")))
