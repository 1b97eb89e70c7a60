"""Streaming band-limited resampling between a host's rate and a model's.

A windowed-sinc polyphase FIR (Kaiser window, 80 dB stop band, the pass band ending about
3.5 kHz below the lower Nyquist frequency at 44.1/48 kHz). Unlike soxr's stream, its state
is a few arrays and two counters, so a plugin's state can be saved and restored exactly, and
each output depends only on its position in the stream, so any split into blocks gives the
same samples bit for bit.

Times are counted on the grid of ``lcm(in_rate, out_rate)``: a host-to-model-to-host round
trip's delay is a whole number of host samples there, and the second stage is advanced by
the remainder so that the plugin's ``latency_samples`` is exact.
"""

from __future__ import annotations

from math import ceil, gcd, isfinite

import numpy as np

from ..errors import ParameterError, ParameterTypeError

STOPBAND_DB = 80.0
ZEROS = 64  # taps per output at the lower rate: sets the transition band
_LAG = 4  # inputs kept beyond the filter length, for outputs computed a little late


def _design(L: int, M: int, in_rate: int, out_rate: int) -> tuple[np.ndarray, int]:
    """Polyphase taps (L, K), oldest input first, and the filter's delay on the fine grid."""
    if L == M == 1:
        return np.ones((1, 1), np.float32), 0
    K = _taps_per_phase(L, M)
    N = L * K
    fine = L * in_rate  # = lcm of the two rates
    width = (STOPBAND_DB - 7.95) * in_rate / (14.36 * K)  # Kaiser's transition-width formula, Hz
    fc = min(in_rate, out_rate) / 2 - width / 2  # the stop band starts at the lower Nyquist
    beta = 0.1102 * (STOPBAND_DB - 8.7)
    i = np.arange(N) - N // 2  # centred on N/2: the delay is a whole number of fine steps
    window = np.i0(beta * np.sqrt(np.clip(1.0 - (i / (N / 2)) ** 2, 0.0, None))) / np.i0(beta)
    h = np.sinc(2.0 * fc * i / fine) * window
    taps = h.reshape(K, L).T  # taps[p, i] = h[p + i*L], applied to input j - i
    taps = taps / taps.sum(axis=1, keepdims=True)  # every phase passes DC at unity gain
    return np.ascontiguousarray(taps[:, ::-1], dtype=np.float32), N // 2


def valid_rate(rate, *, name: str = "sample_rate", lo: int = 22050, hi: int = 192000) -> int:
    """A sample rate in Hz as an int; floats from hosts are accepted when whole."""
    if isinstance(rate, bool) or not isinstance(rate, (int, float, np.integer, np.floating)):
        raise ParameterTypeError(f"{name} must be a whole number of Hz from {lo} to {hi}; got {rate!r}")
    if not isfinite(rate) or float(rate) != int(rate) or not (lo <= rate <= hi):
        raise ParameterError(f"{name} must be a whole number of Hz from {lo} to {hi}; got {rate!r}")
    return int(rate)


class StreamResampler:
    """Resample ``channels`` float32 streams from ``in_rate`` to ``out_rate`` block by block.

    Parameters
    ----------
    in_rate, out_rate : int, Hz
    channels : int
    max_in : int
        Largest block :meth:`process` takes.
    advance : int, keyword-only
        Shift of the output grid on the fine grid (``lcm`` of the rates), >= 0: output ``k``
        represents input time ``(k*M + advance - delay) / lcm``.
    """

    def __init__(self, in_rate: int, out_rate: int, channels: int, max_in: int, *, advance: int = 0):
        g = gcd(in_rate, out_rate)
        self.in_rate, self.out_rate = in_rate, out_rate
        self.L, self.M = out_rate // g, in_rate // g
        self.fine_rate = self.L * in_rate
        self.taps, self.delay = _design(self.L, self.M, in_rate, out_rate)
        self.advance = int(advance)
        self.hist = self.taps.shape[1] - 1 + _LAG
        self.max_in = max_in
        self.buf = np.zeros((channels, self.hist + max_in), np.float32)
        from ..kernels.resample import resample_kernel

        self._kernel = resample_kernel
        self.reset()

    @property
    def identity(self) -> bool:
        return self.L == self.M == 1 and self.advance == 0

    def max_out(self, n_in: int) -> int:
        """Most outputs ``n_in`` new inputs can make ready."""
        return n_in * self.L // self.M + 2

    def ready(self, n_in_total: int) -> int:
        """How many outputs are computable once ``n_in_total`` inputs have arrived."""
        return max(0, (n_in_total * self.L - 1 - self.advance) // self.M + 1)

    def needs(self, n_out_total: int) -> int:
        """How many inputs the first ``n_out_total`` outputs read (the inverse of :meth:`ready`)."""
        return 0 if n_out_total <= 0 else ((n_out_total - 1) * self.M + self.advance) // self.L + 1

    def reset(self) -> None:
        self.buf[...] = 0.0
        self.n_in = 0
        self.n_out = 0

    def process(self, x: np.ndarray, n: int, out: np.ndarray, n_out: int) -> np.ndarray:
        """Push ``x[:, :n]`` and write the next ``n_out`` outputs to ``out[:, :n_out]`` (returned).

        ``x`` and ``out`` are float32 (C, >= n) buffers, passed whole so the kernel's argument
        types never change with the block length.
        """
        if n > self.max_in or self.n_out + n_out > self.ready(self.n_in + n):
            raise ParameterError(
                f"resampler: {n_out} outputs from {n} inputs (at most {self.max_in} inputs, "
                f"{self.ready(self.n_in + n) - self.n_out} outputs ready)"
            )
        if n_out and (self.n_out * self.M + self.advance) // self.L < self.n_in - _LAG:
            raise ParameterError("resampler: outputs fell too far behind their inputs")
        self._kernel(
            x,
            n,
            self.buf,
            self.hist,
            self.taps,
            self.L,
            self.M,
            self.advance,
            self.n_in,
            self.n_out,
            out,
            n_out,
        )
        self.n_in += n
        self.n_out += n_out
        return out[:, :n_out]

    def state_arrays(self, prefix: str) -> dict:
        return {
            prefix + "buf": self.buf[:, : self.hist].copy(),
            prefix + "count": np.array([self.n_in, self.n_out]),
        }

    def load_state_arrays(self, arrays: dict, prefix: str) -> None:
        self.buf[:, : self.hist] = arrays[prefix + "buf"]
        self.n_in, self.n_out = (int(v) for v in arrays[prefix + "count"])


def host_to_model(host_rate: int, model_rate: int, channels: int, max_block: int):
    """A round trip host -> model -> host: ``(into, back, latency)`` with the latency in host
    samples, exact: host output ``k`` lines up with host input ``k - latency``.

    ``back`` makes as many outputs as it is given host frames, never more, and never waits for
    input that has not arrived (its newest input lies at or before the newest host frame).
    """
    into = StreamResampler(host_rate, model_rate, channels, max_block)
    period = into.fine_rate // host_rate
    back_delay = _design_delay(model_rate, host_rate)
    total = into.delay + back_delay
    back = StreamResampler(model_rate, host_rate, channels, into.max_out(max_block), advance=total % period)
    return into, back, (total - back.advance) // period


def clock_start(into: StreamResampler, periods) -> int:
    """The clock value a per-sample model starts at behind the host-to-model resampler ``into``.

    The input filter's delay puts the piece's first sample ``d`` model steps into the stream; the
    clock starts ``d`` steps early so that sample still meets t = 0 (mod every period), as at the
    model's own rate. Measured on the bundled effect: the 44.1 kHz output's error against its
    48 kHz output resampled drops from 5% to 0.9% RMS (tests/plugin/test_rates.py).
    """
    from math import lcm

    span = lcm(*(int(p) for p in periods))
    return -round(into.delay / into.M) % span if span < 2**62 else 0  # an int64 clock


def model_to_host(model_rate: int, host_rate: int, channels: int, max_model_block: int):
    """``(back, latency)``: model samples to host frames; host frame ``k`` sounds model time
    ``k - latency`` (in host frames), exactly: the output grid is advanced by the remainder."""
    period = model_rate // gcd(host_rate, model_rate)  # one host frame on the lcm grid
    delay = _design_delay(model_rate, host_rate)
    back = StreamResampler(model_rate, host_rate, channels, max_model_block, advance=delay % period)
    return back, (delay - back.advance) // period


def _taps_per_phase(L: int, M: int) -> int:
    return 2 * ceil(ZEROS / 2 * max(L, M) / L)


def _design_delay(in_rate: int, out_rate: int) -> int:
    g = gcd(in_rate, out_rate)
    L, M = out_rate // g, in_rate // g
    return 0 if L == M == 1 else L * _taps_per_phase(L, M) // 2
