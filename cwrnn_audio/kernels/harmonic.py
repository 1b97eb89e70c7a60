"""Numba harmonic-plus-noise synthesizer: the streaming twin of ``cwrnn_audio.ddsp.synth``.

Same conventions as the torch reference (see ``cwrnn_audio/ddsp/__init__.py``): frames of ``hop``
samples; sample ``j`` of frame ``i`` interpolates linearly from frame ``i - 1`` to frame ``i`` with
weight ``(j + 1) / hop`` (the first frame ever from itself); harmonics at or above Nyquist are
removed frame by frame and the rest renormalized to sum 1; the phase is a float64 running sum of
``2 pi f / sample_rate``, wrapped to ``[0, 2 pi)``; the noise is white noise filtered frame by frame
by a zero-phase FIR (``L = 2 (K - 1)`` taps, Hann windowed, delayed ``K - 1`` samples) and
overlap-added, the last ``L - 1`` samples of each frame's convolution carried into the next ones.

Everything a voice needs between calls lives in :class:`HarmonicState` arrays, so any split of a
sequence into blocks gives the same samples (bit for bit: nothing depends on the block boundaries).
The sines come from the Chebyshev recurrence ``sin(k x) = 2 cos(x) sin((k - 1) x) - sin((k - 2) x)``
in float64: one ``sin`` and one ``cos`` per sample instead of ``N``. Nothing is allocated in the
kernel; it releases the GIL.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from ..checks import valid_out
from ..errors import ParameterError, ParameterTypeError

TWO_PI = 2.0 * math.pi


def padded(n_harmonics: int) -> int:
    """The weight arrays' length: ``n_harmonics`` rounded up to a multiple of 4 (the kernel's four chains)."""
    return (n_harmonics + 3) // 4 * 4


def noise_matrix(K: int) -> np.ndarray:
    """``(K, K)`` float64 ``M`` with ``ir[n] = M[n] @ H`` for ``n < K``: torch's ``irfft(H, n=L)`` of a real
    spectrum ``H`` of ``K`` bins (``ir[L - n] = ir[n]`` gives the rest)."""
    L = 2 * (K - 1)
    n = np.arange(K)[:, None]
    k = np.arange(K)[None, :]
    weight = np.full(K, 2.0)
    weight[0] = 1.0
    weight[K - 1] = 1.0
    # (k n) mod L keeps the angle small, so the cosines are as exact as float64 allows
    return weight[None, :] * np.cos(2.0 * np.pi * ((k * n) % L) / L) / L


def hann_symmetric(L: int) -> np.ndarray:
    """torch.hann_window(L, periodic=False) in float64."""
    if L == 1:
        return np.ones(1)
    return 0.5 - 0.5 * np.cos(2.0 * np.pi * np.arange(L) / (L - 1))


@njit(inline="always")
def _weights(f0, harmonics, half_rate, c):
    """Frame weights into ``c`` (float32): harmonics at or above Nyquist dropped, the rest summing to 1
    (all 0 when none is left); returns how many leading entries may be nonzero."""
    N = harmonics.shape[0]
    total = np.float32(0.0)
    last = 0
    for k in range(N):
        # float32 product against float32 Nyquist, as torch compares a float32 f0
        if f0 * np.float32(k + 1) < half_rate:
            c[k] = harmonics[k]
            total += harmonics[k]
            last = k + 1
        else:
            c[k] = np.float32(0.0)
    total = max(total, np.float32(1e-12))
    for k in range(N):
        c[k] = c[k] / total
    return last


@njit(inline="always")
def _noise_taps(H, M, window, ir, taps):
    """``taps`` (``L``) from the ``K`` magnitudes ``H``: irfft, rolled by ``K - 1``, times the window."""
    K = H.shape[0]
    for n in range(K):
        acc = 0.0
        for k in range(K):
            acc += M[n, k] * H[k]
        ir[n] = acc
    # rolled by K - 1: taps[m] = ir[(m - K + 1) mod L] = ir[|m - K + 1|] (ir is even)
    L = taps.shape[0]
    for m in range(L):
        taps[m] = ir[abs(m - (K - 1))] * window[m]


@njit(nogil=True, cache=True)
def synth_frames(
    phase,
    prev_f0,
    prev_amp,
    prev_c,
    prev_n,
    started,
    tail,
    M,
    window,
    c,
    cb,
    cd,
    ir,
    taps,
    acc,
    f0,
    amplitude,
    harmonics,
    noise,
    u,
    out,
    sample_rate,
    hop,
):
    """Synthesize ``T`` frames of ``V`` voices into ``out`` ``(V, T * hop)`` float32, advancing the state.

    State, per voice (updated in place): ``phase`` float64 ``(V,)`` radians in [0, 2 pi);
    ``prev_f0`` float32 ``(V,)``, ``prev_amp`` float32 ``(V,)``, ``prev_c`` float32 ``(V, P)`` (normalized
    weights, zero-padded to ``P = padded(N)``) and ``prev_n`` int64 ``(V,)`` (how many of them may be
    nonzero): the last frame seen; ``started`` uint8 ``(V,)`` (0: no frame seen yet, the first frame
    starts from itself); ``tail`` float64 ``(V, L - 1)``: noise spilling into the coming samples.
    Constants: ``M`` float64 ``(K, K)`` (:func:`noise_matrix`), ``window`` float64 ``(L,)`` (Hann).
    Work buffers: ``c`` float32 ``(P,)`` (zeros past ``N``), ``cb`` and ``cd`` float64 ``(P,)``,
    ``ir`` float64 ``(K,)``, ``taps`` float64 ``(L,)``, ``acc`` float64 ``(hop + L - 1,)``.
    Inputs: ``f0``, ``amplitude`` float32 ``(V, T)``; ``harmonics`` float32 ``(V, T, N)``; ``noise``
    float32 ``(V, T, K)``; ``u`` float32 ``(V, T * hop)``.
    """
    V, T = f0.shape
    L = taps.shape[0]
    inv_rate = 1.0 / sample_rate
    half_rate = np.float32(sample_rate / 2.0)
    fhop = np.float32(hop)
    for v in range(V):
        ph = phase[v]
        cp = prev_c[v]
        for t in range(T):
            f_now = f0[v, t]
            a_now = amplitude[v, t]
            n_now = _weights(f_now, harmonics[v, t], half_rate, c)
            if not started[v]:
                prev_f0[v] = f_now
                prev_amp[v] = a_now
                for k in range(c.shape[0]):
                    cp[k] = c[k]
                prev_n[v] = n_now
                started[v] = 1
            f_before = np.float64(prev_f0[v])
            df = np.float64(f_now) - f_before
            a_before = prev_amp[v]
            da = a_now - a_before
            nk = max(n_now, prev_n[v])
            nk = (nk + 3) // 4 * 4  # whole groups of four: the padding weights are 0
            for k in range(nk):
                cb[k] = np.float64(cp[k])
                cd[k] = np.float64(c[k]) - cb[k]

            # noise: this frame's FIR over this frame's white noise, added to what earlier frames left
            _noise_taps(noise[v, t], M, window, ir, taps)
            for i in range(L - 1):
                acc[i] = tail[v, i]
            for i in range(L - 1, acc.shape[0]):
                acc[i] = 0.0
            base = t * hop
            for i in range(hop):
                ui = np.float64(u[v, base + i])
                for m in range(L):
                    acc[i + m] += ui * taps[m]

            for j in range(hop):
                w64 = (j + 1.0) / hop
                w = np.float32(j + 1) / fhop  # torch: arange(1, hop + 1, float32) / hop
                f = f_before + df * w64
                ph += TWO_PI * (f * inv_rate)
                if ph >= TWO_PI or ph < 0.0:
                    ph -= TWO_PI * math.floor(ph / TWO_PI)
                    if ph >= TWO_PI:  # rounding just below a multiple of 2 pi
                        ph = 0.0
                a = a_before + da * w
                # sum_k (cp_k + (c_k - cp_k) w) sin(k x): two dot products over four interleaved
                # recurrences sin((k + 4) x) = 2 cos(4 x) sin(k x) - sin((k - 4) x), independent of each
                # other so that their latencies overlap
                s1 = math.sin(ph)
                c1 = math.cos(ph)
                s2 = 2.0 * s1 * c1
                c2 = c1 * c1 - s1 * s1
                s3 = s2 * c1 + c2 * s1
                s4 = 2.0 * s2 * c2
                two_cos4 = 2.0 * (2.0 * c2 * c2 - 1.0)
                p1, q1 = -s3, s1  # (sin((k - 4) x), sin(k x)) of chain k = 1, 5, 9...
                p2, q2 = -s2, s2
                p3, q3 = -s1, s3
                p4, q4 = 0.0, s4
                b1 = b2 = b3 = b4 = 0.0
                e1 = e2 = e3 = e4 = 0.0
                for k in range(0, nk, 4):
                    b1 += cb[k] * q1
                    e1 += cd[k] * q1
                    b2 += cb[k + 1] * q2
                    e2 += cd[k + 1] * q2
                    b3 += cb[k + 2] * q3
                    e3 += cd[k + 2] * q3
                    b4 += cb[k + 3] * q4
                    e4 += cd[k + 3] * q4
                    p1, q1 = q1, two_cos4 * q1 - p1
                    p2, q2 = q2, two_cos4 * q2 - p2
                    p3, q3 = q3, two_cos4 * q3 - p3
                    p4, q4 = q4, two_cos4 * q4 - p4
                sum_before = (b1 + b2) + (b3 + b4)
                sum_delta = (e1 + e2) + (e3 + e4)
                harm = np.float64(a) * (sum_before + np.float64(w) * sum_delta)
                out[v, base + j] = np.float32(harm + acc[j])

            for i in range(L - 1):
                tail[v, i] = acc[hop + i]
            prev_f0[v] = f_now
            prev_amp[v] = a_now
            for k in range(c.shape[0]):
                cp[k] = c[k]
            prev_n[v] = n_now
        phase[v] = ph


def _check_int(name, value, lo):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise ParameterTypeError(f"{name} must be an integer >= {lo}; got {value!r}")
    if value < lo:
        raise ParameterError(f"{name} must be an integer >= {lo}; got {value!r}")
    return int(value)


class HarmonicState:
    """The per-voice state of :func:`synth_frames` (see its docstring for the arrays)."""

    def __init__(self, voices: int, n_harmonics: int, n_noise: int):
        L = 2 * (n_noise - 1)
        self.phase = np.zeros(voices, np.float64)
        self.prev_f0 = np.zeros(voices, np.float32)
        self.prev_amp = np.zeros(voices, np.float32)
        self.prev_c = np.zeros((voices, padded(n_harmonics)), np.float32)
        self.prev_n = np.zeros(voices, np.int64)
        self.started = np.zeros(voices, np.uint8)
        self.tail = np.zeros((voices, L - 1), np.float64)

    def reset(self, voice: int | None = None) -> None:
        """Back to silence: all voices, or only ``voice``."""
        sel = slice(None) if voice is None else voice
        for a in (self.phase, self.prev_f0, self.prev_amp, self.prev_c, self.prev_n, self.started, self.tail):
            a[sel] = 0


class HarmonicSynth:
    """Streaming harmonic-plus-noise synthesis of ``voices`` independent voices.

    ``process(f0, amplitude, harmonics, noise, u)`` takes ``T`` frames (any ``T``, including 0) and
    returns ``(voices, T * hop)`` float32 audio; consecutive calls continue the same sounds, so the
    result does not depend on how a sequence is cut into blocks. Arrays: ``f0`` (Hz) and ``amplitude``
    ``(voices, T)``, ``harmonics`` ``(voices, T, n_harmonics)``, ``noise`` ``(voices, T, n_noise)``
    magnitudes from 0 Hz to Nyquist, ``u`` ``(voices, T * hop)`` white noise (float32 or float64 numpy
    arrays; computed in float32 like the torch reference).
    """

    def __init__(self, sample_rate: int, hop: int, n_harmonics: int, n_noise: int, voices: int = 1):
        self.sample_rate = _check_int("sample_rate", sample_rate, 1)
        self.hop = _check_int("hop", hop, 1)
        self.n_harmonics = _check_int("n_harmonics", n_harmonics, 1)
        self.n_noise = _check_int("n_noise", n_noise, 2)
        self.voices = _check_int("voices", voices, 1)
        K = self.n_noise
        L = 2 * (K - 1)
        self.state = HarmonicState(self.voices, self.n_harmonics, K)
        self._M = noise_matrix(K)
        self._window = hann_symmetric(L)
        P = padded(self.n_harmonics)
        self._c = np.zeros(P, np.float32)  # past n_harmonics: never written, stays 0
        self._cb = np.zeros(P, np.float64)
        self._cd = np.zeros(P, np.float64)
        self._ir = np.zeros(K, np.float64)
        self._taps = np.zeros(L, np.float64)
        self._acc = np.zeros(self.hop + L - 1, np.float64)

    def reset(self, voice: int | None = None) -> None:
        """Silence all voices (or one): phase 0, no previous frame, no noise tail."""
        if voice is not None:
            voice = _check_int("voice", voice, 0)
            if voice >= self.voices:
                raise ParameterError(f"voice must be below {self.voices}; got {voice}")
        self.state.reset(voice)

    def _array(self, name, x, shape):
        if not isinstance(x, np.ndarray):
            raise ParameterTypeError(f"{name} must be a numpy array of shape {shape}; got {type(x).__name__}")
        if x.dtype not in (np.float32, np.float64):
            raise ParameterTypeError(f"{name} must be float32 or float64; got dtype {x.dtype}")
        if x.shape != shape:
            raise ParameterError(f"{name} must have shape {shape}; got {x.shape}")
        x = np.ascontiguousarray(x, dtype=np.float32)
        if not np.isfinite(x).all():
            raise ParameterError(f"{name} must be finite (in float32); got NaN or inf")
        return x

    def process(self, f0, amplitude, harmonics, noise, u, out=None) -> np.ndarray:
        """``T`` more frames -> audio ``(voices, T * hop)`` float32 (into ``out`` if given)."""
        V = self.voices
        if not isinstance(f0, np.ndarray):
            raise ParameterTypeError(
                f"f0 must be a numpy array of shape ({V}, frames); got {type(f0).__name__}"
            )
        if f0.ndim != 2 or f0.shape[0] != V:
            raise ParameterError(f"f0 must have shape ({V}, frames); got {f0.shape}")
        T = f0.shape[1]
        f0 = self._array("f0", f0, (V, T))
        amplitude = self._array("amplitude", amplitude, (V, T))
        harmonics = self._array("harmonics", harmonics, (V, T, self.n_harmonics))
        noise = self._array("noise", noise, (V, T, self.n_noise))
        u = self._array("u", u, (V, T * self.hop))
        out = valid_out(out, (V, T * self.hop))
        s = self.state
        synth_frames(
            s.phase,
            s.prev_f0,
            s.prev_amp,
            s.prev_c,
            s.prev_n,
            s.started,
            s.tail,
            self._M,
            self._window,
            self._c,
            self._cb,
            self._cd,
            self._ir,
            self._taps,
            self._acc,
            f0,
            amplitude,
            harmonics,
            noise,
            u,
            out,
            float(self.sample_rate),
            self.hop,
        )
        return out


__all__ = ["HarmonicState", "HarmonicSynth", "hann_symmetric", "noise_matrix", "padded", "synth_frames"]
