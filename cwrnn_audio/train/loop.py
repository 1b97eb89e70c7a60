"""The one training loop every trainer runs: epochs through a :class:`Task`, on a group of ranks.

A :class:`Task` knows how to train its model for some epochs, how to evaluate it, and which
arrays hold its state. :class:`EpochLoop` does the rest, the same way for every caller: resume
from the last checkpoint (to bit-identical weights), record the history, keep the best epoch by
validation loss, stop early after ``patience`` epochs without a better one, write an atomic
checkpoint after every round, and show a progress bar that can be silenced. A single process is a
group of one (:data:`SINGLE`); only rank 0 writes, every rank reads the checkpoint back.
"""

from __future__ import annotations

import importlib.util
import json
import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import torch

from ..errors import ParameterError
from ..io.atomic import atomic_path
from .checkpoint import clean_leftovers, has_checkpoint, load_checkpoint, save_checkpoint
from .distributed import Ranks
from .folder import refuse_other_settings

SINGLE = Ranks(0, 1, torch.device("cpu"))
NO_VALIDATION = "training loss (no validation set)"


class Task:
    """What one trainer adds to the loop. It must define ``arrays()`` (the training state a checkpoint
    holds), ``load(arrays, info)`` (continue from one; ``info["epoch"]`` epochs done) and
    ``train(epoch, epochs) -> dict`` (train ``epochs`` epochs from ``epoch``; metrics for the history).
    The defaults below suit a task without validation; a ``val_loss`` from ``evaluate()`` turns on
    best-epoch keeping (``save_best(info)``, rank 0) and early stopping.
    """

    # False: ``val_loss`` from ``evaluate()`` is the training loss, for want of a validation set;
    # the log and the history say so rather than call it validation
    has_validation = True

    def new_history(self) -> dict:
        return {"train_loss": [], "val_loss": [], "best_epoch": 0, "seconds": []}

    def evaluate(self) -> dict:
        return {}

    def save_best(self, info: dict) -> None:
        pass

    def info(self) -> dict:  # extra JSON for the checkpoint's trainer.json
        return {}

    def describe(self, record: dict) -> str:  # extra text for the epoch's log line
        return ""

    def checkpoint_model(self):  # a network written into each checkpoint folder, or None
        return None


@dataclass
class LoopResult:
    history: dict
    resumed_from: int  # epochs already done when the loop started (0: fresh)


@dataclass
class EpochLoop:
    epochs: int
    settings: dict  # JSON-able; a checkpoint is resumed only if made with equal settings (epochs may grow)
    checkpoint_dir: Path | None = None
    resume: bool = False
    every: int = 1  # epochs per round: a checkpoint and a history record after each
    patience: int | None = None  # rounds without a better validation loss before stopping
    restart_on_mismatch: bool = False  # a checkpoint with other settings: start afresh instead of refusing
    history_dir: Path | None = None  # where history.json and metrics.csv go
    progress: bool = True
    desc: str = "train"
    ranks: Ranks = SINGLE
    log: Callable = print

    def __post_init__(self):
        self.settings = json.loads(json.dumps(self.settings))  # as it reads back from a checkpoint

    def run(self, task: Task) -> LoopResult:
        from tqdm.auto import tqdm

        history, best, done = self._start(task)
        start = done
        bar = tqdm(
            total=self.epochs,
            initial=done,
            disable=not (self.progress and self.ranks.is_main),
            unit="epoch",
            desc=self.desc,
        )
        with bar:
            while done < self.epochs:
                n = min(self.every, self.epochs - done)
                t0 = time.perf_counter()
                record = {**task.train(done, n), **task.evaluate()}
                record["seconds"] = round(time.perf_counter() - t0, 2)
                done += n
                for key, value in record.items():
                    history.setdefault(key, []).append(value)
                bar.update(n)
                bar.set_postfix({k: f"{record[k]:.4g}" for k in ("train_loss", "val_loss") if k in record})
                best, stop = self._judge(task, history, record, best, done)
                self._checkpoint(task, history, best, done)
                if stop:
                    self.ranks.is_main and self.log(
                        f"stopping early: no better "
                        f"{'validation loss' if task.has_validation else NO_VALIDATION} for {self.patience} epochs"
                    )
                    break
        if self.history_dir is not None and self.ranks.is_main:
            write_history(self.history_dir, history)
        return LoopResult(history, start)

    def _say(self, message: str) -> None:
        if self.ranks.is_main:
            self.log(message)

    def _start(self, task: Task):
        """(history, best validation loss, epochs done): fresh, or from the last checkpoint."""
        fresh = task.new_history(), math.inf, 0
        if not self.resume or self.checkpoint_dir is None:
            return fresh
        if self.ranks.is_main:
            clean_leftovers(self.checkpoint_dir)
        found = load_checkpoint(self.checkpoint_dir)
        if found is None:
            return fresh
        arrays, info = found
        if info.get("settings") != self.settings:
            if self.restart_on_mismatch:
                return fresh
            old = info.get("settings")
            refuse_other_settings(self.checkpoint_dir, old if isinstance(old, dict) else {}, self.settings)
        task.load(arrays, info)
        if "torch_rng" in arrays:
            torch.set_rng_state(torch.from_numpy(arrays["torch_rng"].copy()))
        return info.get("history", fresh[0]), info.get("best", math.inf), int(info["epoch"])

    def _judge(self, task: Task, history: dict, record: dict, best: float, done: int):
        """Log the round, keep a new best; (best, whether to stop early)."""
        if "val_loss" not in record:
            return best, False
        val = record["val_loss"]
        if task.has_validation:
            line = f"epoch {done}: train {record['train_loss']:.4f}, validation {val:.4f}"
        else:
            history["val_loss_is"] = NO_VALIDATION
            line = f"epoch {done}: train {record['train_loss']:.4f} (no validation set)"
        self._say(line + task.describe(record))
        if val < best:
            best = val
            history["best_epoch"] = done
            if self.ranks.is_main:
                task.save_best({**self.settings, "best_epoch": done, "val_loss": val})
        stale = done - history["best_epoch"]
        return best, self.patience is not None and stale >= self.patience

    def _checkpoint(self, task: Task, history: dict, best: float, done: int) -> None:
        if self.checkpoint_dir is not None and self.ranks.is_main:
            arrays = {**task.arrays(), "torch_rng": torch.get_rng_state().numpy()}
            info = {**task.info(), "settings": self.settings, "history": history, "best": best}
            save_checkpoint(self.checkpoint_dir, done, arrays, info, task.checkpoint_model())
            if self.history_dir is not None:
                write_history(self.history_dir, history, plot=False)
        self.ranks.barrier()


def refuse_nonempty(out: Path, resume: bool) -> None:
    """A run writes into an empty (or new) folder, or resumes the checkpoint in ``out/checkpoint``."""
    if resume and has_checkpoint(out / "checkpoint"):
        return
    if out.exists() and any(out.iterdir()):
        raise ParameterError(f"{out} is not empty; use --resume to continue or choose another folder")


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
    if plot and importlib.util.find_spec("matplotlib") is not None:  # else: the numbers are in history.json
        from ..plots.training import loss_curve

        loss_curve(history, out / "loss_curve.png")
