"""Mu-law sampling speed: the Numba streaming sampler vs the same loop in torch (CPU).

Usage: python benchmarks/bench_mulaw_sampling.py [--seconds 2] [--torch-steps 1000]

M config (8 modules x 16), input 1 (the previous sample), 256-way softmax
output, 16 kHz, one voice on one core (torch: 1 thread), temperature 1;
also top-k 32 and 8 voices per call. Prints microseconds per sample, the
real-time factor and the torch/Numba ratio, all from this run.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from cwrnn_audio import CWRNN
from cwrnn_audio.adapters import MuLawAdapter

SR = 16_000


def timed(stream, steps, voices, top_k, seed=0):
    adapter = MuLawAdapter(sample_rate=SR)
    values = adapter.class_value(np.arange(256))
    u = np.random.default_rng(seed).random((voices, steps))
    x = np.zeros((voices, 1), np.float32)
    stream.sample_classes(u[:, :5], values, x, top_k=top_k)  # compile / warm up
    start = time.perf_counter()
    stream.sample_classes(u, values, x, top_k=top_k)
    return (time.perf_counter() - start) / (steps * voices)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=float, default=2.0, help="audio sampled by Numba per measurement")
    ap.add_argument("--torch-steps", type=int, default=1000)
    args = ap.parse_args()
    torch.set_num_threads(1)
    torch.manual_seed(0)
    model = CWRNN(
        input_size=1, output_size=256, num_modules=8, module_size=16, output_activation="none"
    ).eval()
    steps = int(SR * args.seconds)
    print(
        f"M config, 256-way mu-law, {SR} Hz; {model.num_parameters} params; torch {torch.__version__}, 1 thread"
    )
    for label, voices, top_k in (("1 voice", 1, 0), ("1 voice, top-k 32", 1, 32), ("8 voices", 8, 0)):
        nb = timed(model.stream(backend="numba", voices=voices), steps // voices, voices, top_k)
        tc = timed(
            model.stream(backend="torch", voices=voices), max(50, args.torch_steps // voices), voices, top_k
        )
        print(
            f"{label:<18} numba {nb * 1e6:7.2f} us/sample {1 / (nb * SR):6.1f}x real time | "
            f"torch {tc * 1e6:8.1f} us/sample {1 / (tc * SR):6.2f}x | numba is {tc / nb:6.1f}x faster"
        )


if __name__ == "__main__":
    main()
