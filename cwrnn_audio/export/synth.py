"""The streaming harmonic-plus-noise synthesizer in TorchScript: what an exported instrument plays.

A port of :func:`cwrnn_audio.kernels.harmonic.synth_frames` (its docstring holds the conventions and
the state) that runs in libtorch hosts (nn~, the project's C++ host) and gives the same samples as the
Numba kernel to ~1e-7 (rounding only: sums run in another order). A per-sample loop costs microseconds
a step in the TorchScript interpreter, so a call is a handful of tensor ops over all its frames:

- the phase is two float64 cumulative sums: of each frame's increments (small values, so little
  rounding), and of the frames' totals reduced mod 2 pi (so that the running sum stays small too);
- ``sin(k x)`` for all ``k`` by angle doubling (``log2 N`` steps of products, error ``~log2 N`` ulps,
  several times cheaper than ``N`` sines a sample), then the weighted sums as one batched matrix product;
- the noise FIR of every frame convolves its frame's white noise through an FFT and the frames are
  overlap-added with the tail that earlier frames (and calls) left.

No ``from __future__ import annotations`` here: TorchScript cannot resolve string annotations.
"""

import math
from typing import List

import torch
from torch import Tensor
from torch.nn import functional as F

from ..errors import ParameterError, ParameterTypeError
from ..kernels.harmonic import hann_symmetric, noise_matrix


def _fft_size(n: int) -> int:
    size = 1
    while size < n:
        size *= 2
    return size


def sines(x: Tensor, n: int) -> Tensor:
    """``sin(k x)`` for ``k = 1 .. n`` along a new first axis, by doubling: from the sines and cosines
    of ``1 .. m`` the angle-sum formula gives those of ``m + 1 .. 2 m``. Written in place into one
    buffer (harmonic-major, so that each step's operands are contiguous): fresh tensors a step cost
    more in copies and page faults than the arithmetic."""
    buf = torch.empty([2, n] + list(x.shape), dtype=x.dtype)
    s = buf[0]
    c = buf[1]
    torch.sin(x, out=s[0])
    torch.cos(x, out=c[0])
    have = 1
    while have < n:
        m = min(have, n - have)
        sk = s[have - 1]
        ck = c[have - 1]
        torch.mul(s[:m], ck, out=s[have : have + m])
        s[have : have + m].addcmul_(c[:m], sk)
        torch.mul(c[:m], ck, out=c[have : have + m])
        c[have : have + m].addcmul_(s[:m], sk, value=-1.0)
        have += m
    return s


class TorchSynth(torch.nn.Module):
    """Streaming harmonic-plus-noise synthesis of a batch of voices, scriptable.

    ``process(f0, amplitude, harmonics, noise, u)`` takes ``T`` frames (any ``T``, including 0) of
    ``V`` voices (``reset_voices(V)``; 1 after construction) and returns ``(V, T * hop)`` float32 audio,
    continuing the sounds of earlier calls exactly as :class:`~cwrnn_audio.kernels.harmonic.HarmonicSynth`
    does. Inputs (float32; other float dtypes are converted): ``f0`` (Hz) and ``amplitude`` ``(V, T)``,
    ``harmonics`` ``(V, T, n_harmonics)``, ``noise`` ``(V, T, n_noise)`` magnitudes from 0 Hz to Nyquist,
    ``u`` ``(V, T * hop)`` white noise. The state is held in buffers, so a saved module keeps it.
    """

    def __init__(self, sample_rate: int, hop: int, n_harmonics: int, n_noise: int):
        super().__init__()
        for name, value, lo in (
            ("sample_rate", sample_rate, 1),
            ("hop", hop, 1),
            ("n_harmonics", n_harmonics, 1),
            ("n_noise", n_noise, 2),
        ):
            if isinstance(value, bool) or not isinstance(value, int):
                raise ParameterTypeError(f"{name} must be an integer >= {lo}; got {value!r}")
            if value < lo:
                raise ParameterError(f"{name} must be an integer >= {lo}; got {value!r}")
        self.sample_rate = sample_rate
        self.hop = hop
        self.n_harmonics = n_harmonics
        self.n_noise = n_noise
        K = n_noise
        L = 2 * (K - 1)
        self.taps_len = L
        self.fft_size = _fft_size(hop + L - 1)
        # hop-long pieces that one frame's convolution (hop + L - 1 samples) spans
        self.pieces = (hop + L - 1 + hop - 1) // hop
        self.register_buffer("noise_matrix", torch.from_numpy(noise_matrix(K)))
        self.register_buffer("window", torch.from_numpy(hann_symmetric(L)))
        # rolled by K - 1: tap m is ir[|m - K + 1|] (the impulse response is even)
        self.register_buffer("tap_index", (torch.arange(L) - (K - 1)).abs())
        self.register_buffer("harmonic_numbers", torch.arange(1, n_harmonics + 1, dtype=torch.float32))
        self.register_buffer("w32", torch.arange(1, hop + 1, dtype=torch.float32) / torch.tensor(float(hop)))
        self.register_buffer("w64", torch.arange(1, hop + 1, dtype=torch.float64) / float(hop))
        self.register_buffer("phase", torch.zeros(1, dtype=torch.float64))
        self.register_buffer("prev_f0", torch.zeros(1))
        self.register_buffer("prev_amp", torch.zeros(1))
        self.register_buffer("prev_c", torch.zeros(1, n_harmonics))
        self.register_buffer("started", torch.zeros(1, dtype=torch.bool))
        self.register_buffer("tail", torch.zeros(1, L - 1, dtype=torch.float64))
        self.reset_voices(1)

    @torch.jit.export
    def reset_voices(self, voices: int) -> None:
        """Fresh state (silence, no previous frame) for ``voices`` voices."""
        if voices < 1:
            raise ValueError("voices must be an integer >= 1; got " + str(voices))
        self.phase = torch.zeros(voices, dtype=torch.float64)
        self.prev_f0 = torch.zeros(voices)
        self.prev_amp = torch.zeros(voices)
        self.prev_c = torch.zeros(voices, self.n_harmonics)
        self.started = torch.zeros(voices, dtype=torch.bool)
        self.tail = torch.zeros(voices, self.taps_len - 1, dtype=torch.float64)

    @torch.jit.export
    def state(self) -> List[Tensor]:
        """The state, for :meth:`set_state` (the tensors themselves: a call replaces them, never
        writes into them, so holding them is a snapshot)."""
        return [self.phase, self.prev_f0, self.prev_amp, self.prev_c, self.started, self.tail]

    @torch.jit.export
    def set_state(self, state: List[Tensor]) -> None:
        """Back to a :meth:`state` taken earlier."""
        self.phase, self.prev_f0, self.prev_amp, self.prev_c, self.started, self.tail = (
            state[0],
            state[1],
            state[2],
            state[3],
            state[4],
            state[5],
        )

    @torch.jit.export
    def voices(self) -> int:
        """How many voices the state holds."""
        return self.phase.shape[0]

    def _input(self, name: str, x: Tensor, shape: List[int]) -> Tensor:
        if list(x.shape) != shape:
            raise ValueError(name + " must have shape " + str(shape) + "; got " + str(list(x.shape)))
        return x.to(torch.float32)

    def _weights(self, f0: Tensor, harmonics: Tensor) -> Tensor:
        """Harmonics below Nyquist (float32 product against float32 Nyquist), renormalised to sum 1."""
        half_rate = torch.tensor(self.sample_rate / 2.0, dtype=torch.float32)
        below = f0.unsqueeze(-1) * self.harmonic_numbers < half_rate
        c = torch.where(below, harmonics, torch.zeros_like(harmonics))
        total = c.sum(-1, keepdim=True).clamp_min(1e-12)
        return c / total

    def _phases(self, f_before: Tensor, f_now: Tensor) -> Tensor:
        """Wrapped phases ``(V, T, hop)`` after each sample; advances ``self.phase``."""
        two_pi = 2.0 * math.pi
        f_before = f_before.to(torch.float64).unsqueeze(-1)
        df = f_now.to(torch.float64).unsqueeze(-1) - f_before
        f = f_before + df * self.w64
        inc = two_pi * (f * (1.0 / self.sample_rate))
        within = torch.cumsum(inc, -1)
        # the frames' starts from their totals mod 2 pi: the running sum stays below T * 2 pi
        totals = torch.remainder(within[:, :, -1], two_pi)
        before = torch.cumsum(totals, -1)
        starts = torch.cat([torch.zeros_like(before[:, :1]), before[:, :-1]], 1)
        starts = torch.remainder(self.phase.unsqueeze(1) + starts, two_pi)
        ph = torch.remainder(starts.unsqueeze(-1) + within, two_pi)
        # a value just below a multiple of 2 pi can round up to 2 pi itself
        ph = torch.where(ph >= two_pi, torch.zeros_like(ph), ph)
        self.phase = ph[:, -1, -1].clone()
        return ph

    def _noise(self, noise: Tensor, u: Tensor) -> Tensor:
        """Filtered noise ``(V, T * hop)`` float64; advances ``self.tail``."""
        V, T, _ = noise.shape
        hop = self.hop
        L = self.taps_len
        ir = torch.matmul(noise.to(torch.float64), self.noise_matrix.t())
        taps = ir.index_select(-1, self.tap_index) * self.window
        frames = u.to(torch.float64).reshape(V, T, hop)
        n = self.fft_size
        spectrum = torch.fft.rfft(frames, n=n) * torch.fft.rfft(taps, n=n)
        conv = torch.fft.irfft(spectrum, n=n)
        P = self.pieces
        span = P * hop
        # the FFT's length past hop + L - 1 holds zeros (no wrap-around): cut or pad it to P pieces
        conv = F.pad(conv, (0, max(0, span - n)))[..., :span].reshape(V, T, P, hop)
        out = torch.zeros(V, T + P, hop, dtype=torch.float64)
        for p in range(P):
            out[:, p : p + T] += conv[:, :, p]
        out = out.reshape(V, (T + P) * hop)
        out[:, : L - 1] += self.tail
        self.tail = out[:, T * hop : T * hop + L - 1].clone()
        return out[:, : T * hop]

    def forward(self, f0: Tensor, amplitude: Tensor, harmonics: Tensor, noise: Tensor, u: Tensor) -> Tensor:
        return self.process(f0, amplitude, harmonics, noise, u)

    @torch.jit.export
    def process(self, f0: Tensor, amplitude: Tensor, harmonics: Tensor, noise: Tensor, u: Tensor) -> Tensor:
        """``T`` more frames -> audio ``(V, T * hop)`` float32, advancing the state."""
        V = self.phase.shape[0]
        if f0.dim() != 2 or f0.shape[0] != V:
            raise ValueError("f0 must have shape [" + str(V) + ", frames]; got " + str(list(f0.shape)))
        T = f0.shape[1]
        f0 = self._input("f0", f0, [V, T])
        amplitude = self._input("amplitude", amplitude, [V, T])
        harmonics = self._input("harmonics", harmonics, [V, T, self.n_harmonics])
        noise = self._input("noise", noise, [V, T, self.n_noise])
        u = self._input("u", u, [V, T * self.hop])
        if T == 0:
            return torch.zeros(V, 0)

        c = self._weights(f0, harmonics)
        # the first frame ever starts from itself
        started = self.started.unsqueeze(1)
        f_first = torch.where(started, self.prev_f0.unsqueeze(1), f0[:, :1])
        a_first = torch.where(started, self.prev_amp.unsqueeze(1), amplitude[:, :1])
        c_first = torch.where(started.unsqueeze(2), self.prev_c.unsqueeze(1), c[:, :1])
        f_before = torch.cat([f_first, f0[:, :-1]], 1)
        a_before = torch.cat([a_first, amplitude[:, :-1]], 1)
        c_before = torch.cat([c_first, c[:, :-1]], 1)

        ph = self._phases(f_before, f0)
        a = a_before.unsqueeze(-1) + (amplitude - a_before).unsqueeze(-1) * self.w32
        cb = c_before.to(torch.float64)
        cd = c.to(torch.float64) - cb
        s = sines(ph.reshape(V * T, self.hop), self.n_harmonics)
        weights = torch.stack([cb, cd], 2).reshape(V * T, 2, self.n_harmonics)
        sums = torch.bmm(weights, s.permute(1, 0, 2)).reshape(V, T, 2, self.hop)
        w = self.w32.to(torch.float64)
        harm = a.to(torch.float64) * (sums[:, :, 0] + w * sums[:, :, 1])

        out = harm.reshape(V, T * self.hop) + self._noise(noise, u)
        self.prev_f0 = f0[:, -1].clone()
        self.prev_amp = amplitude[:, -1].clone()
        self.prev_c = c[:, -1].clone()
        self.started = torch.ones(V, dtype=torch.bool)
        return out.to(torch.float32)


__all__ = ["TorchSynth", "sines"]
