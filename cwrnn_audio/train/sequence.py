"""Truncated-BPTT training of any recurrent model on streams of (inputs, targets), torch path.

Streams come whole from memory (:class:`ChunkBatches`) or window by window from files
(:class:`StreamBatches`, one process or many under DDP). The tail ``val_fraction`` of each
stream is held out (whole streams, in memory, when none is long enough for a tail; else the
run says it has no validation set); the rest is cut into chunks of ``chunk_windows`` windows,
trained in order with the state (hidden values, and the clock for a CW-RNN) carried from one window to the next
and detached between them. The epochs are :class:`~.loop.EpochLoop`'s: the best epoch by
validation loss is saved, a checkpoint is written every epoch, and a resumed run ends with the
same weights. From files, every rank takes the same number of batches per epoch, so DDP's
all-reduce never waits on a finished rank, and data order and input noise are functions of
(seed, epoch, rank).
"""

from __future__ import annotations

import contextlib
import copy
import gc
import hashlib
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch

from ..checks import valid_choice, valid_device, valid_int
from ..data.windows import WindowDataset, split_stream
from ..errors import ParameterError
from .distributed import SharedError
from .folder import array_digests, claim, file_digests, publish
from .loop import SINGLE, EpochLoop, Task

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
            setattr(self, key, valid_int(getattr(self, key), name=key, minimum=1))
        if not (0.0 <= self.val_fraction < 0.5):
            raise ParameterError(f"val_fraction must be in [0, 0.5); got {self.val_fraction!r}")
        self.device = valid_device(self.device)


def _chunks(encoded, cfg, log=print):
    """Split each (inputs, targets) stream into train chunks and validation tails.

    When no stream is long enough for a tail of a window, whole streams (the last
    ``val_fraction`` of them, at least one) are held out instead, if there are several; with
    one, there is no validation set, and the log says so (the loop then judges by training loss).
    """
    train, val = [], []
    for x, y in encoded:
        chunks, tail = split_stream(
            x, y, window=cfg.window, chunk_windows=cfg.chunk_windows, val_fraction=cfg.val_fraction
        )
        train.append(chunks)
        if tail is not None:
            val.append(tail)
    if not val and cfg.val_fraction > 0 and sum(1 for c in train if c) >= 2:
        keep = [i for i, c in enumerate(train) if c]
        held = keep[len(keep) - max(1, round(len(keep) * cfg.val_fraction)) :]
        val = [encoded[i] for i in held]
        train = [c if i not in held else [] for i, c in enumerate(train)]
        log(
            f"validation: {len(held)} of {len(keep)} streams held out whole (none is long enough for a "
            f"validation tail of {cfg.window} steps)"
        )
    elif not val:
        log(
            "no validation set (no stream is long enough for a validation tail of "
            f"{cfg.window} steps): the best epoch and early stopping go by the training loss"
        )
    return [c for chunks in train for c in chunks], val


def sequence_loss(kind, out, target, inputs):
    """Mean loss per step: cross-entropy over classes, mean squared error, or per-label binary
    cross-entropy; or ``kind(out, target, inputs)`` for a codec's own loss (``Codec.loss_function``)."""
    if callable(kind):
        return kind(out, target, inputs)
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
        batch_loss = sequence_loss(kind, out_w, ys[:, w : w + cfg.window], xs[:, w : w + cfg.window])
        opt.zero_grad()
        batch_loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.clip)
        opt.step()
        hx = _detach(state)
        losses.append(batch_loss.item())
    return losses


def to_device(arr, device):
    return torch.from_numpy(np.ascontiguousarray(arr)).to(device)


class SequenceTask(Task):
    """Truncated BPTT of ``model`` with Adam on batches from ``batches``, on one rank of ``ranks``.

    ``batches``: :class:`ChunkBatches` or :class:`StreamBatches`; a streamed source adds
    throughput and the ranks' weight digests to the history and weighs validation tails by length.
    ``val``: validation tails ``[(x (1, T, I), y)]`` on the device; ``save(model, info)`` writes the
    deliverable.
    """

    def __init__(self, model, kind, cfg, batches, val, *, save, ranks, progress=True, log=print):
        self.model, self.kind, self.cfg, self.batches, self.val = model, kind, cfg, batches, val
        self.save, self.ranks, self.progress, self.log = save, ranks, progress, log
        self.streaming = batches.streaming
        self.net = torch.nn.parallel.DistributedDataParallel(model) if ranks.grouped else model
        self.opt = torch.optim.Adam(model.parameters(), lr=cfg.lr)

    def new_history(self) -> dict:
        extra = {"samples_per_s": [], "processes": self.ranks.world_size} if self.streaming else {}
        return {**super().new_history(), **extra}

    def arrays(self) -> dict:
        return training_arrays(self.model, self.opt)

    def load(self, arrays, info) -> None:
        load_training_arrays(self.model, self.opt, arrays)
        self.batches.skip(info["epoch"])
        if self.streaming:
            if info.get("processes") != self.ranks.world_size and self.ranks.is_main:
                self.log(
                    f"note: the checkpoint was written by {info.get('processes')} process(es); "
                    f"continuing on {self.ranks.world_size}"
                )
            info["history"]["processes"] = self.ranks.world_size

    def train(self, epoch, epochs) -> dict:
        from tqdm.auto import tqdm

        self.t0, self.epoch = time.perf_counter(), epoch
        self.model.train()
        self.losses = []
        show = self.progress and self.ranks.is_main
        desc = f"epoch {epoch + 1}/{self.cfg.epochs}"
        with tqdm(
            total=self.batches.total, disable=not show, unit=self.batches.unit, desc=desc, leave=False
        ) as bar:
            for xs, ys, count in self.batches.epoch(epoch):
                self.losses += train_batch(self.net, self.model, self.opt, self.kind, xs, ys, self.cfg)
                bar.update(count)
        return {}

    def evaluate(self) -> dict:
        self.model.eval()
        with torch.no_grad():  # streamed tails weigh by their length
            v = [(sequence_loss(self.kind, self.model(x)[0], y, x).item(), x.shape[1]) for x, y in self.val]
        v = [(loss * n, n) if self.streaming else (loss, 1) for loss, n in v]
        tl, tn, vl, vn = self.ranks.sum(
            [sum(self.losses), len(self.losses), sum(a for a, _ in v), sum(b for _, b in v)]
        )
        record = {"train_loss": tl / tn, "val_loss": vl / vn if vn else tl / tn}
        if not vn:  # judged by the training loss: say so wherever the loss is shown
            self.has_validation = False
        if self.streaming:
            record.update(self._throughput())
        return record

    def _throughput(self) -> dict:
        digests = self.ranks.gather(weights_digest(self.model))
        if len(set(digests)) != 1:
            raise RuntimeError(f"epoch {self.epoch + 1}: the ranks' weights differ ({digests})")
        seconds = time.perf_counter() - self.t0
        samples = self.batches.total * self.batches.batch * self.cfg.window * self.batches.ds.chunk_windows
        return {
            "samples_per_s": round(samples * self.ranks.world_size / seconds, 1),
            "weights_digests": digests,
        }

    def describe(self, record) -> str:
        if not self.streaming:
            return ""
        return f", {record['samples_per_s']:,.0f} samples/s on {self.ranks.world_size} process(es)"

    def save_best(self, info) -> None:
        self.save(copy.deepcopy(self.model).cpu(), info)


class ChunkBatches:
    """Chunks of streams held in memory, shuffled each epoch by a generator seeded once.

    A batch holds chunks of one length (a stream's last chunk may be shorter), so every step of
    every chunk trains each epoch; batches of different lengths come in shuffled order.
    """

    unit, streaming = "chunk", False

    def __init__(self, chunks, cfg, device):
        self.chunks, self.cfg, self.device = chunks, cfg, device
        self.rng = np.random.default_rng(cfg.seed)
        self.total = len(chunks)

    def _plan(self) -> list[list[int]]:
        """This epoch's batches, as chunk indices (draws from the generator)."""
        order = self.rng.permutation(len(self.chunks))
        by_length: dict[int, list[int]] = {}
        for i in order:
            by_length.setdefault(len(self.chunks[i][0]), []).append(int(i))
        groups = [
            g[b : b + self.cfg.batch] for g in by_length.values() for b in range(0, len(g), self.cfg.batch)
        ]
        if len(by_length) > 1:
            groups = [groups[i] for i in self.rng.permutation(len(groups))]
        return groups

    def skip(self, epochs: int) -> None:
        """Draw the shuffles already used, so a resumed run continues the same sequence."""
        for _ in range(epochs):
            self._plan()

    def epoch(self, epoch: int):
        for idx in self._plan():
            group = [self.chunks[i] for i in idx]
            xs = to_device(np.stack([x for x, _ in group]), self.device)
            ys = to_device(np.stack([y for _, y in group]), self.device)
            if self.cfg.input_noise > 0:
                xs = xs + self.cfg.input_noise * torch.randn_like(xs)
            yield xs, ys, len(group)


class StreamBatches:
    """``steps`` batches per epoch from a :class:`WindowDataset`, input noise seeded by (seed, epoch, rank)."""

    unit, streaming = "batch", True

    def __init__(self, ds, cfg, ranks, steps, workers, batch=None):
        self.ds, self.cfg, self.ranks, self.total = ds, cfg, ranks, steps
        self.batch = batch or cfg.batch
        self.loader = torch.utils.data.DataLoader(ds, batch_size=self.batch, num_workers=workers)

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


def _index(files, loader, cfg, ranks, shuffle_buffer, log=print):
    """(dataset, this rank's validation tails, skipped, meta, batches per epoch, chunks per batch),
    agreed by all ranks.

    Only whole chunks stream, so a small corpus adapts rather than fails (said once): files
    shorter than a chunk of ``cfg.chunk_windows`` windows train in chunks of fewer windows, and
    fewer chunks than one ``cfg.batch`` per process train in smaller batches."""
    kw = dict(window=cfg.window, val_fraction=cfg.val_fraction, seed=cfg.seed, shuffle_buffer=shuffle_buffer)
    kw.update(rank=ranks.rank, world_size=ranks.world_size)
    for windows in range(cfg.chunk_windows, 0, -1):
        try:
            ds = WindowDataset(files, loader, chunk_windows=windows, **kw)
        except ParameterError as exc:  # the same on every rank
            raise SharedError(str(exc)) from None
        index = ds.index()
        counts = ranks.gather(index["chunks"])
        if min(counts) > 0:
            break
    else:
        raise SharedError(
            f"files too short for one window of {cfg.window} steps per process (chunks per process: "
            f"{counts}); use a shorter --window, more or longer files, or fewer processes"
        )
    skipped = [s for part in ranks.gather(index["skipped"]) for s in part]
    meta = [m for part in ranks.gather(index["meta"]) for m in part]
    say = log if ranks.is_main else (lambda _: None)
    if windows < cfg.chunk_windows:
        say(
            f"note: the files are shorter than a chunk of {cfg.chunk_windows} windows of {cfg.window} steps "
            f"(after the validation tail); training in chunks of {windows} window(s)"
        )
    batch = min(cfg.batch, sum(counts) // ranks.world_size)
    if batch < cfg.batch:
        say(
            f"note: {sum(counts)} chunks on {ranks.world_size} process(es) make fewer than --batch "
            f"{cfg.batch} per process; training with batches of {batch}"
        )
    steps = sum(counts) // (batch * ranks.world_size)
    val = [(to_device(a[None], ranks.device), to_device(b[None], ranks.device)) for a, b in index["val"]]
    return ds, val, skipped, meta, steps, batch


def weights_digest(model) -> str:
    """SHA-256 of the parameters' bytes: equal on every rank when DDP keeps them in step."""
    h = hashlib.sha256()
    for v in model.state_dict().values():
        h.update(v.detach().cpu().numpy().tobytes())
    return h.hexdigest()


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


def _run(model, codec, cfg, batches, val, out, *, ranks, save, resume, progress, log, data) -> dict:
    """The epochs, on :class:`~.loop.EpochLoop`: a checkpoint per epoch in ``out/checkpoint``, the history in ``out``."""
    kind = codec.loss_function()
    if not callable(kind):
        kind = valid_choice(kind, LOSSES, name="loss")
    task = SequenceTask(model, kind, cfg, batches, val, save=save, ranks=ranks, progress=progress, log=log)
    desc = f"train ({ranks.world_size} process(es))"
    kw = dict(patience=cfg.patience, history_dir=out, progress=progress, ranks=ranks, log=log, desc=desc)
    settings = run_settings(cfg, data)
    history = EpochLoop(cfg.epochs, settings, out / "checkpoint", resume, **kw).run(task).history
    # DDP sits in reference cycles: left to the garbage collector it could be torn down after
    # the process group and abort the process ("terminate called without an active exception")
    del task
    gc.collect()
    return history


def run_settings(cfg, data) -> dict:
    """What a checkpoint must match to be resumed: the config and the data (``[[name, sha256]]``)."""
    return {**asdict(cfg), "data": data}


def _saver(out, codec, extra, playback):
    """Write the model folder whole (see :func:`~.folder.publish`)."""
    from ..models.folder import save_model_dir

    return lambda m, i: publish(out, lambda d: save_model_dir(d, m, codec, {**i, **extra}, **playback))


def train_model_dir(
    streams,
    make_model,
    codec,
    out_dir,
    cfg,
    *,
    resume=False,
    progress=True,
    log=print,
    info=None,
    data=None,
    **playback,
):
    """Train ``make_model()`` on ``streams`` ``[(inputs (T, I), targets (T,) or (T, O))]`` held in memory.

    What audio, MIDI and effect training share: the model folder in ``out_dir`` (written by
    :func:`~cwrnn_audio.models.folder.save_model_dir` with ``codec``, ``info`` and the ``playback``
    settings) at each new best epoch, a checkpoint in ``out_dir/checkpoint`` that a run with the
    same ``cfg`` and ``data`` resumes (``data``: ``[[file name, sha256]]`` of the training files;
    default: digests of the streams). Returns ``(history, model)``; the history holds
    ``train_loss`` and ``val_loss`` per epoch, ``best_epoch`` and ``seconds``.
    """
    out = Path(out_dir)
    data = array_digests(streams) if data is None else data
    with claim(out, resume=resume, settings=run_settings(cfg, data)):
        torch.manual_seed(cfg.seed)  # the initial weights are part of the run
        model = make_model()
        train, val = _chunks(streams, cfg, log)
        if not train:
            raise ParameterError(
                f"not enough data for one window of {cfg.window} steps after the validation split"
            )
        torch.manual_seed(cfg.seed)
        dev = torch.device(cfg.device)
        model = model.to(dev)
        val = [(to_device(x[None], dev), to_device(y[None], dev)) for x, y in val]
        save = _saver(out, codec, info or {}, playback)
        run = dict(ranks=SINGLE, save=save, resume=resume, progress=progress, log=log, data=data)
        history = _run(model, codec, cfg, ChunkBatches(train, cfg, dev), val, out, **run)
    return history, model


def train_model_dir_streamed(
    files,
    loader,
    make_model,
    codec,
    out_dir,
    cfg,
    *,
    playback=lambda meta: {},
    workers: int = 0,
    shuffle_buffer: int = 64,
    resume=False,
    progress=True,
    log=print,
):
    """:func:`train_model_dir` on chunks of ``files`` read by ``loader`` (see :mod:`cwrnn_audio.data`),
    on every process torchrun started (DDP; gloo on CPUs, NCCL on GPUs) or alone.

    ``playback(meta)``: the model folder's playback settings from every file's loader meta.
    Rank 0 checks and holds the folder and writes; every rank returns ``(history, model)``, the
    history with ``samples_per_s`` per epoch and the ``skipped`` files. An error every rank
    shares is raised on every rank as :class:`~.distributed.SharedError` (shown by rank 0 alone).
    """
    from .distributed import process_group

    workers = valid_int(workers, name="workers")
    out = Path(out_dir)
    with process_group(cfg.device) as ranks, contextlib.ExitStack() as held:
        data = ranks.gather(file_digests(files) if ranks.is_main else None)[0]
        error = None
        if ranks.is_main:
            try:
                held.enter_context(claim(out, resume=resume, settings=run_settings(cfg, data)))
            except ParameterError as exc:
                error = str(exc)
        error = ranks.gather(error)[0]  # every rank has looked before rank 0 writes anything
        if error:
            raise SharedError(error)
        torch.manual_seed(cfg.seed)
        model = make_model()
        ds, val, skipped, meta, steps, batch = _index(files, loader, cfg, ranks, shuffle_buffer, log)
        model = model.to(ranks.device)
        save = _saver(out, codec, {}, playback(meta))
        run = dict(ranks=ranks, save=save, resume=resume, progress=progress, log=log, data=data)
        batches = StreamBatches(ds, cfg, ranks, steps, workers, batch)
        history = _run(model, codec, cfg, batches, val, out, **run)
        ranks.barrier()
    return {**history, "skipped": skipped}, model
