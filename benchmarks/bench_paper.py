"""Time the paper's sequence-generation protocol: Numba populations vs torch, in one run.

Usage: python benchmarks/bench_paper.py [AUDIO] [--skip-full] [--epochs N]
           [--subset-runs P] [--subset-epochs E] [--sizes 100 250 ...] [--device cpu|cuda]

1. The full default protocol (3 methods x 4 sizes x 100 runs x --epochs, default 2000) with the
   Numba engine, end to end, as ``cwrnn-audio paper generation`` runs it (``run_generation``);
   with fewer epochs its time is also projected to 2000. Skipped with --skip-full.
2. Network-steps per second (networks x epochs x 320 steps, forward + backward + update, over
   seconds) of every method and size (--sizes) on a subset of P networks x E epochs, the
   training epochs alone (compiled / warmed up first), on:
   - the Numba engine (``engine_numba.run_epochs``; from ``LANES_FROM`` (48) networks the
     SIMD-lane kernels, so keep P at the protocol's 100 for a faithful projection);
   - torch's population engine (``engine_torch.run_epochs``: the networks' step loop vmapped
     over P stacked parameter sets, autograd, torch.optim), all three methods;
   - for LSTM also torch's ``nn.LSTM(1, H)`` + ``nn.Linear(H, 1)`` at batch P on zero input:
     ONE shared-weight network, whose GEMMs Numba's per-network kernels cannot use, so a lower
     bound on torch's cost for P independent networks.
   Torch runs on as many threads as Numba. Each engine's rate is also summed over the sizes and
   projected to the full protocol (100 runs x 2000 epochs per method and size).
"""

from __future__ import annotations

import argparse
import tempfile
import time

import numba
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
from cwrnn_audio.train import engine_numba, engine_torch
from cwrnn_audio.train.optimizer import OptimizerConfig

FULL_RUNS, FULL_EPOCHS = 100, 2000


def timed(train, epochs: int, device: str) -> float:
    """Seconds of ``train(epochs)`` after a one-epoch warm-up (compile / allocate)."""
    train(1)
    start = time.perf_counter()
    train(epochs)
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    return time.perf_counter() - start


def engine_seconds(run_epochs, pop, epochs: int, device: str | None = None) -> float:
    """A population engine (``device``: torch's) on the population ``pop``, as ``train_one`` calls it."""
    template, theta0, x, tgt, opt = pop
    kw = {} if device is None else {"device": device}

    def train(n):
        theta = theta0.copy()
        z = np.zeros_like(theta)
        run_epochs(template, theta, z, z.copy(), np.zeros(len(theta), np.int64), x, tgt, n, 1.0, opt, **kw)

    return timed(train, epochs, device or "cpu")


def nn_lstm_seconds(hidden: int, tgt: np.ndarray, epochs: int, opt, device: str) -> float:
    """One shared-weight ``nn.LSTM`` + read-out at batch P on zero input: forward, backward, SGD."""
    lstm, out = torch.nn.LSTM(1, hidden, batch_first=True).to(device), torch.nn.Linear(hidden, 1).to(device)
    optim = torch.optim.SGD(
        [*lstm.parameters(), *out.parameters()], lr=opt.lr, momentum=opt.momentum, nesterov=True
    )
    y = torch.from_numpy(tgt[:, 0]).to(device)  # (P, T, 1)
    x = torch.zeros_like(y)

    def train(n):
        for _ in range(n):
            loss = (out(lstm(x)[0]) - y).pow(2).sum() / len(y)  # per-network gradient scale
            optim.zero_grad()
            loss.backward()
            optim.step()

    return timed(train, epochs, device)


def population(method: str, size: int, runs: int, targets: np.ndarray) -> tuple:
    """(template, theta0, x, target, optimiser) of one population, as ``train_one`` makes them."""
    template, theta0 = make_population(method, size, GenerationConfig(runs=runs))
    tgt = np.ascontiguousarray(targets[np.arange(runs) % len(targets)][:, None, :, None])
    x = np.zeros((runs, 1, tgt.shape[2], 0), np.float32)
    cfg = GenerationConfig()
    opt = OptimizerConfig(lr=LEARNING_RATE[method], momentum=cfg.momentum, nesterov=True, clip=cfg.clip)
    return template, theta0, x, tgt, opt


def rates_line(label: str, times: list, steps: int) -> str:
    """Net-steps/s of every engine over the populations ``times`` ({engine: seconds} each)."""
    rate = {e: len(times) * steps / sum(t[e] for t in times) / 1e6 for e in times[0]}
    parts = [f"{label}: numba {rate['numba']:.3g} M net-steps/s"]
    parts += [f"{e} {r:.3g} M -> numba is {rate['numba'] / r:.3g}x" for e, r in rate.items() if e != "numba"]
    return ", ".join(parts)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("audio", nargs="?", default=str(cwrnn_audio_samples.path("bach_prelude_fluidr3.flac")))
    ap.add_argument("--skip-full", action="store_true", help="skip part 1, the full protocol")
    ap.add_argument("--epochs", type=int, default=FULL_EPOCHS, help="epochs of the full protocol run")
    ap.add_argument("--subset-runs", type=int, default=FULL_RUNS, help="networks per population (subset)")
    ap.add_argument("--subset-epochs", type=int, default=20, help="epochs timed per population (subset)")
    ap.add_argument("--sizes", type=int, nargs="+", default=sorted(HIDDEN), choices=sorted(HIDDEN))
    ap.add_argument("--device", default="cpu", help="device for the torch side (cpu or cuda)")
    args = ap.parse_args()
    threads = numba.get_num_threads()
    torch.set_num_threads(threads)
    print(
        f"numba {numba.__version__}, torch {torch.__version__}: {threads} threads each; torch on {args.device}"
    )
    print(f"audio {args.audio}")

    if not args.skip_full:
        with tempfile.TemporaryDirectory() as out:
            start = time.perf_counter()
            cfg = GenerationConfig(epochs=args.epochs)
            res = run_generation(args.audio, out, cfg, progress=False, log=lambda s: None)
            total = time.perf_counter() - start
        print(f"full protocol, numba: {total:.0f} s ({total / 60:.1f} min) for 3 x 4 x 100 x {args.epochs}")
        if args.epochs != FULL_EPOCHS:
            minutes = total * FULL_EPOCHS / args.epochs / 60
            print(
                f"  projected to {FULL_EPOCHS} epochs: {minutes:.1f} min (compile/setup scaled too: upper bound)"
            )
        for key, sec in res["seconds"].items():
            print(f"  {key:<11} {sec:7.1f} s")

    targets = cut_excerpts(load_music(args.audio))
    P, E = args.subset_runs, args.subset_epochs
    steps = P * E * targets.shape[1]  # network-steps of one population on the subset
    batched = f"nn.LSTM batch {P} (ONE shared-weight net: lower bound)"
    print(f"subset: {P} networks x {E} epochs x {targets.shape[1]} steps per method and size")
    if P < engine_numba.LANES_FROM:
        print(
            f"  (under {engine_numba.LANES_FROM} networks numba runs one network per thread, not SIMD lanes)"
        )
    secs = {}  # (method, size) -> {engine: seconds}
    for method in METHODS:
        for size in args.sizes:
            pop = population(method, size, P, targets)
            t = secs[method, size] = {
                "numba": engine_seconds(engine_numba.run_epochs, pop, E),
                "torch vmapped": engine_seconds(engine_torch.run_epochs, pop, E, args.device),
            }
            if method == "lstm":
                t[batched] = nn_lstm_seconds(HIDDEN[size][method], pop[3], E, pop[4], args.device)
            print(rates_line(f"{method} {size}", [t], steps))
        print(rates_line(f"{method} all sizes", [secs[method, s] for s in args.sizes], steps))

    scale = FULL_RUNS * FULL_EPOCHS / (P * E) / 60  # subset seconds -> full protocol minutes
    nb, tv, tb = (
        scale * sum(t.get(e, t["torch vmapped"]) for t in secs.values())  # nn.LSTM: LSTM only
        for e in ("numba", "torch vmapped", batched)
    )
    print(
        f"projected full protocol (3 methods x sizes {','.join(map(str, args.sizes))} x {FULL_RUNS} runs x "
        f"{FULL_EPOCHS} epochs, training alone): numba {nb:.1f} min, torch vmapped {tv:.1f} min "
        f"({tv / nb:.3g}x), torch with nn.LSTM batched for LSTM >= {tb:.1f} min ({tb / nb:.3g}x)"
    )


if __name__ == "__main__":
    main()
