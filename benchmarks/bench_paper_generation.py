"""Time the paper's sequence-generation protocol: Numba populations vs torch.

Usage: python benchmarks/bench_paper_generation.py [AUDIO] [--skip-full] [--device cpu|cuda]

1. The full default protocol (3 methods x 4 sizes x 100 runs x 2000 epochs)
   with the Numba engine, end to end, as ``cwrnn-audio paper generation``
   runs it (skipped with --skip-full).
2. On a subset (every method and size, --subset-runs networks,
   --subset-epochs epochs), the training epochs alone of the same populations
   on the Numba kernels and on the torch path (vmapped populations, autograd,
   torch.optim) in this run, with the ratio and both times projected to the
   full protocol.
"""

from __future__ import annotations

import argparse
import tempfile
import time

import numpy as np
import torch

import cwrnn_audio_samples
from cwrnn_audio.experiments.excerpts import cut_excerpts, load_music
from cwrnn_audio.experiments.generation import (
    HIDDEN,
    LEARNING_RATE,
    METHODS,
    GenerationConfig,
    make_population,
    run_generation,
)
from cwrnn_audio.train.optimizer import OptimizerConfig


def subset(runs: int, epochs: int, targets, backend: str, device: str) -> dict:
    """Seconds of training (the epochs alone) per population, same networks on both engines."""
    if backend == "numba":
        from cwrnn_audio.train.engine_numba import run_epochs

        kw = {}
    else:
        from cwrnn_audio.train.engine_torch import run_epochs

        kw = {"device": device}
    times = {}
    for size in sorted(HIDDEN):
        for method in METHODS:
            cfg = GenerationConfig(runs=runs, epochs=epochs)
            template, theta0 = make_population(method, size, cfg)
            tgt = np.ascontiguousarray(targets[np.arange(runs) % len(targets)][:, None, :, None])
            x = np.zeros((runs, 1, tgt.shape[2], 0), np.float32)
            opt = OptimizerConfig(lr=LEARNING_RATE[method], momentum=0.95, clip=cfg.clip)

            def train(n, theta0=theta0, template=template, x=x, tgt=tgt, opt=opt):
                theta = theta0.copy()
                z = np.zeros_like(theta)
                run_epochs(template, theta, z, z.copy(), np.zeros(runs, np.int64), x, tgt, n, 1.0, opt, **kw)

            train(1)  # warm-up: compile / allocate
            start = time.perf_counter()
            train(epochs)
            if device.startswith("cuda"):
                torch.cuda.synchronize()
            times[method, size] = time.perf_counter() - start
    return times


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("audio", nargs="?", default=str(cwrnn_audio_samples.path("bach_prelude_fluidr3.flac")))
    ap.add_argument("--skip-full", action="store_true")
    ap.add_argument("--subset-runs", type=int, default=10)
    ap.add_argument("--subset-epochs", type=int, default=20)
    ap.add_argument("--device", default="cpu", help="device for the torch side (cpu or cuda)")
    args = ap.parse_args()
    print(
        f"torch {torch.__version__} ({torch.get_num_threads()} threads), device {args.device}; audio {args.audio}"
    )

    full_work = 100 * 2000  # runs x epochs per method and size
    if not args.skip_full:
        with tempfile.TemporaryDirectory() as out:
            start = time.perf_counter()
            res = run_generation(args.audio, out, GenerationConfig(), progress=False, log=lambda s: None)
            total = time.perf_counter() - start
        print(f"full protocol, numba: {total:.0f} s ({total / 60:.1f} min) for 3 x 4 x 100 x 2000")
        for key, sec in res["seconds"].items():
            print(f"  {key:<11} {sec:7.1f} s")

    targets = cut_excerpts(load_music(args.audio))
    nb = subset(args.subset_runs, args.subset_epochs, targets, "numba", "cpu")
    tc = subset(args.subset_runs, args.subset_epochs, targets, "torch", args.device)
    work = args.subset_runs * args.subset_epochs
    print(f"subset: {args.subset_runs} runs x {args.subset_epochs} epochs per method and size")
    print(f"{'population':<12}{'numba s':>10}{'torch s':>10}{'torch/numba':>13}")
    for key in nb:
        print(f"{key[0] + '-' + str(key[1]):<12}{nb[key]:>10.3f}{tc[key]:>10.3f}{tc[key] / nb[key]:>13.1f}")
    n_sum, t_sum = sum(nb.values()), sum(tc.values())
    print(f"{'all':<12}{n_sum:>10.3f}{t_sum:>10.3f}{t_sum / n_sum:>13.1f}")
    print(
        f"projected full protocol with torch on {args.device}: {t_sum * full_work / work / 60:.0f} min "
        f"(numba, same projection: {n_sum * full_work / work / 60:.1f} min)"
    )


if __name__ == "__main__":
    main()
