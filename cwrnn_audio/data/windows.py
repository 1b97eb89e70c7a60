"""Training chunks streamed from files: sharded by rank and worker, shuffled by seed and epoch.

Nothing holds the corpus: each worker reads its files one at a time, cuts them into chunks
of ``window * chunk_windows`` steps (the last ``val_fraction`` of every stream held out) and
shuffles chunks through a bounded buffer. The stream cycles through the worker's files, so a
trainer takes the same number of batches on every rank (DDP needs that) and stops when it
has them.
"""

from __future__ import annotations

import numpy as np
import torch

from ..errors import ParameterError


def split_stream(x, y, *, window: int, chunk_windows: int, val_fraction: float, full_only: bool = False):
    """(train chunks [(x, y)], validation tail (x, y) or None) of one stream.

    Chunks hold ``chunk_windows`` windows; the last one of a stream may be shorter (a whole
    number of windows) unless ``full_only``. The tail is kept if it spans a window.
    """
    T = x.shape[0]
    cut = T - int(round(T * val_fraction))
    val = (x[cut:], y[cut:]) if T - cut >= window else None
    L = window * chunk_windows
    n = (cut // L) * L if full_only else (cut // window) * window
    chunks = [(x[s : min(s + L, n)], y[s : min(s + L, n)]) for s in range(0, n, L)]
    return chunks, val


class WindowDataset(torch.utils.data.IterableDataset):
    """Chunks ``(inputs (L, I), targets (L,) or (L, O))`` from ``files`` through ``loader``.

    Rank ``rank`` of ``world_size`` reads ``files[rank::world_size]``; DataLoader worker ``w``
    of ``W`` reads every ``W``-th of those. Call :meth:`set_epoch` before each epoch: the
    order is a function of ``(seed, epoch, rank, worker)`` only.
    """

    def __init__(
        self,
        files,
        loader,
        *,
        window: int,
        chunk_windows: int,
        val_fraction: float,
        seed: int = 0,
        rank: int = 0,
        world_size: int = 1,
        shuffle_buffer: int = 64,
    ):
        if len(files) < world_size:
            raise ParameterError(
                f"{len(files)} file(s) for {world_size} processes: each process needs at least one"
            )
        self.files = list(files)
        self.loader = loader
        self.window, self.chunk_windows, self.val_fraction = window, chunk_windows, val_fraction
        self.seed, self.rank, self.world_size = seed, rank, world_size
        self.shuffle_buffer = max(1, int(shuffle_buffer))
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    @property
    def rank_files(self) -> list:
        return self.files[self.rank :: self.world_size]

    def _split(self, streams):
        kw = dict(
            window=self.window,
            chunk_windows=self.chunk_windows,
            val_fraction=self.val_fraction,
            full_only=True,
        )
        return [split_stream(x, y, **kw) for x, y in streams]

    def index(self, *, max_val_windows: int = 8) -> dict:
        """One pass over this rank's files: ``chunks`` (count), validation ``val`` tails (at most
        ``max_val_windows`` windows per stream), per-file ``meta`` and ``skipped`` [(path, reason)]."""
        out = {"chunks": 0, "val": [], "meta": [], "skipped": []}
        for f in self.rank_files:
            try:
                streams, meta = self.loader(f)
            except ParameterError as exc:
                out["skipped"].append((str(f), str(exc)))
                continue
            out["meta"].append(meta)
            for chunks, val in self._split(streams):
                out["chunks"] += len(chunks)
                if val is not None:
                    m = max_val_windows * self.window
                    out["val"].append((val[0][:m], val[1][:m]))
        return out

    def __iter__(self):
        info = torch.utils.data.get_worker_info()
        wid, workers = (info.id, info.num_workers) if info is not None else (0, 1)
        files = self.rank_files[wid::workers]
        rng = np.random.default_rng([self.seed, self.epoch, self.rank, wid])
        buffer = []
        while files:
            produced = False
            for i in rng.permutation(len(files)):
                try:
                    streams, _ = self.loader(files[i])
                except ParameterError:
                    continue  # listed by the index pass
                for chunks, _ in self._split(streams):
                    for chunk in chunks:
                        produced = True
                        if len(buffer) < self.shuffle_buffer:
                            buffer.append(chunk)
                            continue
                        j = int(rng.integers(len(buffer)))
                        yield buffer[j]
                        buffer[j] = chunk
            if not produced:
                break
        for j in rng.permutation(len(buffer)):
            yield buffer[j]
