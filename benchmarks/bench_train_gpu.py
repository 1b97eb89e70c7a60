"""Training speed on a CUDA GPU (issue 14): the CW-RNN's paths against cuDNN, the paper's protocol, train audio.

Usage: python benchmarks/bench_train_gpu.py [--sizes 16,32,64] [--batches 64,256] [--steps 1024]
       [--skip-paper] [--paper-timeout S] [--skip-train] [--train-epochs N]

1. Forward + backward (MSE through a linear read-out) in M samples/s (batch x steps per second),
   for CW-RNN 8 x K through ``CWRNN.forward`` on its default CUDA path (``gpu.gpu_path``: the module
   schedule unless the measured table says otherwise), the schedule with cuDNN's and with the
   project's Triton chains, the fused kernels and the step loop (``CWRNN_AUDIO_CUDA_PATH``,
   ``CWRNN_AUDIO_CHAIN``), and cuDNN ``torch.nn.LSTM`` and ``torch.nn.RNN(nonlinearity='tanh')``
   whose hidden sizes give the nearest parameter count; then the ratios, and one chain's time per
   tick (forward + backward) by chain kernel. Targets (issue 26): schedule >= 3x the fused kernels at
   8 x 32 and 8 x 64, batch 64; with the Triton chain >= 1x LSTM at batch 64 (8 x 16, 8 x 32), >= 2x at
   batch 256.
2. The paper's full protocol, ``cwrnn-audio paper generation --backend torch --device cuda``, wall
   time end to end (target: under 60 s).
3. ``train audio`` samples/s on CUDA and on the CPU of the same machine (target: >= 20x).

Compare ratios taken in one run; absolute figures move between machines. Without a CUDA GPU it
prints one line and exits 0; ``--device cpu`` runs the same code on the CPU as a smoke test (its
figures say nothing about a GPU).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shlex
import subprocess
import sys
import tempfile
import time
import warnings

import torch

import cwrnn_audio_samples
from cwrnn_audio import CWRNN

# read on every call by cwrnn_audio.gpu.gpu_path and gpu.chain.chosen_chain
SWITCHES = ("CWRNN_AUDIO_FUSED", "CWRNN_AUDIO_CUDA_PATH", "CWRNN_AUDIO_CHAIN")
# the rows of section 1: the switches each sets (none: the default path)
PATHS = {
    "default": {},
    "schedule, cuDNN chains": {"CWRNN_AUDIO_CUDA_PATH": "schedule", "CWRNN_AUDIO_CHAIN": "cudnn"},
    "schedule, Triton chains": {"CWRNN_AUDIO_CUDA_PATH": "schedule", "CWRNN_AUDIO_CHAIN": "triton"},
    "fused kernels": {"CWRNN_AUDIO_CUDA_PATH": "fused"},
    "step loop": {"CWRNN_AUDIO_CUDA_PATH": "loop"},
}


def csv(kind):
    return lambda s: tuple(kind(v) for v in s.split(","))


@contextlib.contextmanager
def switched(values: dict):
    """The path switches set to ``values`` (the others unset) for one measurement."""
    old = {k: os.environ.pop(k, None) for k in SWITCHES}
    os.environ.update(values)
    try:
        yield
    finally:
        for k in SWITCHES:
            os.environ.pop(k, None)
            if old[k] is not None:
                os.environ[k] = old[k]


def nearest_hidden(count, target: int) -> int:
    return min(range(1, 4096), key=lambda h: abs(count(h) - target))


def baselines(params: int, device) -> dict:
    """cuDNN LSTM and tanh RNN (one input, linear read-out) of about ``params`` parameters."""
    lstm_h = nearest_hidden(lambda h: 4 * h * (1 + h) + 8 * h + h + 1, params)
    rnn_h = nearest_hidden(lambda h: h * (1 + h) + 2 * h + h + 1, params)
    return {
        f"cuDNN LSTM({lstm_h})": Recurrent(torch.nn.LSTM(1, lstm_h, batch_first=True), lstm_h).to(device),
        f"cuDNN RNN({rnn_h})": Recurrent(torch.nn.RNN(1, rnn_h, batch_first=True), rnn_h).to(device),
    }


class Recurrent(torch.nn.Module):
    def __init__(self, rnn, hidden: int):
        super().__init__()
        self.rnn, self.out = rnn, torch.nn.Linear(hidden, 1)

    def forward(self, x):
        return self.out(self.rnn(x)[0]), None


def count(model) -> int:
    return sum(p.numel() for p in model.parameters())


def sync(device) -> None:
    if torch.device(device).type == "cuda":
        torch.cuda.synchronize()


def samples_per_s(model, batch: int, steps: int, min_seconds: float) -> float:
    """Forward + backward rate in samples/s, after one warm-up step (compilation, cuDNN plans)."""
    device = next(model.parameters()).device
    x = torch.randn(batch, steps, 1, device=device)
    y = torch.randn(batch, steps, 1, device=device)

    def step():
        model.zero_grad(set_to_none=True)
        torch.nn.functional.mse_loss(model(x)[0], y).backward()

    return batch * steps / seconds_per_call(step, device, min_seconds)


def seconds_per_call(step, device, min_seconds: float) -> float:
    """Seconds one ``step()`` takes, after one warm-up call (compilation, cuDNN plans), at least twice."""
    step()
    sync(device)
    n, start = 0, time.perf_counter()
    while n < 2 or time.perf_counter() - start < min_seconds:
        step()
        n += 1
        sync(device)
    return (time.perf_counter() - start) / n


def default_path(model, batch: int) -> str:
    """What CWRNN.forward runs by default at ``batch`` (gpu.gpu_path), and any fallback's reason."""
    from cwrnn_audio.gpu import gpu_path

    with switched({}), warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model(torch.zeros(1, 8, 1, device=model.W_H.device))
        path = gpu_path(model.W_H, model.config.module_sizes, batch) or "the CPU's own"
    said = [str(w.message) for w in caught if "not used" in str(w.message)]
    return f"{path} ({said[0]})" if said else path


def chain_ticks(k: int, batch: int, ticks: int, device, min_seconds: float) -> dict:
    """Forward + backward time per tick of one chain of ``k`` units, by chain kernel (us)."""
    from cwrnn_audio.gpu.chain import chain_for

    U = torch.randn(batch, ticks, k, device=device, requires_grad=True)
    W = (torch.randn(k, k, device=device) / k**0.5).requires_grad_()
    h0 = torch.zeros(batch, k, device=device)
    out = {}
    for name in ("cudnn", "triton"):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            chain = chain_for(name, [k], U, W, h0)
        if caught:
            out[name] = None
            continue

        def step(chain=chain):
            chain(U, W, h0).sum().backward()

        out[name] = seconds_per_call(step, device, min_seconds) / ticks * 1e6
    return out


def kernels(args) -> None:
    print(f"\n1. forward + backward, {args.steps} steps, M samples/s (batch x steps / s)")
    for k in args.sizes:
        torch.manual_seed(0)
        cw = CWRNN(input_size=1, output_size=1, num_modules=8, module_size=k).to(args.device)
        paths = ", ".join(f"B {b}: {default_path(cw, b)}" for b in args.batches)
        print(f"CW-RNN 8 x {k}: {cw.num_parameters} parameters; default path {paths}")
        rows = {}
        for batch in args.batches:
            for name, values in PATHS.items():
                with switched(values), warnings.catch_warnings():
                    warnings.simplefilter("ignore")  # a refusal is reported once, by default_path
                    rows[name, batch] = samples_per_s(cw, batch, args.steps, args.min_seconds)
            for name, net in baselines(cw.num_parameters, args.device).items():
                rows[name, batch] = samples_per_s(net, batch, args.steps, args.min_seconds)
        names = dict.fromkeys(name for name, _ in rows)
        for name in names:
            cells = "  ".join(f"B {b}: {rows[name, b] / 1e6:9.3f}" for b in args.batches)
            print(f"  {name:<36}{cells}")
        for name in list(names)[1:]:
            ratios = "  ".join(f"B {b}: {rows['default', b] / rows[name, b]:8.2f}x" for b in args.batches)
            print(f"  {'default / ' + name:<36}{ratios}")
        for batch in args.batches:
            per_tick = chain_ticks(k, batch, args.steps, args.device, args.min_seconds)
            cells = "  ".join(
                f"{name}: {'refused' if us is None else f'{us:.3f} us'}" for name, us in per_tick.items()
            )
            print(f"  chain of {k} units only, B {batch}, forward + backward per tick: {cells}")


def paper(args) -> None:
    cmd = [sys.executable, "-m", "cwrnn_audio", "paper", "generation", "--backend", "torch"]
    cmd += ["--device", args.device, "-q", *shlex.split(args.paper_args)]
    print(f"\n2. the paper's protocol: {' '.join(cmd[1:])} (target on a GPU < 60 s)")
    with tempfile.TemporaryDirectory() as out:
        start = time.perf_counter()
        try:
            r = subprocess.run(
                [*cmd, "--out", out], capture_output=True, text=True, timeout=args.paper_timeout
            )
        except subprocess.TimeoutExpired:
            print(f"  not finished after {args.paper_timeout:.0f} s (stopped)")
            return
        seconds = time.perf_counter() - start
    if r.returncode:
        print(f"  failed (exit {r.returncode}) after {seconds:.1f} s: {r.stderr.strip().splitlines()[-1:]}")
    else:
        print(f"  {seconds:.1f} s wall")


def train_samples_per_epoch(clip, cfg) -> int:
    """Steps trained per epoch: every stream's training part, cut into chunks as the trainer cuts it."""
    from cwrnn_audio.audio.dataset import load_corpus
    from cwrnn_audio.data.windows import split_stream

    adapter = cfg.adapter()
    clips, _ = load_corpus([clip], cfg.sample_rate, channels=cfg.channels, min_frames=cfg.window * 2)
    cut = dict(window=cfg.window, chunk_windows=cfg.chunk_windows, val_fraction=cfg.val_fraction)
    streams = [s for _, audio in clips for s in adapter.streams(audio)]
    return sum(len(x) for s in streams for x, _ in split_stream(*s, **cut)[0])


def train_rate(clip, device: str, epochs: int) -> float:
    """Samples/s of ``train audio`` (mu-law, the CLI's defaults) in its fastest epoch after the first."""
    from cwrnn_audio.audio.fit import AudioTrainConfig, train_audio

    cfg = AudioTrainConfig(epochs=epochs, patience=epochs, device=device)
    with tempfile.TemporaryDirectory() as out:
        history = train_audio([clip], out, cfg, progress=False, log=lambda s: None)
    return train_samples_per_epoch(clip, cfg) / min(history["seconds"][1:] or history["seconds"])


def train(args) -> None:
    print(f"\n3. train audio {os.path.basename(args.train_clip)}, {args.train_epochs} epochs (target >= 20x)")
    dev = train_rate(args.train_clip, args.device, args.train_epochs)
    cpu = train_rate(args.train_clip, "cpu", args.train_epochs)
    threads = torch.get_num_threads()
    print(
        f"  {args.device}: {dev:,.0f} samples/s   cpu ({threads} threads): {cpu:,.0f} samples/s   ratio {dev / cpu:.2f}x"
    )


def describe(device) -> str:
    if torch.device(device).type != "cuda":
        return f"{device}: a smoke run (torch {torch.__version__}); the figures say nothing about a GPU"
    tf32 = torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32
    name = torch.cuda.get_device_name(device)
    return f"{name}, torch {torch.__version__}, CUDA {torch.version.cuda}; TF32 matmul/cuDNN {tf32}"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument(
        "--sizes", type=csv(int), default=(16, 32, 64), help="module sizes K of 8 x K (default: 16,32,64)"
    )
    ap.add_argument("--batches", type=csv(int), default=(64, 256), help="default: 64,256")
    ap.add_argument("--steps", type=int, default=1024)
    ap.add_argument(
        "--min-seconds", type=float, default=1.0, help="timed per measurement, at least two steps"
    )
    ap.add_argument("--skip-paper", action="store_true")
    ap.add_argument(
        "--paper-timeout", type=float, default=600.0, help="seconds before the protocol is stopped"
    )
    ap.add_argument("--paper-args", default="", help="extra options, e.g. '--methods lstm --sizes 100'")
    ap.add_argument("--skip-train", action="store_true")
    ap.add_argument("--train-clip", default=str(cwrnn_audio_samples.path("bach_prelude_fluidr3.flac")))
    ap.add_argument("--train-epochs", type=int, default=3)
    ap.add_argument("--device", default="cuda", help="cpu: a smoke run of the same code (default: cuda)")
    args = ap.parse_args()
    if args.device.startswith("cuda") and not torch.cuda.is_available():
        why = "built without CUDA" if torch.version.cuda is None else "no CUDA device found"
        print(f"bench_train_gpu: no CUDA GPU (torch {torch.__version__}, {why}); nothing measured")
        return 0
    print(describe(args.device))
    kernels(args)
    if not args.skip_paper:
        paper(args)
    if not args.skip_train:
        train(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
