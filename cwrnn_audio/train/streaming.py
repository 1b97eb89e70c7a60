"""Truncated-BPTT training on windows streamed from files, on one process or many (DDP).

Every rank takes the same number of batches per epoch (the corpus's chunks divided by
batch x processes; each rank's stream cycles through its files), so DDP's gradient
all-reduce never waits on a finished rank. Data order, input noise and so the whole run are
functions of the seed and the epoch: a run resumed from the last checkpoint ends with the
same weights as one never interrupted. Rank 0 writes checkpoints and the model folder; all
ranks read the checkpoint back on resume. The epochs are :class:`~.loop.EpochLoop`'s, with
:class:`~.sequence.SequenceTask` on this rank.
"""

from __future__ import annotations

import gc
from pathlib import Path

import numpy as np
import torch

from ..checks import valid_choice, valid_int
from ..data.windows import WindowDataset
from ..errors import ParameterError
from .loop import refuse_nonempty
from .sequence import LOSSES, SequenceTask, run_sequence_loop, to_device


class StreamBatches:
    """``steps`` batches per epoch from a :class:`WindowDataset`, input noise seeded by (seed, epoch, rank)."""

    unit, streaming = "batch", True

    def __init__(self, ds, cfg, ranks, steps, workers):
        self.ds, self.cfg, self.ranks, self.total = ds, cfg, ranks, steps
        self.loader = torch.utils.data.DataLoader(ds, batch_size=cfg.batch, num_workers=workers)

    def skip(self, epochs: int) -> None:
        pass  # the order is a function of the epoch

    def epoch(self, epoch: int):
        self.ds.set_epoch(epoch)
        seed = np.random.SeedSequence([self.cfg.seed, epoch, self.ranks.rank]).generate_state(1)[0]
        noise = torch.Generator().manual_seed(int(seed))
        it = iter(self.loader)
        for _ in range(self.total):
            xs, ys = next(it)
            if self.cfg.input_noise > 0:
                xs = xs + self.cfg.input_noise * torch.randn(xs.shape, generator=noise)
            yield xs.to(self.ranks.device), ys.to(self.ranks.device), 1
        del it


def _index(files, loader, cfg, ranks, shuffle_buffer):
    """(dataset, this rank's validation tails, skipped, meta, batches per epoch), agreed by all ranks."""
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
    steps = sum(counts) // (cfg.batch * ranks.world_size)
    if min(counts) == 0 or steps == 0:
        raise ParameterError(
            f"chunks of {cfg.window * cfg.chunk_windows} steps per process: {counts}; need at least one per "
            f"process and {cfg.batch} per batch "
            "(use shorter --window / --chunk-windows, a smaller --batch or fewer processes)"
        )
    val = [(to_device(a[None], ranks.device), to_device(b[None], ranks.device)) for a, b in index["val"]]
    return ds, val, skipped, meta, steps


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
    kind = valid_choice(loss, LOSSES, name="loss")
    workers = valid_int(workers, name="workers")
    out = Path(out_dir)
    refuse_nonempty(out, resume)
    ranks.barrier()  # every rank has looked before rank 0 writes anything
    ds, val, skipped, meta, steps = _index(files, loader, cfg, ranks, shuffle_buffer)
    model = model.to(ranks.device)
    batches = StreamBatches(ds, cfg, ranks, steps, workers)
    save_with_meta = lambda m, info: save(m, info, meta)
    task = SequenceTask(
        model, kind, cfg, batches, val, save=save_with_meta, ranks=ranks, progress=progress, log=log
    )
    history = run_sequence_loop(task, out, settings, resume=resume)
    # DDP sits in reference cycles: left to the garbage collector it could be torn down after
    # the process group and abort the process ("terminate called without an active exception")
    del task
    gc.collect()
    ranks.barrier()
    return {**history, "skipped": skipped, "meta": meta}
