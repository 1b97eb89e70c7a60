"""Truncated-BPTT training of any recurrent model on streams of (inputs, targets), torch path.

Each stream is split in time: the last ``val_fraction`` is held out, the rest
is cut into chunks of ``chunk_windows`` windows. Chunks from all streams are
shuffled into batches each epoch; within a chunk, windows are trained in
order with the state (hidden values, and the clock for a CW-RNN) carried from
one window to the next and detached between them. The best epoch by
validation loss is saved, a checkpoint is written every epoch, and a run
resumed from it ends with the same weights.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from ..checks import valid_choice
from ..data.windows import split_stream
from ..errors import ParameterError
from ..io.atomic import atomic_path
from .checkpoint import load_checkpoint, save_checkpoint

LOSSES = ("ce", "mse", "bce")


@dataclass
class LoopConfig:
    window: int = 256  # truncated-BPTT window, in steps
    chunk_windows: int = 8  # windows per chunk with the state carried across them
    batch: int = 16  # chunks per batch
    epochs: int = 20
    lr: float = 3e-3  # Adam
    clip: float = 1.0  # gradient-norm clip
    input_noise: float = 0.0  # std of Gaussian noise on training inputs: robustness to the model's own errors
    val_fraction: float = 0.1  # tail of each stream held out
    patience: int = 5  # epochs without a better validation loss before stopping
    seed: int = 0
    device: str = "cpu"

    def __post_init__(self):
        for key in ("window", "chunk_windows", "batch", "epochs", "patience"):
            v = getattr(self, key)
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise ParameterError(f"{key} must be a positive integer; got {v!r}")
        if not (0.0 <= self.val_fraction < 0.5):
            raise ParameterError(f"val_fraction must be in [0, 0.5); got {self.val_fraction!r}")


def _chunks(encoded, cfg):
    """Split each (inputs, targets) stream into train chunks and validation tails."""
    train, val = [], []
    for x, y in encoded:
        chunks, tail = split_stream(
            x, y, window=cfg.window, chunk_windows=cfg.chunk_windows, val_fraction=cfg.val_fraction
        )
        train.extend(chunks)
        if tail is not None:
            val.append(tail)
    return train, val


def sequence_loss(kind, out, target):
    """Mean loss per step: cross-entropy over classes, mean squared error, or per-label binary cross-entropy."""
    if kind == "ce":
        return torch.nn.functional.cross_entropy(out.reshape(-1, out.shape[-1]), target.reshape(-1))
    if kind == "bce":
        return torch.nn.functional.binary_cross_entropy_with_logits(out, target)
    return torch.nn.functional.mse_loss(out, target)


def _detach(state):
    if isinstance(state, tuple) and hasattr(state, "_fields"):  # CWRNNState: the clock has no gradient
        return type(state)(state.h.detach(), state.t)
    return tuple(s.detach() for s in state)


def train_batch(net, model, opt, kind, xs, ys, cfg) -> list[float]:
    """One batch of chunks ``xs`` (B, L, I), window by window with the state carried and detached.

    ``net`` runs the forward (``model`` itself, or its DDP wrapper); gradients are clipped on
    ``model``'s parameters. Returns each window's loss.
    """
    hx, losses = None, []
    for w in range(0, xs.shape[1], cfg.window):
        out_w, state = net(xs[:, w : w + cfg.window], hx)
        batch_loss = sequence_loss(kind, out_w, ys[:, w : w + cfg.window])
        opt.zero_grad()
        batch_loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.clip)
        opt.step()
        hx = _detach(state)
        losses.append(batch_loss.item())
    return losses


def _to(arr, device):
    return torch.from_numpy(np.ascontiguousarray(arr)).to(device)


def train_sequences(
    streams,
    model,
    loss: str,
    out_dir,
    cfg: LoopConfig,
    *,
    save,
    settings: dict,
    resume=False,
    progress=True,
    log=print,
) -> dict:
    """Train ``model`` in place on ``streams`` ``[(inputs (T, I), targets (T,) or (T, O))]``.

    ``save(model, info)`` writes the deliverable (called on each new best epoch);
    ``settings`` (JSON-able) must match for a checkpoint in ``out_dir/checkpoint`` to be resumed.
    Returns the history: ``train_loss``, ``val_loss`` per epoch, ``best_epoch``, ``seconds``.
    """
    from tqdm.auto import tqdm

    kind = valid_choice(loss, LOSSES, name="loss")
    out = Path(out_dir)
    train, val = _chunks(streams, cfg)
    if not train:
        raise ParameterError(
            f"not enough data for one window of {cfg.window} steps after the validation split"
        )
    torch.manual_seed(cfg.seed)
    dev = torch.device(cfg.device)
    model = model.to(dev)
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    history = {"train_loss": [], "val_loss": [], "best_epoch": 0, "seconds": []}
    best = float("inf")
    start_epoch = 0
    ckpt = out / "checkpoint"
    settings = json.loads(json.dumps(settings))
    found = load_checkpoint(ckpt) if resume else None
    if found is not None:
        arrays, info = found
        if info["settings"] != settings:
            raise ParameterError(f"{ckpt}: made with other settings; train into another folder")
        load_training_arrays(model, opt, arrays)
        history, best, start_epoch = info["history"], info["best"], info["epoch"]
        torch.set_rng_state(torch.tensor(info["torch_rng"], dtype=torch.uint8))
    elif out.exists() and any(out.iterdir()) and not resume:
        raise ParameterError(f"{out} is not empty; use --resume to continue or choose another folder")

    rng = np.random.default_rng(cfg.seed)
    for _ in range(start_epoch):  # the shuffles already used, so a resumed run continues the same sequence
        rng.permutation(len(train))
    stale = start_epoch - history["best_epoch"] if start_epoch else 0
    for epoch in range(start_epoch, cfg.epochs):
        t0 = time.perf_counter()
        model.train()
        order = rng.permutation(len(train))
        losses = []
        bar = tqdm(
            total=len(order), disable=not progress, unit="chunk", desc=f"epoch {epoch + 1}/{cfg.epochs}"
        )
        for b in range(0, len(order), cfg.batch):
            group = [train[i] for i in order[b : b + cfg.batch]]
            L = min(len(x) for x, _ in group)  # equal lengths within a batch
            xs = _to(np.stack([x[:L] for x, _ in group]), dev)
            ys = _to(np.stack([y[:L] for _, y in group]), dev)
            if cfg.input_noise > 0:
                xs = xs + cfg.input_noise * torch.randn_like(xs)
            losses += train_batch(model, model, opt, kind, xs, ys, cfg)
            bar.update(len(group))
        bar.close()
        model.eval()
        with torch.no_grad():
            vals = [
                sequence_loss(kind, model(_to(x[None], dev))[0], _to(y[None], dev)).item() for x, y in val
            ]
        train_loss = float(np.mean(losses))
        val_loss = float(np.mean(vals)) if vals else train_loss
        history["train_loss"].append(train_loss)
        history["val_loss"].append(val_loss)
        history["seconds"].append(round(time.perf_counter() - t0, 2))
        log(f"epoch {epoch + 1}: train {train_loss:.4f}, validation {val_loss:.4f}")
        if val_loss < best:
            best, stale = val_loss, 0
            history["best_epoch"] = epoch + 1
            save(model.cpu(), {**settings, "best_epoch": epoch + 1, "val_loss": val_loss})
            model.to(dev)
        else:
            stale += 1
        _save_checkpoint(ckpt, model, opt, history, best, epoch + 1, settings)
        if stale >= cfg.patience:
            log(f"stopping early: no better validation loss for {cfg.patience} epochs")
            break
    write_history(out, history)
    return history


def training_arrays(model, opt) -> dict:
    """The model's and the Adam optimiser's tensors, flat, for a checkpoint."""
    arrays = {f"model.{k}": v.detach().cpu().numpy() for k, v in model.state_dict().items()}
    for i, st in opt.state_dict()["state"].items():
        for k, v in st.items():
            arrays[f"opt.{i}.{k}"] = v.detach().cpu().reshape(v.shape).numpy()
    return arrays


def load_training_arrays(model, opt, arrays) -> None:
    """Inverse of :func:`training_arrays`, in place (Adam moves its moments to the parameters' device)."""
    model.load_state_dict({k[6:]: torch.from_numpy(v) for k, v in arrays.items() if k.startswith("model.")})
    sd = opt.state_dict()
    for i in range(len(sd["param_groups"][0]["params"])):
        if f"opt.{i}.exp_avg" in arrays:
            sd["state"][i] = {
                k: torch.from_numpy(arrays[f"opt.{i}.{k}"].copy()) for k in ("step", "exp_avg", "exp_avg_sq")
            }
    opt.load_state_dict(sd)


def _save_checkpoint(ckpt: Path, model, opt, history, best, epoch, settings) -> None:
    info = {
        "history": history,
        "best": best,
        "settings": settings,
        "torch_rng": torch.get_rng_state().tolist(),
    }
    save_checkpoint(ckpt, epoch, training_arrays(model, opt), info)


def write_history(out: Path, history: dict, *, plot: bool = True) -> None:
    """``history.json``, ``metrics.csv`` (a row per epoch) and, with ``plot``, ``loss_curve.png``."""
    with atomic_path(out / "history.json") as tmp:
        tmp.write_text(json.dumps(history, indent=1))
    columns = [k for k in ("train_loss", "val_loss", "seconds", "samples_per_s") if k in history]
    rows = ["epoch," + ",".join(columns)]
    rows += [
        ",".join([str(e + 1)] + [str(history[k][e]) for k in columns])
        for e in range(len(history["train_loss"]))
    ]
    with atomic_path(out / "metrics.csv") as tmp:
        tmp.write_text("\n".join(rows) + "\n")
    if not plot:
        return
    try:
        from ..plots.training import loss_curve

        loss_curve(history, out / "loss_curve.png")
    except ParameterError:
        pass  # matplotlib missing: the numbers are in history.json
