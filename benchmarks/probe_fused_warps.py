"""The fused CW-RNN kernels' time per step by warps per program, next to cuDNN LSTM (a GPU probe).

Usage: python benchmarks/probe_fused_warps.py [--steps 1024] [--warps 1,2,4,8]

For CW-RNN 8 x 16, 8 x 32 and 8 x 64 at batch 64 and 256: forward and forward + backward in us per
step through ``population_forward`` with each warp count, then cuDNN ``torch.nn.LSTM`` of about the
same parameter count. What chose ``cwrnn_audio.gpu.function.NUM_WARPS``; the figures of an H100 are
in ``benchmarks/gpu_notes.md``. Without a CUDA GPU it prints one line and exits 0.
"""

from __future__ import annotations

import argparse
import sys

import torch


def probe(K: int, B: int, T: int, warps, do_bench) -> None:
    import cwrnn_audio.gpu.function as function
    from cwrnn_audio import CWRNN
    from cwrnn_audio.gpu.population import population_forward

    torch.manual_seed(0)
    cw = CWRNN(input_size=1, output_size=1, num_modules=8, module_size=K).to("cuda")
    c = cw.config
    W = (cw.W_H * cw.W_H_mask.to("cuda")).detach()[None].requires_grad_(True)
    WI, bH = (p.detach()[None].requires_grad_(True) for p in (cw.W_I, cw.b_H))
    lstm_h = min(range(1, 4096), key=lambda h: abs(4 * h * (1 + h) + 9 * h + 1 - cw.num_parameters))
    lstm = torch.nn.LSTM(1, lstm_h, batch_first=True).to("cuda")
    x = torch.randn(1, B, T, 1, device="cuda")
    h0 = torch.zeros(1, B, c.hidden_size, device="cuda")

    def fused(backward):
        H = population_forward(x, h0, 0, W, WI, bH, c.periods, c.offsets)
        if backward:
            H.sum().backward()

    def cudnn(backward):
        y = lstm(x[0])[0]
        if backward:
            y.sum().backward()

    def timed(fn):  # ms per call: forward, forward + backward
        return [do_bench(lambda b=b: fn(b), warmup=50, rep=300, return_mode="median") for b in (False, True)]

    rows = {}
    saved = function.NUM_WARPS
    for w in warps:
        function.NUM_WARPS = {16: w, 32: w, 64: w}
        rows[f"fused, {w} warps"] = timed(fused)
    function.NUM_WARPS = saved
    rows[f"cuDNN LSTM({lstm_h})"] = timed(cudnn)
    for name, (fwd, both) in rows.items():
        print(
            f"8 x {K} B {B} {name:<18} forward {fwd * 1e3 / T:7.2f} us/step   "
            f"forward + backward {both * 1e3 / T:7.2f} us/step  {B * T / both / 1e3:7.2f} M samples/s"
        )


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--steps", type=int, default=1024)
    ap.add_argument("--warps", default="1,2,4,8")
    args = ap.parse_args()
    if not torch.cuda.is_available():
        print(f"probe_fused_warps: no CUDA GPU (torch {torch.__version__}); nothing measured")
        return 0
    from triton.testing import do_bench

    print(torch.cuda.get_device_name(), torch.__version__)
    for K in (16, 32, 64):
        for B in (64, 256):
            probe(K, B, args.steps, [int(w) for w in args.warps.split(",")], do_bench)
    return 0


if __name__ == "__main__":
    sys.exit(main())
