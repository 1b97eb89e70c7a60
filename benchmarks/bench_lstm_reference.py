"""The LSTM baseline against torch.nn.LSTM, trained with the same setting on the same excerpts.

Usage: python benchmarks/bench_lstm_reference.py TUNED_JSON AUDIO [--size 1000] [--runs 20]
           [--epochs 2000] [--seed 0] [--settings paper|tuned|both] [--one-bias] [-q]

For each setting asked for (the paper's: SGD with Nesterov momentum 0.95 at the LSTM's rate,
clipped as ``paper generation`` clips, forget-gate bias 5; and the one ``paper tune`` chose for
the LSTM at --size in TUNED_JSON), two populations of --runs networks are trained on the scored
excerpts ``paper generation --settings TUNED_JSON`` uses (second half of AUDIO, run p on
excerpt p % count), and their NMSE is printed side by side:

- project: the project's LSTM, through ``generation.train_one`` (Numba kernels);
- torch.nn.LSTM: ``torch.nn.LSTM(1, H)`` + ``torch.nn.Linear(H, 1)``, one network at a time,
  fed zeros (the paper's networks have no input; the input weights get zero gradient), with
  ``torch.optim.SGD``/``Adam``, ``clip_grad_norm_`` and autograd. Weights ~ N(0, 0.1), the
  forget slice of ``bias_ih`` at the forget bias and that of ``bias_hh`` at 0. Full batch:
  one excerpt per network, one update per epoch, loss ``loss_scale(loss, T, 1) *
  sum((y - target)**2)`` as the project's; then a free run of T steps from the zero state.

Both of torch.nn.LSTM's biases train by default, as it does (both get the same gradient, so the
effective bias bias_ih + bias_hh moves about twice as far per step, and counts twice in the
clipped norm); --one-bias holds ``bias_hh`` at 0, the
project's parametrization (one bias per gate). The torch networks are drawn from their own
seeds: the two populations are alike in distribution, not weight for weight. The torch side runs
one network at a time (vmap over torch.nn.LSTM falls back to a loop, no faster): about 150
epochs/s at --size 1000 on one CPU thread, so ~4.5 min per setting at the defaults.
"""

from __future__ import annotations

import argparse
import sys

import numpy as np
import torch
from tqdm import tqdm

from cwrnn_audio.errors import ParameterError
from cwrnn_audio.experiments.excerpts import load_music
from cwrnn_audio.experiments.generation import (
    HIDDEN,
    LEARNING_RATE,
    METHODS,
    GenerationConfig,
    _scored_excerpts,
    _tuned_run,
    nmse,
    summarize,
    train_one,
)
from cwrnn_audio.experiments.tune import load_settings
from cwrnn_audio.train.losses import loss_scale
from cwrnn_audio.train.optimizer import OptimizerConfig


def lstm_setting(
    cfg: GenerationConfig, settings: dict, size: int
) -> tuple[GenerationConfig, OptimizerConfig]:
    """(config, optimiser) ``paper generation`` trains the LSTM at ``size`` with: the paper's
    (``settings`` empty; train_one's default spelled out) or the tuned one."""
    run_cfg, opt = _tuned_run(cfg, settings, "lstm", size)
    if opt is None:
        opt = OptimizerConfig(
            name="sgd", lr=LEARNING_RATE["lstm"], momentum=cfg.momentum, nesterov=True, clip=cfg.clip
        )
    return run_cfg, opt


def torch_network(hidden: int, forget_bias: float, init_std: float, seed: int, one_bias: bool = False):
    """(torch.nn.LSTM(1, hidden), torch.nn.Linear(hidden, 1)) initialised as the paper's networks."""
    torch.manual_seed(seed)
    lstm, lin = torch.nn.LSTM(1, hidden, batch_first=True), torch.nn.Linear(hidden, 1)
    with torch.no_grad():
        for p in [*lstm.parameters(), *lin.parameters()]:
            p.normal_(0.0, init_std)
        lstm.bias_ih_l0[hidden : 2 * hidden] = forget_bias  # gates in torch's order i, f, g, o
        lstm.bias_hh_l0[hidden : 2 * hidden] = 0.0
        if one_bias:
            lstm.bias_hh_l0.zero_()
    lstm.bias_hh_l0.requires_grad_(not one_bias)
    return lstm, lin


def train_torch(lstm, lin, target, opt: OptimizerConfig, epochs: int, scale: float, bar=None):
    """Train one network on one excerpt ``(T,)``, in place: (loss of each epoch before its update,
    free-run output ``(T,)`` after training)."""
    params = [p for p in [*lstm.parameters(), *lin.parameters()] if p.requires_grad]
    if opt.name == "sgd":
        optim = torch.optim.SGD(params, lr=opt.lr, momentum=opt.momentum, nesterov=opt.nesterov)
    else:
        optim = torch.optim.Adam(params, lr=opt.lr, betas=opt.betas, eps=opt.eps)
    tgt = torch.as_tensor(np.asarray(target, np.float32))
    x = torch.zeros(1, tgt.shape[0], 1)  # no input: one input fed zeros
    losses = np.empty(epochs)
    for e in range(epochs):
        optim.zero_grad()
        loss = scale * ((lin(lstm(x)[0])[0, :, 0] - tgt) ** 2).sum()
        loss.backward()
        if opt.clip is not None:
            torch.nn.utils.clip_grad_norm_(params, opt.clip)
        optim.step()
        losses[e] = loss.item()
        if bar is not None:
            bar.update()
    with torch.no_grad():
        return losses, lin(lstm(x)[0])[0, :, 0].numpy()


def torch_population(
    run_cfg: GenerationConfig, opt, targets, size: int, one_bias=False, progress=True, desc=""
):
    """NMSE ``(runs,)`` of ``run_cfg.runs`` torch networks, run p on excerpt p % count."""
    H, P, T = HIDDEN[size]["lstm"], run_cfg.runs, targets.shape[1]
    scale = loss_scale(run_cfg.loss, T, 1)
    tgt = targets[np.arange(P) % targets.shape[0]]
    outs = np.empty((P, T), np.float32)
    with tqdm(total=P * run_cfg.epochs, desc=desc, unit="epoch", disable=not progress) as bar:
        for p in range(P):
            seq = np.random.SeedSequence(
                [run_cfg.seed, METHODS.index("lstm"), size, p, 1]
            )  # not the project's
            net = torch_network(
                H, run_cfg.lstm_forget_bias, run_cfg.init_std, int(seq.generate_state(1)[0]), one_bias
            )
            outs[p] = train_torch(*net, tgt[p], opt, run_cfg.epochs, scale, bar)[1]
    return nmse(outs, tgt)


def describe(values) -> str:
    mean, std, bad = summarize(values)
    v = np.asarray(values, np.float64)
    med = float(np.median(np.where(np.isfinite(v), v, np.inf)))
    return f"{mean:.4f} ± {std:.4f} (median {med:.4f}" + (f", {bad} diverged)" if bad else ")")


def label(kind: str, run_cfg: GenerationConfig, opt: OptimizerConfig) -> str:
    lr = f"{opt.lr:.0e}".replace("e-0", "e-")
    clip = "none" if opt.clip is None else f"{opt.clip:g}"
    return f"{kind} ({opt.name} lr {lr} clip {clip} fb {run_cfg.lstm_forget_bias:g})"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("tuned_json", help="tuned.json written by cwrnn-audio paper tune")
    ap.add_argument("audio", help="the audio file the settings were tuned on")
    ap.add_argument("--size", type=int, default=1000, choices=sorted(HIDDEN), help="parameter budget")
    ap.add_argument("--runs", type=int, default=20, help="networks per population")
    ap.add_argument("--epochs", type=int, default=2000)
    ap.add_argument("--seed", type=int, default=0, help="scored excerpts and initialisations")
    ap.add_argument("--settings", choices=("paper", "tuned", "both"), default="both")
    ap.add_argument("--one-bias", action="store_true", help="hold torch's bias_hh at 0 (the project's form)")
    ap.add_argument("-q", "--quiet", action="store_true", help="no progress bars")
    args = ap.parse_args(argv)
    try:
        settings = load_settings(args.tuned_json)
        cfg = GenerationConfig(
            runs=args.runs, epochs=args.epochs, sizes=(args.size,), methods=("lstm",), seed=args.seed
        )
        kinds = ("paper", "tuned") if args.settings == "both" else (args.settings,)
        setups = {k: lstm_setting(cfg, settings if k == "tuned" else {}, args.size) for k in kinds}
        targets = _scored_excerpts(load_music(args.audio), cfg, settings, args.audio)
    except ParameterError as exc:
        print(f"bench_lstm_reference: {exc}", file=sys.stderr)
        return 2
    progress = not args.quiet
    bias = "bias_hh held at 0" if args.one_bias else "both biases trained"
    print(
        f"torch {torch.__version__}; {args.audio}: {len(targets)} scored excerpts of {targets.shape[1]} "
        f"samples (second half), {args.runs} runs x {args.epochs} epochs, loss {cfg.loss}; torch.nn.LSTM: {bias}"
    )
    for kind, (run_cfg, opt) in setups.items():
        desc = f"{kind} {args.size}"
        project = train_one(
            "lstm", args.size, run_cfg, targets, opt=opt, desc=f"project {desc}", progress=progress
        )[0]
        ref = torch_population(
            run_cfg, opt, targets, args.size, args.one_bias, progress, f"torch.nn.LSTM {desc}"
        )
        print(
            f"LSTM {args.size} params, {label(kind, run_cfg, opt)}: project {describe(project)} | "
            f"torch.nn.LSTM {describe(ref)} over {args.runs} runs",
            flush=True,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
