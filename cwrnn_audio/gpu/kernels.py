"""Triton kernels of the CW-RNN recurrence: a persistent forward and a reverse-time backward.

Imported only when the fused path runs (it imports ``triton``). Written for Triton >= 3.6.

Layout shared by both kernels (``function.py`` allocates it):
- ``HS`` is ``(T + 1, B, n)`` time-major: slot 0 holds h0, slot ``s + 1`` the state after step ``s``.
  The previous state of step ``s`` is slot ``s``, so neither kernel branches on ``s == 0``, and the
  backward's ``h_{s-1}`` for the weight gradients is the contiguous view ``HS[:-1]``.
- One program owns a tile of ``BLOCK_B`` sequences for all steps; the time loop runs inside.
- A population: the grid's second axis is the network. Every tensor has a network stride (``s_*p``,
  0 for a single network), by which the program offsets its base pointers once, in int64; the
  population Function lays HS out as ``(P, T + 1, B, n)`` (``gpu/population.py``).
- Modules are padded to ``BLOCK_K`` rows (a power of two >= 16, what ``tl.dot`` needs); loads are
  masked, so mixed module sizes share one block shape.
- The clock: module ``k`` fires at step ``s`` iff ``(PHASE[k] + s) % PERIODS[k] == 0``, where the
  host reduced the call's start counter ``t0`` to ``PHASE[k] = t0 % PERIODS[k]`` (int64 tensors), so
  a counter past 2**31 neither overflows nor needs a 64-bit loop variable.
- Per-step base pointers are loop-carried and advanced by one time stride, so offsets into large
  ``(T, B, n)`` tensors are 64-bit pointer arithmetic rather than an int32 ``s * stride`` product.
- State written in one phase and read in the next goes through global memory (it stays in L1/L2):
  ``tl.debug_barrier()`` (a CTA barrier) orders the stores before the next phase's loads on a GPU.
"""

from __future__ import annotations

import triton
import triton.language as tl


@triton.jit
def _tanh(x):
    # exp-based: works alike in the interpreter and on every backend (no libdevice dependency);
    # exp(2x) -> inf gives 1, -> 0 gives -1; absolute error about 1e-7
    return 1.0 - 2.0 / (tl.exp(2.0 * x) + 1.0)


@triton.jit
def _fires(PHASE, PERIODS, k, s):
    return (tl.load(PHASE + k) + s) % tl.load(PERIODS + k) == 0


# the arguments stay grouped by tensor, one line each
# fmt: off
@triton.jit
def cwrnn_forward_kernel(
    X, s_xp, s_xb, s_xt, s_xi,  # x ([P,] B, T, I), any strides
    HS, s_hp, s_ht, s_hb,  # ([P,] T + 1, B, n) time-major, unit stride along n; slot 0 = h0 on entry
    WH, s_wp, s_w0,  # masked W_H ([P,] n, n), unit column stride
    WI, s_ip, s_i0,  # W_I ([P,] n, I), unit column stride
    BH, s_bp,  # b_H ([P,] n), unit stride
    PHASE, PERIODS, OFFSETS,  # int64 (M,), int64 (M,), int32 (M + 1,)
    B, T, I, M,
    HAS_INPUT: tl.constexpr, BLOCK_B: tl.constexpr, BLOCK_K: tl.constexpr, BLOCK_I: tl.constexpr,
    PRECISION: tl.constexpr,
):
    # fmt: on
    net = tl.program_id(1).to(tl.int64)  # the network (0 for a single one)
    X += net * s_xp
    HS += net * s_hp
    WH += net * s_wp
    WI += net * s_ip
    BH += net * s_bp
    rb = tl.program_id(0) * BLOCK_B + tl.arange(0, BLOCK_B)
    bmask = rb < B
    rb64 = rb.to(tl.int64)
    rk = tl.arange(0, BLOCK_K)
    ri = tl.arange(0, BLOCK_I)
    h_prev = HS + rb64 * s_hb  # (BLOCK_B,) pointers into slot s
    x_s = X + rb64 * s_xb
    for s in range(0, T):
        h_new = h_prev + s_ht
        for k in range(0, M):
            lo = tl.load(OFFSETS + k)
            size_k = tl.load(OFFSETS + k + 1) - lo
            rmask = rk < size_k
            out_ptr = h_new[:, None] + (lo + rk)[None, :]
            omask = bmask[:, None] & rmask[None, :]
            if _fires(PHASE, PERIODS, k, s):
                bias = tl.load(BH + lo + rk, mask=rmask, other=0.0)
                acc = tl.zeros((BLOCK_B, BLOCK_K), dtype=tl.float32) + bias[None, :]
                # recurrent part: only column blocks j >= k (block-upper-triangular W_H)
                for j in range(k, M):
                    clo = tl.load(OFFSETS + j)
                    cmask = rk < tl.load(OFFSETS + j + 1) - clo
                    h_j = tl.load(
                        h_prev[:, None] + (clo + rk)[None, :],
                        mask=bmask[:, None] & cmask[None, :],
                        other=0.0,
                    )
                    # W_H[block k, block j]^T, loaded transposed: (cols of j, rows of k)
                    w_t = tl.load(
                        WH + (lo + rk)[None, :] * s_w0 + (clo + rk)[:, None],
                        mask=rmask[None, :] & cmask[:, None],
                        other=0.0,
                    )
                    acc = tl.dot(h_j, w_t, acc, input_precision=PRECISION)
                if HAS_INPUT:
                    for i0 in range(0, I, BLOCK_I):
                        imask = (i0 + ri) < I
                        x_c = tl.load(
                            x_s[:, None] + (i0 + ri)[None, :] * s_xi,
                            mask=bmask[:, None] & imask[None, :],
                            other=0.0,
                        )
                        wi_t = tl.load(
                            WI + (lo + rk)[None, :] * s_i0 + (i0 + ri)[:, None],
                            mask=rmask[None, :] & imask[:, None],
                            other=0.0,
                        )
                        acc = tl.dot(x_c, wi_t, acc, input_precision=PRECISION)
                tl.store(out_ptr, _tanh(acc), mask=omask)
            else:
                # a module that does not fire keeps its rows
                kept = tl.load(h_prev[:, None] + (lo + rk)[None, :], mask=omask, other=0.0)
                tl.store(out_ptr, kept, mask=omask)
        # step s + 1 reads slot s + 1, which other threads of this program just wrote
        tl.debug_barrier()
        h_prev = h_new
        x_s += s_xt


# fmt: off
@triton.jit
def cwrnn_backward_kernel(
    DH, s_dp, s_db, s_dt, s_dn,  # dL/dH ([P,] B, T, n), any strides (an expanded gradient: stride 0)
    HS, s_hp, s_ht, s_hb,  # forward states ([P,] T + 1, B, n), unit stride along n
    WH, s_wp, s_w0,  # masked W_H ([P,] n, n), unit column stride
    DELTA, s_ep, s_et, s_eb,  # out: pre-activation errors ([P,] T, B, n), zero on rows that did not fire
    G,  # scratch ([P,] B, n) contiguous: the part of dh that passes a step unchanged (rows that did not fire)
    DHC,  # ([P,] B, n) contiguous zeros on entry: the carried dh; dL/dh0 on exit
    s_gp,  # the network stride of G and DHC
    PHASE, PERIODS, OFFSETS,
    B, T, M,
    BLOCK_B: tl.constexpr, BLOCK_K: tl.constexpr, PRECISION: tl.constexpr,
):
    # fmt: on
    net = tl.program_id(1).to(tl.int64)  # the network (0 for a single one)
    DH += net * s_dp
    HS += net * s_hp
    WH += net * s_wp
    DELTA += net * s_ep
    G += net * s_gp
    DHC += net * s_gp
    n = tl.load(OFFSETS + M)
    rb = tl.program_id(0) * BLOCK_B + tl.arange(0, BLOCK_B)
    bmask = rb < B
    rb64 = rb.to(tl.int64)
    rk = tl.arange(0, BLOCK_K)
    carry = DHC + rb64 * n  # (BLOCK_B,) row pointers of the (B, n) scratch tensors
    g_row = G + rb64 * n
    # pointers at step T - 1, moved back one step per iteration; the products are taken in int64
    # (an int argument may arrive as int32 or, when it equals 1, as a constexpr without .to)
    last = rb64 * 0 + (T - 1)
    dh_s = DH + rb64 * s_db + last * s_dt
    h_s = HS + rb64 * s_hb + (last + 1) * s_ht  # slot s + 1 = the state after step s
    d_s = DELTA + rb64 * s_eb + last * s_et
    for r in range(0, T):
        s = T - 1 - r
        # phase 1: dh = carry + dH[:, s]; on firing rows delta = dh * (1 - h^2), else pass dh on
        for k in range(0, M):
            lo = tl.load(OFFSETS + k)
            rmask = rk < tl.load(OFFSETS + k + 1) - lo
            m2 = bmask[:, None] & rmask[None, :]
            cols = (lo + rk)[None, :]
            g = tl.load(carry[:, None] + cols, mask=m2, other=0.0)
            g += tl.load(dh_s[:, None] + cols * s_dn, mask=m2, other=0.0)
            if _fires(PHASE, PERIODS, k, s):
                h = tl.load(h_s[:, None] + cols, mask=m2, other=0.0)
                tl.store(d_s[:, None] + cols, g * (1.0 - h * h), mask=m2)
                tl.store(g_row[:, None] + cols, tl.zeros_like(g), mask=m2)
            else:
                tl.store(d_s[:, None] + cols, tl.zeros_like(g), mask=m2)
                tl.store(g_row[:, None] + cols, g, mask=m2)
        tl.debug_barrier()
        # phase 2: dh_{s-1}[:, block j] = G[:, block j] + sum over firing k <= j of delta_k W_H[k, j]
        for j in range(0, M):
            clo = tl.load(OFFSETS + j)
            cmask = rk < tl.load(OFFSETS + j + 1) - clo
            m2 = bmask[:, None] & cmask[None, :]
            acc = tl.load(g_row[:, None] + (clo + rk)[None, :], mask=m2, other=0.0)
            for k in range(0, j + 1):
                if _fires(PHASE, PERIODS, k, s):
                    lo = tl.load(OFFSETS + k)
                    rmask = rk < tl.load(OFFSETS + k + 1) - lo
                    d = tl.load(
                        d_s[:, None] + (lo + rk)[None, :],
                        mask=bmask[:, None] & rmask[None, :],
                        other=0.0,
                    )
                    w = tl.load(
                        WH + (lo + rk)[:, None] * s_w0 + (clo + rk)[None, :],
                        mask=rmask[:, None] & cmask[None, :],
                        other=0.0,
                    )
                    acc = tl.dot(d, w, acc, input_precision=PRECISION)
            tl.store(carry[:, None] + (clo + rk)[None, :], acc, mask=m2)
        # the next step's phase 1 reads the carry and rewrites G
        tl.debug_barrier()
        dh_s -= s_dt
        h_s -= s_ht
        d_s -= s_et
