"""One module's recurrence over its own ticks: ``h_s = tanh(U_s + h_{s-1} W^T)``, ``s = 1..S``.

The module schedule (:mod:`.schedule`) runs every module as such a chain, its addend ``U``
(input projection, bias, the slower modules' contributions) known beforehand. The chain kernels:

- ``"cudnn"`` (the default): torch's tanh RNN with the addend as its input (input weights the
  identity, no biases): cuDNN on CUDA, ATen's own loop elsewhere; autograd through torch.
- ``"triton"``: the project's kernel (:mod:`.chain_triton`): a program holds a tile of 16
  sequences, ``W`` and the state in registers for the whole chain. Configurations it cannot take
  (no triton, a module over :data:`~cwrnn_audio.gpu.MAX_MODULE_SIZE`, not float32, CPU tensors
  without ``TRITON_INTERPRET=1``) run ``"cudnn"`` after a warning naming why.
- ``"torch"``: a plain loop of torch ops, the reference.

``CWRNN_AUDIO_CHAIN`` picks one (default ``cudnn``).
"""

from __future__ import annotations

import os
import warnings

import torch

from ..errors import ParameterError

CHAIN_SWITCH = "CWRNN_AUDIO_CHAIN"
CHAINS = ("cudnn", "triton", "torch")
DEFAULT_CHAIN = "cudnn"


def torch_chain(U, W, h0):
    """U ``(B, S, k)``, W ``(k, k)``, h0 ``(B, k)`` -> the states ``(B, S, k)``."""
    h, states = h0, []
    for s in range(U.shape[1]):
        h = torch.tanh(torch.addmm(U[:, s], h, W.t()))
        states.append(h)
    return torch.stack(states, 1) if states else U.new_zeros(U.shape)


def cudnn_chain(U, W, h0):
    """As :func:`torch_chain`, through torch's tanh RNN (cuDNN on CUDA)."""
    eye = torch.eye(W.shape[0], dtype=W.dtype, device=W.device)
    with warnings.catch_warnings():
        # weights made per call are "not part of a single contiguous chunk": cuDNN compacts the two
        # k x k matrices, a copy far smaller than the chain itself
        warnings.filterwarnings("ignore", message="RNN module weights are not part")
        out, _ = torch._VF.rnn_tanh(
            U, h0[None].contiguous(), [eye, W], False, 1, 0.0, torch.is_grad_enabled(), False, True
        )
    return out


def chosen_chain() -> str:
    name = os.environ.get(CHAIN_SWITCH, "") or DEFAULT_CHAIN
    if name not in CHAINS:
        raise ParameterError(f"{CHAIN_SWITCH} must be one of {list(CHAINS)}; got {name!r}")
    return name


def chain_for(name: str, sizes, *tensors):
    """The chain function called ``name`` for modules of ``sizes`` on ``tensors``; the Triton
    kernel falls back to ``"cudnn"`` (one warning per reason) where it cannot take them."""
    if name == "torch":
        return torch_chain
    if name == "triton":
        from . import refusal_of_chain

        reason = refusal_of_chain(sizes, *tensors)
        if reason is None:
            from .chain_triton import triton_chain  # imports triton: only on this path

            return triton_chain
        warnings.warn(f"cwrnn_audio: Triton chain kernel not used: {reason}; running cuDNN's", stacklevel=4)
    return cudnn_chain
