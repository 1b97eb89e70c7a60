"""The Triton chain kernel's checks, run under Triton's interpreter and reported as numbers for
test_chain_triton.py to judge (``TRITON_INTERPRET=1`` must be set before triton is first imported).

Independent references: the plain torch chain (``gpu.chain.torch_chain``) for the kernel, and
autograd through the step loop for the whole schedule run with the kernel as its chain.
"""

from __future__ import annotations

import json
import os
import warnings

import torch

from cwrnn_audio import CWRNN
from cwrnn_audio.gpu.chain import torch_chain
from cwrnn_audio.gpu.chain_triton import triton_chain


def rel(a, b):
    return ((a - b).abs().max() / b.abs().max().clamp_min(1e-30)).item()


def chain_vs_torch() -> dict:
    out = {}
    for k in (1, 2, 16, 20):  # padded to 16 and 32 columns; 18 sequences: two tiles, one partial
        g = torch.Generator().manual_seed(k)
        U = torch.randn(18, 9, k, generator=g).requires_grad_()
        W = (torch.randn(k, k, generator=g) * 0.5 / k**0.5).requires_grad_()
        h0 = torch.randn(18, k, generator=g).requires_grad_()
        dout = torch.randn(18, 9, k, generator=g)
        a, b = triton_chain(U, W, h0), torch_chain(U, W, h0)
        ga = torch.autograd.grad(a, (U, W, h0), dout)
        gb = torch.autograd.grad(b, (U, W, h0), dout)
        out[k] = {"forward": rel(a, b), **{n: rel(x, y) for n, x, y in zip(("dU", "dW", "dh0"), ga, gb)}}
    return out


def model_through_the_kernel() -> dict:
    import cwrnn_audio.gpu.chain_triton as kernel_module

    calls = []
    real = kernel_module.triton_chain
    kernel_module.triton_chain = lambda *a: calls.append(a[0].shape[1]) or real(*a)
    torch.manual_seed(0)
    model = CWRNN(input_size=2, output_size=2, module_sizes=[16, 3, 5], periods=[1, 3, 4])
    x = torch.randn(18, 14, 2)
    runs = {}
    for name, env in {
        "triton": {"CWRNN_AUDIO_CUDA_PATH": "schedule", "CWRNN_AUDIO_CHAIN": "triton"},
        "loop": {"CWRNN_AUDIO_CUDA_PATH": "loop"},
    }.items():
        os.environ.update(env)
        model.zero_grad()
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            y, _ = model(x)
            (y * torch.linspace(-1, 1, 2)).square().sum().backward()
        runs[name] = (y.detach(), {n: p.grad.clone() for n, p in model.named_parameters()}, caught)
        for key in env:
            del os.environ[key]
    (y1, g1, w1), (y2, g2, _) = runs["triton"], runs["loop"]
    return {
        "forward": rel(y1, y2),
        "grads": {n: rel(g1[n], g2[n]) for n in g1},
        "warnings": [str(w.message) for w in w1],
        "kernel_ticks": calls,  # one chain per module: 14, ceil(14 / 3), ceil(14 / 4) ticks
    }


def big_module_falls_back() -> dict:
    from cwrnn_audio.gpu.schedule import schedule_forward
    from cwrnn_audio.nn.functional import _step_loop

    torch.manual_seed(1)
    n = 130
    W, W_I, b = torch.randn(n, n) * 0.05, torch.randn(n, 1), torch.zeros(n)
    x, h = torch.randn(2, 5, 1), torch.zeros(2, n)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        got = schedule_forward(x, h, 0, W, W_I, b, [1], [0, n], chain="triton")
    return {
        "diff": rel(got, _step_loop(x, h, 0, W, W_I, b, [1], [0, n])),
        "warnings": [str(w.message) for w in caught],
    }


if __name__ == "__main__":
    print(
        json.dumps(
            {"chain": chain_vs_torch(), "model": model_through_the_kernel(), "big": big_module_falls_back()}
        )
    )
