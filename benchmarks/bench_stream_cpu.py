"""Per-sample streaming of one voice on the CPU: Numba kernel vs the torch alternatives.

Usage: python benchmarks/bench_stream_cpu.py [--seconds 1.0] [--torch-samples 2000]

For configs S (the paper's 1000-parameter generator: 40 units, 9 modules,
periods 1..256), M (8 x 16) and L (8 x 64), input 1, output 1, prints
ns/sample and real-time factor at 48 kHz for block sizes 1 and 512, and the
ratio of each alternative's time to the Numba kernel's, all measured in this
run: (a) the project's torch path stepping per sample, (b) torch.nn.LSTMCell
with about the same parameter count (plus a Linear read-out), and, for
blocks of 512, torch.nn.LSTM over the block. torch runs on 1 thread in
inference mode; Numba is single-threaded.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from cwrnn_audio import CWRNN

SR = 48_000
CONFIGS = {
    "S": dict(hidden_size=40, num_modules=9),
    "M": dict(num_modules=8, module_size=16),
    "L": dict(num_modules=8, module_size=64),
}


def lstm_hidden_for(params: int) -> int:
    """Smallest LSTM hidden size whose LSTMCell(1, H) + Linear(H, 1) has >= params."""
    h = 1
    while 4 * (h * (1 + h) + 2 * h) + h + 1 < params:
        h += 1
    return h


def per_sample(fn, samples: int) -> float:
    """Seconds per sample of ``fn(i)`` called once per sample, after a warm-up."""
    for i in range(min(50, samples)):
        fn(i)
    start = time.perf_counter()
    for i in range(samples):
        fn(i)
    return (time.perf_counter() - start) / samples


def bench_config(name: str, kw: dict, seconds: float, torch_samples: int) -> list[str]:
    torch.manual_seed(0)
    model = CWRNN(input_size=1, output_size=1, **kw).eval()
    n_samples = int(SR * seconds)
    x = np.random.default_rng(0).uniform(-1, 1, (n_samples, 1)).astype(np.float32)
    results = {}

    s = model.stream(backend="numba")
    out1 = np.empty((1, 1), np.float32)
    results["numba", 1] = per_sample(lambda i: s.process(x[i : i + 1], out=out1), n_samples)
    out512 = np.empty((512, 1), np.float32)
    blocks = n_samples // 512
    results["numba", 512] = (
        per_sample(lambda i: s.process(x[(i * 512) % (n_samples - 511) :][:512], out=out512), blocks) / 512
    )

    xt = torch.from_numpy(x)
    with torch.inference_mode():
        state = [None]

        def torch_step(i):
            _, state[0] = model(xt[i : i + 1][None], state[0])

        results["torch path", 1] = per_sample(torch_step, torch_samples)
        blocks_t = max(2, torch_samples // 512)
        results["torch path", 512] = per_sample(lambda i: model(xt[:512][None]), blocks_t) / 512

        H = lstm_hidden_for(model.num_parameters)
        cell, lin = torch.nn.LSTMCell(1, H), torch.nn.Linear(H, 1)
        hc = [(torch.zeros(1, H), torch.zeros(1, H))]

        def lstm_step(i):
            hc[0] = cell(xt[i : i + 1], hc[0])
            lin(hc[0][0])

        results["LSTMCell", 1] = per_sample(lstm_step, torch_samples)
        lstm = torch.nn.LSTM(1, H, batch_first=True)
        results["nn.LSTM", 512] = per_sample(lambda i: lin(lstm(xt[:512][None])[0]), blocks_t) / 512
    lstm_params = sum(p.numel() for p in cell.parameters()) + H + 1

    lines = [
        f"{name}: CW-RNN {model.config.num_modules} modules {list(model.config.module_sizes)}, "
        f"{model.num_parameters} params (+{model.config.num_periods} periods); LSTM hidden {H}, {lstm_params} params"
    ]
    for block in (1, 512):
        base = results["numba", block]
        lines.append(
            f"  block {block:>3}  numba {base * 1e9:9.0f} ns/sample  {1 / (base * SR):8.1f}x real time @48k"
        )
        for alt in ("torch path", "LSTMCell", "nn.LSTM"):
            if (alt, block) in results:
                t = results[alt, block]
                lines.append(
                    f"             {alt:<10} {t * 1e9:9.0f} ns/sample  {1 / (t * SR):8.2f}x real time  "
                    f"-> numba is {t / base:7.1f}x faster"
                )
    return lines


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=float, default=1.0, help="audio streamed through Numba per measurement")
    ap.add_argument("--torch-samples", type=int, default=2000, help="samples stepped through torch")
    ap.add_argument("--configs", default="S,M,L")
    args = ap.parse_args()
    torch.set_num_threads(1)
    print(f"torch {torch.__version__}, 1 thread; numba single-threaded; {SR} Hz")
    for name in args.configs.split(","):
        print("\n".join(bench_config(name, CONFIGS[name], args.seconds, args.torch_samples)))


if __name__ == "__main__":
    main()
