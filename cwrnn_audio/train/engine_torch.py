"""Training epochs through the torch path: a population is one vmapped model.

``P`` networks become stacked parameters ``(P, ...)`` run through
``torch.func.vmap`` over the same module definition; summed losses keep
their gradients independent and SGD/Adam act elementwise, so this is ``P``
separate trainings in one batched graph (CPU or CUDA).

A CW-RNN (or SRN) population whose parameters the fused kernels take (:func:`cwrnn_audio.gpu.use_fused`
and no :func:`~cwrnn_audio.gpu.refusal`) skips vmap: the stacked parameters go straight into one
batched fused call (``gpu/population.py``), the read-out is a batched linear, and the loss, clipping
and optimizer step are the same lines as the vmap path's.
"""

from __future__ import annotations

import numpy as np
import torch
from torch.func import functional_call, vmap

from ..core.kinds import kind_of
from ..gpu import refusal, use_fused
from ..nn.placement import as_params, like
from .networks import param_names, unflatten


def _to_flat(model, tensors: dict) -> np.ndarray:
    P = next(iter(tensors.values())).shape[0]
    return np.concatenate(
        [tensors[k].detach().reshape(P, -1).to("cpu", torch.float32).numpy() for k in param_names(model)],
        axis=1,
    )


def run_epochs(template, theta, m1, m2, steps, x, target, epochs: int, scale: float, opt, *, device="cpu"):
    """Same contract as :func:`engine_numba.run_epochs`, computed with autograd."""
    module = _Core(template.to(torch.device(device)))
    made = like(template)
    # copies: unflatten's views share theta's memory, which the end of this call overwrites
    params = {
        k: v.to(copy=True, **made).requires_grad_(True)
        for k, v in unflatten(template, torch.from_numpy(theta)).items()
    }
    optim = opt.torch_optimizer(list(params.values()))
    step = int(steps[0])
    if step > 0:  # continue from moments of an earlier run (either engine)
        first = unflatten(template, torch.from_numpy(m1))
        second = unflatten(template, torch.from_numpy(m2))
        for k, p in params.items():
            if opt.name == "sgd":
                optim.state[p] = {"momentum_buffer": first[k].to(copy=True, **made)}
            else:
                optim.state[p] = {
                    "step": torch.tensor(float(step)),  # a CPU float32 scalar, as torch's Adam makes it
                    "exp_avg": first[k].to(copy=True, **made),
                    "exp_avg_sq": second[k].to(copy=True, **made),
                }
    xs, ts = as_params(template, x), as_params(template, target)

    batched = _fused_population(template, params, xs)
    if batched is None:

        def one(p, xb):
            return functional_call(module, {f"net.{k}": v for k, v in p.items()}, (xb,))

        # one network needs no vmap, and without it a CW-RNN on the CPU runs the Numba kernels
        # (nn/numba_function.py), which torch.func transforms cannot call
        batched = (
            vmap(one)
            if theta.shape[0] > 1
            else (lambda p, xb: one({k: v[0] for k, v in p.items()}, xb[0])[None])
        )
    losses = np.zeros((theta.shape[0], epochs))
    for e in range(epochs):
        y = batched(params, xs)
        per_net = scale * (y - ts).pow(2).sum(dim=(1, 2, 3))
        losses[:, e] = per_net.detach().cpu().numpy()
        optim.zero_grad(set_to_none=True)
        per_net.sum().backward()
        if opt.clip is not None:
            grads = [p.grad for p in params.values() if p.grad is not None]
            norms = torch.sqrt(sum(g.pow(2).reshape(g.shape[0], -1).sum(1) for g in grads))
            coef = (opt.clip / (norms + 1e-6)).clamp(max=1.0)
            for g in grads:
                g.mul_(coef.reshape(-1, *([1] * (g.dim() - 1))))
        optim.step()
    theta[...] = _to_flat(template, params)
    if opt.name == "sgd" and opt.momentum > 0:
        bufs = {k: optim.state[p].get("momentum_buffer") for k, p in params.items()}
        m1[...] = _to_flat(
            template, {k: (b if b is not None else torch.zeros_like(params[k])) for k, b in bufs.items()}
        )
    elif opt.name == "adam":
        get = lambda key: {k: optim.state[p].get(key, torch.zeros_like(p)) for k, p in params.items()}  # noqa: E731
        m1[...] = _to_flat(template, get("exp_avg"))
        m2[...] = _to_flat(template, get("exp_avg_sq"))
    steps += epochs
    return losses


def _fused_population(template, params: dict, xs):
    """``forward(params, xs) -> y (P, S, T, O)`` through the fused population kernels, or None where
    they are not wanted or refuse (the caller then vmaps the module)."""
    if not kind_of(template).clocked or not use_fused(params["W_H"]):
        return None
    c = template.config
    if refusal(c.periods, c.offsets, xs, *params.values()) is not None:
        return None
    from ..gpu.population import population_forward  # imports triton: only on this path

    mask = template.W_H_mask.to(params["W_H"].device, params["W_H"].dtype)

    def forward(p, x):
        P, S = x.shape[:2]
        h0 = x.new_zeros((P, S, c.hidden_size))  # each epoch from the zero state at step 0
        H = population_forward(x, h0, 0, p["W_H"] * mask, p["W_I"], p["b_H"], c.periods, c.offsets)
        y = torch.matmul(H, p["W_O"].transpose(1, 2).unsqueeze(1)) + p["b_O"][:, None, None, :]
        return torch.tanh(y) if c.output_activation == "tanh" else y

    return forward


class _Core(torch.nn.Module):
    """The network's output from the zero state, without :meth:`CWRNN.forward`'s input checks:
    they branch on the input's values, which vmap cannot do (``fit`` checked the inputs once)."""

    def __init__(self, net):
        super().__init__()
        self.net = net

    def forward(self, x):
        if not hasattr(self.net, "forward_batched"):
            return self.net(x)[0]
        return self.net.forward_batched(x, *self.net._initial_state(None, x.shape[0], False))[0]
