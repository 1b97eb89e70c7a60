"""Truncated-BPTT training on windows streamed from files, on one process or many (DDP).

Every rank takes the same number of batches per epoch (the corpus's chunks divided by
batch x processes; each rank's stream cycles through its files), so DDP's gradient
all-reduce never waits on a finished rank. Data order, input noise and so the whole run are
functions of the seed and the epoch: a run resumed from the last checkpoint ends with the
same weights as one never interrupted. Rank 0 writes checkpoints and the model folder; all
ranks read the checkpoint back on resume.
"""

from __future__ import annotations

import copy
import gc
import hashlib
import json
import time
from pathlib import Path

import numpy as np
import torch

from ..checks import valid_choice
from ..data.windows import WindowDataset
from ..errors import ParameterError
from .checkpoint import load_checkpoint, save_checkpoint
from .sequence import LOSSES, load_training_arrays, sequence_loss, train_batch, training_arrays, write_history


def weights_digest(model) -> str:
    """SHA-256 of the parameters' bytes: equal on every rank when DDP keeps them in step."""
    h = hashlib.sha256()
    for v in model.state_dict().values():
        h.update(v.detach().cpu().numpy().tobytes())
    return h.hexdigest()


def _silent(*_args, **_kwargs) -> None:
    pass


def train_streaming(
    files,
    loader,
    model,
    loss: str,
    out_dir,
    cfg,
    *,
    ranks,
    save,
    settings: dict,
    workers: int = 0,
    shuffle_buffer: int = 64,
    resume=False,
    progress=True,
    log=print,
) -> dict:
    """Train ``model`` in place on chunks of ``files`` read by ``loader`` (see :mod:`cwrnn_audio.data`).

    ``ranks``: a :class:`~cwrnn_audio.train.distributed.Ranks`; ``save(model, info, meta)`` writes
    the model folder (rank 0, each new best epoch; ``meta``: every file's loader meta). Returns the history
    (``train_loss``, ``val_loss``, ``seconds``, ``samples_per_s`` per epoch, ``best_epoch``) with
    ``skipped`` files and every file's loader ``meta``.
    """
    from tqdm.auto import tqdm

    kind = valid_choice(loss, LOSSES, name="loss")
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 0:
        raise ParameterError(f"workers must be an integer >= 0; got {workers!r}")
    log = log if ranks.is_main else _silent
    out = Path(out_dir)
    ckpt = out / "checkpoint"
    found = load_checkpoint(ckpt) if resume else None
    if found is None and out.exists() and any(out.iterdir()):
        raise ParameterError(f"{out} is not empty; use --resume to continue or choose another folder")
    ranks.barrier()  # every rank has looked before rank 0 writes anything

    ds = WindowDataset(
        files,
        loader,
        window=cfg.window,
        chunk_windows=cfg.chunk_windows,
        val_fraction=cfg.val_fraction,
        seed=cfg.seed,
        rank=ranks.rank,
        world_size=ranks.world_size,
        shuffle_buffer=shuffle_buffer,
    )
    index = ds.index()
    skipped = [s for part in ranks.gather(index["skipped"]) for s in part]
    meta = [m for part in ranks.gather(index["meta"]) for m in part]
    counts = ranks.gather(index["chunks"])
    L = cfg.window * cfg.chunk_windows
    steps = sum(counts) // (cfg.batch * ranks.world_size)
    if min(counts) == 0 or steps == 0:
        raise ParameterError(
            f"chunks of {L} steps per process: {counts}; need at least one per process and {cfg.batch} per batch "
            "(use shorter --window / --chunk-windows, a smaller --batch or fewer processes)"
        )

    dev = ranks.device
    model = model.to(dev)
    net = torch.nn.parallel.DistributedDataParallel(model) if ranks.grouped else model
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    history = {
        "train_loss": [],
        "val_loss": [],
        "best_epoch": 0,
        "seconds": [],
        "samples_per_s": [],
        "processes": ranks.world_size,
    }
    best, start_epoch = float("inf"), 0
    settings = json.loads(json.dumps(settings))
    if found is not None:
        arrays, info = found
        if info["settings"] != settings:
            raise ParameterError(f"{ckpt}: made with other settings; train into another folder")
        load_training_arrays(model, opt, arrays)
        history, best, start_epoch = info["history"], info["best"], info["epoch"]
        if info.get("processes") != ranks.world_size:
            log(
                f"note: the checkpoint was written by {info.get('processes')} process(es); continuing on {ranks.world_size}"
            )
        history["processes"] = ranks.world_size

    batches = torch.utils.data.DataLoader(ds, batch_size=cfg.batch, num_workers=workers)
    val = [
        (
            torch.from_numpy(np.ascontiguousarray(x))[None].to(dev),
            torch.from_numpy(np.ascontiguousarray(y))[None].to(dev),
        )
        for x, y in index["val"]
    ]
    stale = start_epoch - history["best_epoch"] if start_epoch else 0
    for epoch in range(start_epoch, cfg.epochs):
        t0 = time.perf_counter()
        ds.set_epoch(epoch)
        noise = torch.Generator().manual_seed(
            int(np.random.SeedSequence([cfg.seed, epoch, ranks.rank]).generate_state(1)[0])
        )
        model.train()
        losses = []
        it = iter(batches)
        for _ in tqdm(
            range(steps),
            disable=not (progress and ranks.is_main),
            unit="batch",
            desc=f"epoch {epoch + 1}/{cfg.epochs}",
        ):
            xs, ys = next(it)
            if cfg.input_noise > 0:
                xs = xs + cfg.input_noise * torch.randn(xs.shape, generator=noise)
            losses += train_batch(net, model, opt, kind, xs.to(dev), ys.to(dev), cfg)
        del it
        model.eval()
        with torch.no_grad():
            v = [(sequence_loss(kind, model(x)[0], y).item() * x.shape[1], x.shape[1]) for x, y in val]
        tl, tn, vl, vn = ranks.sum([sum(losses), len(losses), sum(a for a, _ in v), sum(b for _, b in v)])
        digests = ranks.gather(weights_digest(model))
        if len(set(digests)) != 1:
            raise RuntimeError(f"epoch {epoch + 1}: the ranks' weights differ ({digests})")
        seconds = time.perf_counter() - t0
        train_loss = tl / tn
        val_loss = vl / vn if vn else train_loss
        history["train_loss"].append(train_loss)
        history["val_loss"].append(val_loss)
        history["seconds"].append(round(seconds, 2))
        history["samples_per_s"].append(round(steps * cfg.batch * L * ranks.world_size / seconds, 1))
        history.setdefault("weights_digests", []).append(digests)  # one per rank
        log(
            f"epoch {epoch + 1}: train {train_loss:.4f}, validation {val_loss:.4f}, "
            f"{history['samples_per_s'][-1]:,.0f} samples/s on {ranks.world_size} process(es)"
        )
        if val_loss < best:
            best, stale = val_loss, 0
            history["best_epoch"] = epoch + 1
            if ranks.is_main:
                save(
                    copy.deepcopy(model).cpu(),
                    {**settings, "best_epoch": epoch + 1, "val_loss": val_loss},
                    meta,
                )
        else:
            stale += 1
        if ranks.is_main:
            info = {"history": history, "best": best, "settings": settings, "processes": ranks.world_size}
            save_checkpoint(ckpt, epoch + 1, training_arrays(model, opt), info)
            write_history(out, history, plot=False)
        ranks.barrier()
        if stale >= cfg.patience:
            log(f"stopping early: no better validation loss for {cfg.patience} epochs")
            break
    if ranks.is_main:
        write_history(out, history)
    # DDP sits in reference cycles: left to the garbage collector it could be torn down after
    # the process group and abort the process ("terminate called without an active exception")
    del net
    gc.collect()
    ranks.barrier()
    return {**history, "skipped": skipped, "meta": meta}
