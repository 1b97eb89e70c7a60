"""Training on the CPU: the CW-RNN's Numba autograd Function vs its step loop and torch's LSTM/RNN.

Usage: python benchmarks/bench_train_cpu.py [--quick] [--threads 1 2] [--sizes 16 32 64]
           [--batches 16 64] [--repeats N] [--loop-repeats N] [--skip-loop-over K]
           [--epochs E] [--e2e-threads N] [--skip-e2e] [--skip-profile]

``GOMP_SPINCOUNT`` defaults to the command line's value (cwrnn_audio/cli/main.py says why); set it
in the environment to measure another. Everything below is measured in this one run, so each ratio compares numbers taken minutes apart
on the same machine (this shared 2-core machine moves by up to 20 % between runs).

1. Kernels: forward + backward samples/s (batch x window / seconds per step) of one training step:
   forward through ``CWRNN(input_size=1, output_size=1, num_modules=8, module_size=k)`` (k from
   --sizes), MSE of its linear read-out against a random target, ``.backward()``; the best of
   --repeats steps after a warm-up, for batches --batches, window 256, on each of --threads torch
   threads (``torch.set_num_threads``), for
   (a) the Numba autograd Function (the default on CPU tensors),
   (b) the Python step loop (``CWRNN_AUDIO_CPU_KERNELS=0``; slow: best of --loop-repeats steps,
       and skipped for module sizes above --skip-loop-over),
   (c) ``torch.nn.LSTM(1, H, batch_first=True)`` + ``Linear(H, 1)``, H the smallest hidden size
       whose parameter count reaches the CW-RNN's (``CWRNN.num_parameters``),
   (d) ``torch.nn.RNN(1, H2, nonlinearity="tanh", batch_first=True)`` + ``Linear(H2, 1)``, likewise.
   The table gives each one's samples/s and Numba's ratio to the others; below it, for batch 64,
   the Numba Function's 2-thread / 1-thread ratio. Every step checks which path the CW-RNN took.
2. End to end: ``cwrnn-audio train audio`` (``--encoding mulaw`` and ``--encoding harmonic``, the
   README's settings for each on a short bundled recording) and ``cwrnn-audio train midi
   samples/midi --encoding events``, each run twice as a subprocess, with
   ``CWRNN_AUDIO_CPU_KERNELS=0`` (step loop) and without (Numba), for --epochs epochs (MIDI: ten
   times as many, the bundled tunes being 640 events an epoch) with early stopping off, on torch's
   default thread count or --e2e-threads (on a machine busy with other work, two threads of small
   ops can run many times slower than one: ask for 1 there). The subprocess is the command line's
   own ``main`` with its batch step (``cwrnn_audio.train.sequence.train_batch``: forward, loss,
   backward, clipping, Adam, every window of a batch of chunks) wrapped in a timer that counts the
   steps it trains (samples, frames or events; a batch holding a stream's shorter last chunk is
   cut to that chunk's length, so these are the steps trained, not the data). Rate: steps /
   seconds inside it, over every batch after the first (the first loads or compiles the kernels
   and allocates), or the one batch if there is one; also the seconds of the last epoch (training
   and validation) from the model folder's ``history.json``.
3. Profile: torch.profiler's ``key_averages`` of a few training steps (8 x 32, batch 64, one
   thread; 8 x 16 with --quick), the top 10 rows by self CPU time.

--quick (the smoke test's mode): module size 16 only, 3 repeats (1 of the step loop), one epoch
end to end (MIDI: 10) on one thread unless --e2e-threads says otherwise. Progress goes to
stderr, the tables to stdout.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

from cwrnn_audio.cli.main import GOMP_SPINCOUNT

# as the command line does (cwrnn_audio/cli/main.py: why), before torch loads libgomp
os.environ.setdefault("GOMP_SPINCOUNT", GOMP_SPINCOUNT)

import torch  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "samples"
ENV = "CWRNN_AUDIO_CPU_KERNELS"  # "0": the step loop (cwrnn_audio.nn.numba_function.ENV_SWITCH)
WINDOW = 256
NUM_MODULES = 8
CHILD = "--child"  # internal: python bench_train_cpu.py --child RESULT.json THREADS CLI-ARGS...

# End to end: (label, unit, CLI arguments before --out). The settings are the README's and those
# of the bundled models (samples/train_sample_models.py): mulaw with the defaults (8 x 16, 16 kHz,
# window 256, 8 windows per chunk, batch 16) on the Bach recording bach_mulaw learnt from; harmonic
# with ``--window 128 --chunk-windows 4 --batch 8`` (8 x 16, 250 frames/s) on the flute, its 26 s
# held-out recording rather than the 68 s training one so pYIN's analysis stays short; MIDI events
# with the defaults (6 x 16, window 64, 4 windows per chunk, batch 8) on the bundled tunes.
E2E = [
    (
        "audio mulaw",
        "samples",
        ["train", "audio", str(SAMPLES / "bach_prelude_fluidr3.flac"), "--encoding", "mulaw"],
    ),
    (
        "audio harmonic",
        "frames",
        [
            "train",
            "audio",
            str(SAMPLES / "instruments" / "flute_heldout.flac"),
            "--encoding",
            "harmonic",
            "--window",
            "128",
            "--chunk-windows",
            "4",
            "--batch",
            "8",
        ],
    ),
    ("midi events", "events", ["train", "midi", str(SAMPLES / "midi"), "--encoding", "events"]),
]
# Epochs of each run, times --epochs: an epoch of the bundled tunes is 640 events (5 batches in 0.1 s).
EPOCHS_FACTOR = {"audio mulaw": 1, "audio harmonic": 1, "midi events": 10}


def say(*parts) -> None:
    print(*parts, file=sys.stderr, flush=True)


@contextmanager
def kernels(on: bool):
    """The CW-RNN's Numba Function (``on``) or its step loop, by the switch read at call time."""
    old = os.environ.get(ENV)
    if on:
        os.environ.pop(ENV, None)
    else:
        os.environ[ENV] = "0"
    try:
        yield
    finally:
        if old is None:
            os.environ.pop(ENV, None)
        else:
            os.environ[ENV] = old


def lstm_params(h: int) -> int:
    return 4 * (h * 1 + h * h + 2 * h) + h + 1  # nn.LSTM(1, h) (two biases) + Linear(h, 1)


def rnn_params(h: int) -> int:
    return h * 1 + h * h + 2 * h + h + 1  # nn.RNN(1, h) (two biases) + Linear(h, 1)


def hidden_for(params: int, count) -> int:
    """Smallest hidden size whose ``count(h)`` reaches ``params``."""
    h = 1
    while count(h) < params:
        h += 1
    return h


def uses_numba(out: torch.Tensor) -> bool:
    """Whether the autograd graph behind ``out`` holds a Numba Function (the recurrence, or with
    this one-output read-out the recurrence and read-out in one)."""
    seen, todo = set(), [out.grad_fn]
    while todo:
        fn = todo.pop()
        if fn is None or fn in seen:
            continue
        seen.add(fn)
        if any(name in type(fn).__name__ for name in ("CWRNNRecurrence", "CWRNNReadout")):
            return True
        todo.extend(f for f, _ in fn.next_functions)
    return False


def cwrnn_step(model, x, y, *, numba: bool):
    def step():
        model.zero_grad(set_to_none=True)
        out, _ = model(x)
        if uses_numba(out) != numba:
            raise RuntimeError(f"the CW-RNN did not take the {'Numba' if numba else 'step-loop'} path")
        torch.nn.functional.mse_loss(out, y).backward()

    return step


def torch_step(rnn, head, x, y):
    params = [*rnn.parameters(), *head.parameters()]

    def step():
        for p in params:
            p.grad = None
        torch.nn.functional.mse_loss(head(rnn(x)[0]), y).backward()

    return step


def best_seconds(step, repeats: int, warmup: int) -> float:
    for _ in range(warmup):
        step()
    best = math.inf
    for _ in range(repeats):
        t0 = time.perf_counter()
        step()
        best = min(best, time.perf_counter() - t0)
    return best


def fmt_rate(r: float | None) -> str:
    if r is None:
        return "-"
    return f"{r / 1e6:.2f}M" if r >= 1e6 else f"{r / 1e3:.1f}k"


def fmt_ratio(a: float | None, b: float | None) -> str:
    return "-" if a is None or b is None else f"{a / b:.2f}x"


def bench_kernels(args) -> list[str]:
    from cwrnn_audio import CWRNN

    rows, rates = [], {}
    for k in args.sizes:
        torch.manual_seed(0)
        model = CWRNN(input_size=1, output_size=1, num_modules=NUM_MODULES, module_size=k)
        P = model.num_parameters
        H, H2 = hidden_for(P, lstm_params), hidden_for(P, rnn_params)
        lstm = torch.nn.LSTM(1, H, batch_first=True)
        rnn = torch.nn.RNN(1, H2, nonlinearity="tanh", batch_first=True)
        heads = torch.nn.Linear(H, 1), torch.nn.Linear(H2, 1)
        counted = [
            sum(p.numel() for m in pair for p in m.parameters())
            for pair in ((lstm, heads[0]), (rnn, heads[1]))
        ]
        assert counted == [lstm_params(H), rnn_params(H2)], counted
        name = f"{NUM_MODULES}x{k}"
        rows.append(
            f"{name}: CW-RNN {P} params; nn.LSTM H={H} {counted[0]} params; nn.RNN H={H2} {counted[1]} params"
        )
        loop = args.skip_loop_over is None or k <= args.skip_loop_over
        for B in args.batches:
            g = torch.Generator().manual_seed(B)
            x = torch.rand(B, WINDOW, 1, generator=g) * 2 - 1
            y = torch.rand(B, WINDOW, 1, generator=g) * 2 - 1
            for threads in args.threads:
                torch.set_num_threads(threads)
                say(f"kernels: {name} batch {B}, {threads} thread(s)")
                r = {}
                with kernels(True):
                    r["numba"] = best_seconds(cwrnn_step(model, x, y, numba=True), args.repeats, 2)
                if loop:
                    with kernels(False):
                        r["loop"] = best_seconds(cwrnn_step(model, x, y, numba=False), args.loop_repeats, 1)
                r["lstm"] = best_seconds(torch_step(lstm, heads[0], x, y), args.repeats, 2)
                r["rnn"] = best_seconds(torch_step(rnn, heads[1], x, y), args.repeats, 2)
                rates[name, B, threads] = {key: B * WINDOW / s for key, s in r.items()}
    torch.set_num_threads(args.threads[0])

    head = (
        f"{'config':<7} {'batch':>5} {'thr':>3} {'Numba':>9} {'step loop':>9} {'nn.LSTM':>9} {'nn.RNN':>9}"
        f"  {'Numba/LSTM':>10} {'Numba/RNN':>9} {'Numba/loop':>10}"
    )
    lines = [
        f"1. Kernels: training step (forward + MSE + backward) samples/s, window {WINDOW}, best of "
        f"{args.repeats} (step loop {args.loop_repeats}); torch {torch.__version__}",
        *rows,
        head,
        "-" * len(head),
    ]
    for (name, B, threads), r in rates.items():
        n = r["numba"]
        lines.append(
            f"{name:<7} {B:>5} {threads:>3} {fmt_rate(n):>9} {fmt_rate(r.get('loop')):>9} "
            f"{fmt_rate(r['lstm']):>9} {fmt_rate(r['rnn']):>9}  {fmt_ratio(n, r['lstm']):>10} "
            f"{fmt_ratio(n, r['rnn']):>9} {fmt_ratio(n, r.get('loop')):>10}"
        )
    if 1 in args.threads and 2 in args.threads and 64 in args.batches:
        for name in dict.fromkeys(key[0] for key in rates):
            one, two = rates[name, 64, 1]["numba"], rates[name, 64, 2]["numba"]
            lines.append(f"{name} batch 64: Numba 2 threads / 1 thread = {two / one:.2f}x")
    return lines


def child(result: str, threads: int, argv: list[str]) -> int:
    """Run the command line's ``main(argv)`` with its batch step timed, on ``threads`` torch threads
    (0: torch's default); write the counts to ``result``."""
    import cwrnn_audio.train.sequence as sequence
    from cwrnn_audio.cli.main import main

    if threads:
        torch.set_num_threads(threads)
    batch_step, calls = sequence.train_batch, []

    def timed(net, model, opt, kind, xs, ys, cfg):
        t0 = time.perf_counter()
        losses = batch_step(net, model, opt, kind, xs, ys, cfg)
        calls.append((int(xs.shape[0] * xs.shape[1]), time.perf_counter() - t0))
        return losses

    sequence.train_batch = timed
    rc = main(argv)
    Path(result).write_text(json.dumps({"rc": rc, "calls": calls, "threads": torch.get_num_threads()}))
    return rc


def run_cli(label: str, argv: list[str], tmp: Path, on: bool, threads: int) -> dict:
    tag = f"{label.replace(' ', '-')}-{'numba' if on else 'loop'}"
    out, result = tmp / tag, tmp / f"{tag}.json"
    argv = [*argv, "--out", str(out)]
    env = dict(os.environ)
    env.pop(ENV, None)
    if not on:
        env[ENV] = "0"
    say(f"end to end: {'' if on else ENV + '=0 '}cwrnn-audio {' '.join(argv)}")
    t0 = time.perf_counter()
    r = subprocess.run(
        [sys.executable, __file__, CHILD, str(result), str(threads), *argv],
        env=env,
        capture_output=True,
        text=True,
    )
    wall = time.perf_counter() - t0
    if r.returncode != 0:
        raise RuntimeError(f"{label} failed ({r.returncode}):\n{r.stdout[-2000:]}\n{r.stderr[-4000:]}")
    rec = json.loads(result.read_text())
    calls = rec["calls"]
    timed = calls[1:] if len(calls) > 1 else calls
    history = json.loads((out / "history.json").read_text())
    return {
        "rate": sum(n for n, _ in timed) / sum(s for _, s in timed),
        "steps": sum(n for n, _ in calls),
        "batches": len(calls),
        "epochs": len(history["seconds"]),
        "epoch_s": history["seconds"][-1],
        "wall": wall,
        "threads": rec["threads"],
    }


def bench_e2e(args) -> list[str]:
    def epochs(label):
        n = str(args.epochs * EPOCHS_FACTOR[label])
        return ["--epochs", n, "--patience", n, "-q"]  # no early stop

    res = {}
    with tempfile.TemporaryDirectory(prefix="bench_train_cpu_") as tmp:
        for label, _, argv in E2E:
            for on in (False, True):
                res[label, on] = run_cli(label, [*argv, *epochs(label)], Path(tmp), on, args.e2e_threads)
    threads = res[E2E[0][0], True]["threads"]
    how = "torch's default" if not args.e2e_threads else "--e2e-threads"
    head = (
        f"{'run':<15} {'unit':<7} {'step loop /s':>12} {'Numba /s':>10} {'Numba/loop':>10}"
        f"  {'epoch s loop':>12} {'epoch s Numba':>13} {'steps/epoch':>11} {'wall s loop/Numba':>17}"
    )
    lines = [
        f"2. End to end: training steps/s inside the batch step (after the first batch); "
        f"{threads} torch thread(s) ({how}); step loop = {ENV}=0",
        head,
        "-" * len(head),
    ]
    for label, unit, _ in E2E:
        off, on = res[label, False], res[label, True]
        lines.append(
            f"{label:<15} {unit:<7} {fmt_rate(off['rate']):>12} {fmt_rate(on['rate']):>10} "
            f"{on['rate'] / off['rate']:>9.2f}x  {off['epoch_s']:>12.2f} {on['epoch_s']:>13.2f} "
            f"{on['steps'] // on['epochs']:>11} {off['wall']:>8.1f}/{on['wall']:<8.1f}"
        )
    lines.append("commands (each with --out DIR; the step-loop run with " + ENV + "=0):")
    for label, _, argv in E2E:
        shown = [os.path.relpath(a, ROOT) if a.startswith(str(ROOT)) else a for a in argv]
        lines.append("  cwrnn-audio " + " ".join([*shown, *epochs(label)]))
    return lines


def profile(args) -> list[str]:
    from torch.profiler import ProfilerActivity
    from torch.profiler import profile as torch_profile

    from cwrnn_audio import CWRNN

    k = 16 if args.quick else 32
    B, steps = 64, 3
    say(f"profile: {NUM_MODULES}x{k} batch {B}, 1 thread")
    torch.set_num_threads(1)
    torch.manual_seed(0)
    model = CWRNN(input_size=1, output_size=1, num_modules=NUM_MODULES, module_size=k)
    x, y = torch.rand(B, WINDOW, 1) * 2 - 1, torch.rand(B, WINDOW, 1) * 2 - 1
    with kernels(True):
        step = cwrnn_step(model, x, y, numba=True)
        step()
        step()
        with torch_profile(activities=[ProfilerActivity.CPU]) as prof:
            for _ in range(steps):
                step()
    table = prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=10)
    return [
        f"3. Profile: {steps} training steps (forward + MSE + backward), Numba Function, "
        f"{NUM_MODULES}x{k} batch {B} window {WINDOW}, 1 thread; top 10 by self CPU time",
        table.rstrip(),
    ]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="8 x 16 only, tiny repeats, one epoch end to end")
    ap.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--sizes", type=int, nargs="+", default=[16, 32, 64], help="module sizes (8 modules)")
    ap.add_argument("--batches", type=int, nargs="+", default=[16, 64])
    ap.add_argument("--repeats", type=int, default=10, help="timed steps (best kept) of Numba and torch")
    ap.add_argument("--loop-repeats", type=int, default=2, help="timed steps of the step loop")
    ap.add_argument("--skip-loop-over", type=int, metavar="K", help="no step loop for module sizes above K")
    ap.add_argument("--epochs", type=int, default=3, help="epochs of each end-to-end run (MIDI: 10x)")
    ap.add_argument(
        "--e2e-threads",
        type=int,
        default=None,
        help="torch threads of the end-to-end runs (default: torch's default; 1 with --quick)",
    )
    ap.add_argument("--skip-e2e", action="store_true")
    ap.add_argument("--skip-profile", action="store_true")
    args = ap.parse_args()
    if args.quick:
        args.sizes, args.repeats, args.loop_repeats, args.epochs = [16], 3, 1, 1
        if args.e2e_threads is None:
            args.e2e_threads = 1
    args.e2e_threads = args.e2e_threads or 0  # 0: torch's default
    sections = [bench_kernels(args)]
    if not args.skip_e2e:
        sections.append(bench_e2e(args))
    if not args.skip_profile:
        sections.append(profile(args))
    print("\n\n".join("\n".join(s) for s in sections))


if __name__ == "__main__":
    if sys.argv[1:2] == [CHILD]:
        sys.exit(child(sys.argv[2], int(sys.argv[3]), sys.argv[4:]))
    main()
