"""A block of a CW-RNN stream in TorchScript: the module schedule, one chain call per module.

A per-sample loop in TorchScript costs 8-15 us a step in the interpreter (``../shared/MEASURED.md``),
so a block is organised as the GPU's module schedule (:mod:`cwrnn_audio.gpu.schedule`, whose tick
and hold indexing this reuses): slowest module first, each module's recurrence one chain over its
ticks in the block, the slower modules' contributions one matrix product each at their own rate.
Scriptable: exported files run it in libtorch hosts (nn~, the project's C++ host).

A chain ``r_s = tanh(U_s + W r_{s-1})`` costs, per tick on one core (k = 16, batch 1, libtorch
2.13): 3.8 us through ``torch.rnn_tanh`` (ATen's loop of small ops), 3.2 us in a scripted loop of
in-place ops, 0.75 us (plus 84 us a call) through ``torch.lstm``, which runs on oneDNN. So a chain
of at least :func:`lstm_from` ticks runs as an LSTM that computes it: input gate ``eps``, forget
gate 0, output gate 1 (saturated biases, exact in float32), cell input ``g_s = tanh(U_s + (W/eps)
h_{s-1})`` with ``h_s = tanh(eps g_s)``, so ``g_s = r_s`` up to the relative error
``(eps r)^2 / 3`` (< 2e-8 at ``eps = 2**-12``) and ``r_s = atanh(h_s) / eps``.
"""

from __future__ import annotations

import math
from typing import List

import torch

from ..gpu.schedule import _held, _ticks


def lstm_from() -> int:
    """Ticks from which a chain runs as an LSTM: there its 84 us a call is repaid (32 ticks: 108
    us against the loop's 102 us). A function, as TorchScript reads no module-level ints."""
    return 32


EPS = 2.0**-12
_SATURATED = 80.0  # sigmoid(80) == 1.0 and sigmoid(-80) < 2e-35 in float32


def lstm_weights(W_ii: torch.Tensor) -> List[torch.Tensor]:
    """The LSTM (torch's gate order i, f, g, o) that runs the chain of recurrent weights ``W_ii``."""
    k = W_ii.shape[0]
    zero, eye = torch.zeros(k, k), torch.eye(k)
    bias = torch.cat(
        [
            torch.full((k,), math.log(EPS / (1.0 - EPS))),
            torch.full((k,), -_SATURATED),
            torch.zeros(k),
            torch.full((k,), _SATURATED),
        ]
    )
    w_ih = torch.cat([zero, zero, eye, zero])
    w_hh = torch.cat([zero, zero, W_ii.float() / EPS, zero])
    return [w_ih, w_hh, bias, torch.zeros(4 * k)]


def chain(U: torch.Tensor, W_ii: torch.Tensor, h0: torch.Tensor, lstm: List[torch.Tensor]) -> torch.Tensor:
    """The states ``(B, S, k)`` of ``r_s = tanh(U_s + W_ii r_{s-1})`` from ``h0`` ``(B, k)``."""
    S = U.shape[1]
    if S >= lstm_from():
        gate = torch.sigmoid(lstm[2][0])  # the input gate as float32 computes it
        h = torch.tanh(gate * h0).unsqueeze(0).contiguous()
        out, _, _ = torch.lstm(U, (h, torch.zeros_like(h)), lstm, True, 1, 0.0, False, False, True)
        return torch.atanh(out) / gate
    out = torch.empty_like(U)
    Wt = W_ii.t()
    h = h0
    for s in range(S):
        o = torch.addmm(U[:, s], h, Wt).tanh_()
        out[:, s] = o
        h = o
    return out


def stream_block(
    x: torch.Tensor,
    h: torch.Tensor,
    t0: int,
    W: torch.Tensor,
    W_I: torch.Tensor,
    b_H: torch.Tensor,
    periods: List[int],
    offsets: List[int],
    lstms: List[List[torch.Tensor]],
) -> torch.Tensor:
    """x ``(B, L, I)``, h ``(B, n)`` at clock ``t0``, ``W`` block-upper-triangular -> H ``(B, L, n)``.
    ``lstms[i]``: :func:`lstm_weights` of module ``i``'s block of ``W``."""
    L, n = x.shape[1], h.shape[1]
    if L <= steps_from():
        return step_block(x, h, t0, W, W_I, b_H, periods, offsets)
    # every step's addend for every row, the slower modules' held states added in as each is known:
    # one gather per module instead of one per pair (28 pairs for 8 modules: the gathers' small ops
    # were most of a 512-sample block's time)
    addend = x @ W_I.t() + b_H
    steps = torch.arange(0, L, device=x.device)
    out = torch.empty(x.shape[0], L, n, dtype=x.dtype, device=x.device)
    for r in range(len(periods)):  # slowest first
        i = len(periods) - 1 - r
        lo, hi = offsets[i], offsets[i + 1]
        ticks = _ticks(t0, L, periods[i], x.device)
        h0 = h[:, lo:hi]
        states = chain(addend[:, :, lo:hi].index_select(1, ticks), W[lo:hi, lo:hi], h0, lstms[i])
        held = torch.cat([h0.unsqueeze(1), states], 1)  # its state before the block, then at each tick
        out[:, :, lo:hi] = held.index_select(1, _held(steps + 1, t0, periods[i]))
        if lo > 0:  # what it sends the faster modules at each step: its state after the step before
            addend[:, :, :lo] += (held @ W[:lo, lo:hi].t()).index_select(1, _held(steps, t0, periods[i]))
    return out


def steps_from() -> int:
    """Steps up to which a block runs step by step, only the firing modules' rows: the schedule's
    fixed ops per module (about 20) outweigh a step's (about 8 per firing module) in the short blocks
    of frame-rate models (an instrument renders 2-3 frames per 512-sample host block)."""
    return 4


def step_block(
    x: torch.Tensor,
    h: torch.Tensor,
    t0: int,
    W: torch.Tensor,
    W_I: torch.Tensor,
    b_H: torch.Tensor,
    periods: List[int],
    offsets: List[int],
) -> torch.Tensor:
    """:func:`stream_block` one step at a time: module ``i``'s rows where ``(t0 + s) % T_i == 0``."""
    addend = x @ W_I.t() + b_H
    out = torch.empty(x.shape[0], x.shape[1], h.shape[1], dtype=x.dtype, device=x.device)
    for s in range(x.shape[1]):
        new = h.clone()
        for i in range(len(periods)):
            if (t0 + s) % periods[i] == 0:
                lo = offsets[i]
                hi = offsets[i + 1]
                new[:, lo:hi] = torch.tanh(torch.addmm(addend[:, s, lo:hi], h[:, lo:], W[lo:hi, lo:].t()))
        out[:, s] = new
        h = new
    return out
