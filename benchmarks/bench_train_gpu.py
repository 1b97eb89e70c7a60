"""Training speed on a CUDA GPU (issue 14): the CW-RNN's paths against cuDNN, the paper's protocol, train audio.

Usage: python benchmarks/bench_train_gpu.py [--sizes 16,32,64] [--batches 64,256] [--steps 1024]
       [--skip-paper] [--paper-timeout S] [--skip-train] [--train-epochs N]

1. Forward + backward (MSE through a linear read-out) in M samples/s (batch x steps per second),
   for CW-RNN 8 x K through ``CWRNN.forward`` on its default CUDA path (the fused kernels, where
   they take the configuration), the same with CWRNN_AUDIO_FUSED=0 (the step loop), and cuDNN
   ``torch.nn.LSTM`` and ``torch.nn.RNN(nonlinearity='tanh')`` whose hidden sizes give the nearest
   parameter count; then the ratios. Targets: default >= 1.0x LSTM at batch 64 (8 x 16, 8 x 32),
   >= 2x at batch 256, >= 100x the step loop.
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

SWITCH = "CWRNN_AUDIO_FUSED"  # read on every call by cwrnn_audio.gpu.use_fused


def csv(kind):
    return lambda s: tuple(kind(v) for v in s.split(","))


@contextlib.contextmanager
def fused(value: str | None):
    """CWRNN_AUDIO_FUSED set to ``value`` (None: unset, the default path) for one measurement."""
    old = os.environ.pop(SWITCH, None)
    if value is not None:
        os.environ[SWITCH] = value
    try:
        yield
    finally:
        os.environ.pop(SWITCH, None)
        if old is not None:
            os.environ[SWITCH] = old


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

    step()
    sync(device)
    n, start = 0, time.perf_counter()
    while n < 2 or time.perf_counter() - start < min_seconds:
        step()
        n += 1
        sync(device)
    return n * batch * steps / (time.perf_counter() - start)


def default_path(model, steps: int) -> str:
    """What CWRNN.forward runs by default: 'fused', or why it fell back to the step loop."""
    with fused(None), warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model(torch.zeros(1, min(steps, 8), 1, device=model.W_H.device))
    try:
        from cwrnn_audio.gpu import use_fused
    except ImportError:
        return "step loop (no fused kernels in this checkout)"
    fell_back = [str(w.message) for w in caught if "fused" in str(w.message)]
    if fell_back:
        return f"step loop ({fell_back[0]})"
    return "fused" if use_fused(model.W_H) else "step loop (fused kernels not wanted here)"


def kernels(args) -> None:
    print(f"\n1. forward + backward, {args.steps} steps, M samples/s (batch x steps / s)")
    for k in args.sizes:
        torch.manual_seed(0)
        cw = CWRNN(input_size=1, output_size=1, num_modules=8, module_size=k).to(args.device)
        print(f"CW-RNN 8 x {k}: {cw.num_parameters} parameters; default path: {default_path(cw, args.steps)}")
        rows = {}
        for batch in args.batches:
            with fused(None):
                rows["default", batch] = samples_per_s(cw, batch, args.steps, args.min_seconds)
            with fused("0"):
                rows["step loop", batch] = samples_per_s(cw, batch, args.steps, args.min_seconds)
            for name, net in baselines(cw.num_parameters, args.device).items():
                rows[name, batch] = samples_per_s(net, batch, args.steps, args.min_seconds)
        names = dict.fromkeys(name for name, _ in rows)
        for name in names:
            cells = "  ".join(f"B {b}: {rows[name, b] / 1e6:9.3f}" for b in args.batches)
            print(f"  {name:<32}{cells}")
        for name in list(names)[1:]:
            ratios = "  ".join(f"B {b}: {rows['default', b] / rows[name, b]:8.2f}x" for b in args.batches)
            print(f"  {'default / ' + name:<32}{ratios}")


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
