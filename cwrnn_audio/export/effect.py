"""The effect plugin (``plugins/effect.py``) as a TorchScript module for nn~ and libtorch hosts.

It does what the Python plugin does, block for block: at a host rate other than the model's, the
same band-limited round trip host -> model -> host (:mod:`.resample`), the clock started so the
first sample meets t = 0, the dry signal delayed by the round trip's latency, then ``mix`` and
``output_gain_db``. Each batch entry is one voice with its own state (nn~ runs one per channel);
a call with another batch size starts fresh voices.
"""

from typing import Dict, List

import torch

from .network import StreamedNetwork
from .protocol import HOST_RATES, NnTilde
from .resample import push, ready


class ExportedEffect(NnTilde):
    rates: List[int]
    taps_in: Dict[int, torch.Tensor]
    taps_back: Dict[int, torch.Tensor]
    grids: Dict[int, List[int]]  # L, M, advance, hist of the way in, then of the way back
    latencies: Dict[int, int]
    clock_starts: Dict[int, int]
    attributes: List[str]
    ranges: Dict[str, List[float]]

    def __init__(self, model, model_rate: int, parameters):
        super().__init__()
        from ..runtime.resample import clock_start, host_to_model
        from .resample import tables

        self.register_buffer("forward_params", torch.tensor([1, 1, 1, 1]))  # nn~: in ch, ratio, out ch, ratio
        self.net = StreamedNetwork(model)
        periods = model.config.periods
        self.model_rate = model_rate
        self.rates = sorted(set(HOST_RATES) | {model_rate})
        self.taps_in, self.taps_back, self.grids, self.latencies, self.clock_starts = {}, {}, {}, {}, {}
        for rate in self.rates:
            into, back, latency = host_to_model(rate, model_rate, 1, 1)
            a, b = tables(into), tables(back)
            self.taps_in[rate], self.taps_back[rate] = a["taps"], b["taps"]
            self.grids[rate] = a["grid"].tolist() + b["grid"].tolist()
            self.latencies[rate], self.clock_starts[rate] = latency, clock_start(into, periods)
        self.attributes = [p.name for p in parameters]
        self.ranges = {p.name: [float(p.minimum), float(p.maximum)] for p in parameters}
        self.mix, self.output_gain_db = 1.0, 0.0
        for p in parameters:
            setattr(self, p.name, float(p.default))
        self.sample_rate = model_rate
        self.t = 0
        self.counts = [0, 0, 0, 0]  # inputs and outputs of the way in, then of the way back
        n = self.net.hidden_size
        self.h, self.buf_in, self.buf_back, self.dry = (torch.zeros(0, n),) + (torch.zeros(0, 0),) * 3
        self._fresh(0)

    def _fresh(self, B: int) -> None:
        """Fresh state for ``B`` voices at the current rate."""
        grid = self.grids[self.sample_rate]
        self.h = torch.zeros(B, self.net.hidden_size)
        self.buf_in, self.buf_back = torch.zeros(B, grid[3]), torch.zeros(B, grid[7])
        self.dry = torch.zeros(B, self.latencies[self.sample_rate])
        self.t = self.clock_starts[self.sample_rate]
        self.counts = [0, 0, 0, 0]

    def _model(self, x: torch.Tensor) -> torch.Tensor:
        """The CW-RNN over ``x`` ``(B, k)`` at the model's rate, state carried."""
        y, self.h = self.net(x.unsqueeze(2), self.h, self.t)
        self.t += x.shape[1]
        return y[:, :, 0]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(batch, 1, frames)`` float32 in -> ``(batch, 1, frames)`` out, state kept per batch entry."""
        B, n = x.shape[0], x.shape[2]
        if B != self.h.shape[0]:
            self._fresh(B)
        audio = x[:, 0].float()
        rate = self.sample_rate
        if rate == self.model_rate:
            wet = self._model(audio)
        else:
            g = self.grids[rate]
            c = self.counts
            k = ready(g[:4], c[0] + n) - c[1]
            xm, self.buf_in = push(self.taps_in[rate], g[:4], self.buf_in, audio, c[0], c[1], k)
            ym = self._model(xm)
            wet, self.buf_back = push(self.taps_back[rate], g[4:], self.buf_back, ym, c[2], c[3], n)
            self.counts = [c[0] + n, c[1] + k, c[2] + k, c[3] + n]
        dry = audio
        latency = self.latencies[rate]
        if latency > 0:  # kept current at any mix, so turning the mix down is seamless
            line = torch.cat([self.dry, audio], 1)
            dry, self.dry = line[:, :n], line[:, n:]
        gain = 10.0 ** (self.output_gain_db / 20.0)
        if self.mix == 1.0 and gain == 1.0:
            return wet.unsqueeze(1)
        return (dry * ((1.0 - self.mix) * gain) + wet * (self.mix * gain)).unsqueeze(1)

    # -- the nn~ protocol (the rest: .protocol.NnTilde) ---------------------------------
    @torch.jit.export
    def get_mix(self) -> float:
        return self.mix

    @torch.jit.export
    def set_mix(self, value: float) -> int:
        if not self._in_range("mix", value):
            return -1
        self.mix = value
        return 0

    @torch.jit.export
    def get_output_gain_db(self) -> float:
        return self.output_gain_db

    @torch.jit.export
    def set_output_gain_db(self, value: float) -> int:
        if not self._in_range("output_gain_db", value):
            return -1
        self.output_gain_db = value
        return 0

    def _batch(self) -> int:
        return self.h.shape[0]
