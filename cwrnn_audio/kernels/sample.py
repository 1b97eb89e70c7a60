"""Numba autoregressive sampling: each output feeds the next step's input.

Random numbers arrive pre-drawn (one uniform or normal per voice and step),
so a seed fixes the result on either engine and nothing is allocated here.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from .forward import ACT_LINEAR, FASTMATH, init_phase, read_out, step_state


@njit(inline="always")
def _kth_largest(values, k, buf):
    """The k-th largest of ``values`` (quickselect on a copy in ``buf``: O(K), no allocation)."""
    K = values.shape[0]
    for i in range(K):
        buf[i] = values[i]
    want = K - k  # its index in ascending order
    lo, hi = 0, K - 1
    while lo < hi:
        pivot = buf[(lo + hi) // 2]
        i, j = lo, hi
        while i <= j:
            while buf[i] < pivot:
                i += 1
            while buf[j] > pivot:
                j -= 1
            if i <= j:
                buf[i], buf[j] = buf[j], buf[i]
                i += 1
                j -= 1
        if want <= j:
            hi = j
        elif want >= i:
            lo = i
        else:
            break
    return buf[want]


@njit(inline="always")
def _pick(logits, probs, inv_temp, top_k, u):
    """Draw a class from softmax(logits / T), limited to the top_k largest (0: all).

    Ties at the k-th value are all kept, as torch's top-k mask by value does.
    """
    K = logits.shape[0]
    threshold = -np.inf
    if 0 < top_k < K:
        threshold = _kth_largest(logits, top_k, probs)
    m = -np.inf
    for i in range(K):
        if logits[i] > m:
            m = logits[i]
    total = 0.0
    for i in range(K):
        p = np.exp((logits[i] - m) * inv_temp) if logits[i] >= threshold else 0.0
        probs[i] = p
        total += p
    target = u * total
    acc = 0.0
    for i in range(K):
        acc += probs[i]
        if acc > target and probs[i] > 0.0:
            return i
    for i in range(K - 1, -1, -1):  # u*total rounded past the sum: take the last possible class
        if probs[i] > 0.0:
            return i
    return 0


@njit(inline="always", fastmath=FASTMATH)
def _sample_step(
    xs,
    hv,
    Sv,
    okv,
    phase,
    WH,
    WI,
    bH,
    WO,
    bO,
    offsets,
    periods,
    class_values,
    inv_temp,
    top_k,
    u,
    scratch,
    logits,
    probs,
):
    """One autoregressive step of one voice: advance, read the logits, draw a class, feed it back."""
    step_state(xs, hv, Sv, okv, phase, WH, WI, bH, offsets, periods, scratch)
    read_out(hv, WO, bO, ACT_LINEAR, logits)
    c = _pick(logits, probs, inv_temp, top_k, u)
    for j in range(xs.shape[0] - 1, 0, -1):  # the inputs are the last classes, newest first
        xs[j] = xs[j - 1]
    xs[0] = class_values[c]
    return c


@njit(cache=True)
def pick_class(logits, inv_temp, top_k, u):
    """The kernels' draw from softmax(logits / T) (top_k > 0 keeps the k largest), for Python loops."""
    return _pick(logits, np.empty_like(logits), inv_temp, top_k, u)


@njit(nogil=True, cache=True, fastmath=FASTMATH, error_model="numpy")
def sample_categorical_kernel(
    h,
    t,
    S,
    S_ok,
    x_last,
    WH,
    WI,
    bH,
    WO,
    bO,
    offsets,
    periods,
    class_values,
    uniforms,
    inv_temp,
    top_k,
    out,
    scratch,
    phase,
    logits,
    probs,
):
    """Sample ``N`` classes for each of ``V`` voices; the input is the last class's value.

    h (V, n), t (V,), S (V, n), S_ok (V, g) state as in forward_kernel;
    x_last (V, I) the input for the first step (the last I classes' values,
    newest first), updated; class_values (K,)
    input value of each class; uniforms (V, N) in [0, 1); out (V, N) int64.
    """
    V, N = uniforms.shape
    for v in range(V):
        init_phase(phase, t[v], periods)
        xs = x_last[v]
        for s in range(N):
            out[v, s] = _sample_step(
                xs,
                h[v],
                S[v],
                S_ok[v],
                phase,
                WH,
                WI,
                bH,
                WO,
                bO,
                offsets,
                periods,
                class_values,
                inv_temp,
                top_k,
                uniforms[v, s],
                scratch,
                logits,
                probs,
            )
        t[v] += N


@njit(nogil=True, cache=True, fastmath=FASTMATH, error_model="numpy")
def sample_voices_kernel(
    h,
    t,
    S,
    S_ok,
    x_last,
    active,
    WH,
    WI,
    bH,
    WO,
    bO,
    offsets,
    periods,
    class_values,
    audio_values,
    uniforms,
    inv_temp,
    top_k,
    n_steps,
    out,
    scratch,
    phase,
    logits,
    probs,
):
    """A polyphonic instrument's voices in one call: :func:`sample_categorical_kernel` for the
    ``active`` voices only, ``n_steps`` each, writing ``audio_values[class]`` to ``out[v, :n_steps]``.

    A deliberate twin of that kernel's loop (both inline the one ``_sample_step``): skipping idle
    voices and writing audio values in the same pass keeps the instrument to one call per block.
    """
    V = h.shape[0]
    for v in range(V):
        if active[v] == 0:
            continue
        init_phase(phase, t[v], periods)
        xs = x_last[v]
        for s in range(n_steps):
            c = _sample_step(
                xs,
                h[v],
                S[v],
                S_ok[v],
                phase,
                WH,
                WI,
                bH,
                WO,
                bO,
                offsets,
                periods,
                class_values,
                inv_temp,
                top_k,
                uniforms[v, s],
                scratch,
                logits,
                probs,
            )
            out[v, s] = audio_values[c]
        t[v] += n_steps


@njit(nogil=True, cache=True)
def mix_voices_kernel(gen, active, env, env_step, gain, n_steps, out):
    """Add ``n_steps`` samples of every active voice's ``gen`` (V, >= n_steps) to ``out``.

    ``env`` (V,) moves by ``env_step`` per sample; a voice whose envelope reaches 0 stops.
    """
    for v in range(gen.shape[0]):
        if active[v] == 0:
            continue
        for j in range(n_steps):
            out[j] += gain[v] * env[v] * gen[v, j]
            env[v] = min(1.0, env[v] + env_step[v])
            if env[v] <= 0.0:
                env[v] = 0.0
                active[v] = 0
                break


@njit(nogil=True, cache=True, fastmath=FASTMATH, error_model="numpy")
def sample_regression_kernel(
    h, t, S, S_ok, x_last, WH, WI, bH, WO, bO, offsets, periods, act, noise, lo, hi, out, scratch, phase
):
    """Free-run ``N`` steps with output fed back as input (I == O), plus ``noise``.

    x_last (V, I) the first input, updated; noise (V, N, O) added to each
    output before it is clipped to [lo, hi], written to out (V, N, O) and fed back.
    """
    V, N, O = noise.shape
    for v in range(V):
        init_phase(phase, t[v], periods)
        xs = x_last[v]
        for s in range(N):
            step_state(xs, h[v], S[v], S_ok[v], phase, WH, WI, bH, offsets, periods, scratch)
            y = out[v, s]
            read_out(h[v], WO, bO, act, y)
            for o in range(O):
                y[o] = min(max(y[o] + noise[v, s, o], lo), hi)
                xs[o] = y[o]
        t[v] += N
