"""``fit``: one training API over both engines, with checkpoints and resume."""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from ..checks import valid_choice, valid_sequence, valid_steps
from ..errors import ParameterError, ParameterTypeError
from .folder import array_digest
from .loop import EpochLoop, Task
from .losses import loss_scale
from .networks import flatten, load_flat, param_names
from .optimizer import OptimizerConfig

BACKENDS = ("auto", "numba", "torch")


@dataclass
class FitResult:
    losses: np.ndarray  # (epochs,) loss of each epoch, before its update
    backend: str  # the engine that ran
    resumed_from: int  # epochs already done when this call started (0: fresh)


def resolve_backend(backend: str, model) -> str:
    valid_choice(backend, BACKENDS, name="backend")
    if backend == "auto":
        on_cpu = next(model.parameters()).device.type == "cpu"
        return "numba" if on_cpu else "torch"
    return backend


def as_optimizer(optimizer) -> OptimizerConfig:
    if optimizer is None:
        return OptimizerConfig()
    if isinstance(optimizer, OptimizerConfig):
        return optimizer
    if isinstance(optimizer, str):
        return OptimizerConfig(name=optimizer)
    if isinstance(optimizer, dict):
        return OptimizerConfig(**optimizer)
    raise ParameterTypeError(
        f"optimizer must be an OptimizerConfig, a dict or 'sgd'/'adam'; got {type(optimizer).__name__}"
    )


def _sequences(model, targets, inputs):
    c = model.config
    tgt = valid_sequence(targets, features=c.output_size, name="targets")
    tgt = tgt[None] if tgt.ndim == 2 else tgt
    if inputs is None:
        if c.input_size != 0:
            raise ParameterError(f"inputs are required: the model has input_size={c.input_size}")
        x = np.zeros(tgt.shape[:2] + (0,), np.float32)
    else:
        x = valid_sequence(inputs, features=c.input_size, name="inputs")
        x = x[None] if x.ndim == 2 else x
        if x.shape[:2] != tgt.shape[:2]:
            raise ParameterError(
                f"inputs and targets must have the same (sequences, time); got {x.shape[:2]} and {tgt.shape[:2]}"
            )
    return x[None], tgt[None]  # a population of one network


class PopulationTask(Task):
    """``P`` networks shaped like ``template`` trained together, full-sequence BPTT on an engine.

    theta ``(P, D)``; x ``(P, S, T, I)``; target ``(P, S, T, O)``. The state is the flat
    weights, the optimiser's moments and step counts, and every epoch's loss ``(P, epochs)``.
    """

    def __init__(self, template, theta, x, target, scale, opt, engine, *, device=None, model_file=False):
        self.template, self.x, self.target, self.scale, self.opt = template, x, target, scale, opt
        self.engine = importlib.import_module(f"{__package__}.engine_{engine}")
        self.engine_kw = {} if engine == "numba" else {"device": device}
        self.backend, self.model_file = engine, model_file
        P = theta.shape[0]
        self.state = {"theta": theta, "m1": np.zeros_like(theta), "m2": np.zeros_like(theta)}
        self.state["steps"] = np.zeros(P, np.int64)
        self.parts = [np.zeros((P, 0))]

    @property
    def losses(self) -> np.ndarray:
        return np.concatenate(self.parts, 1)

    def arrays(self) -> dict:
        return {**self.state, "losses": self.losses}

    def load(self, arrays, info) -> None:
        self.state = {k: arrays[k].copy() for k in ("theta", "m1", "m2", "steps")}
        self.parts = [arrays["losses"].copy()]

    def train(self, epoch, epochs) -> dict:
        s = self.state
        args = (s["theta"], s["m1"], s["m2"], s["steps"], self.x, self.target, epochs, self.scale, self.opt)
        part = self.engine.run_epochs(self.template, *args, **self.engine_kw)
        self.parts.append(part)
        return {"train_loss": float(np.mean(part[:, -1]))}

    def info(self) -> dict:
        return {"backend": self.backend}

    def checkpoint_model(self):
        if not self.model_file:
            return None
        load_flat(self.template, self.state["theta"][0])
        return self.template


def fit(
    model,
    targets,
    inputs=None,
    *,
    epochs: int = 2000,
    optimizer=None,
    loss: str = "sum",
    backend: str = "auto",
    seed: int | None = None,
    progress: bool = True,
    checkpoint_dir=None,
    checkpoint_every: int = 100,
    resume: bool = False,
) -> FitResult:
    """Train a :class:`CWRNN` or :class:`LSTMNet` by full-sequence BPTT, in place.

    Parameters
    ----------
    targets : np.ndarray, ``(time, output_size)`` or ``(sequences, time, output_size)``
    inputs : np.ndarray, same leading shape with ``input_size`` features; omit for no-input models
    epochs : int
        Updates; each sums the gradient over all sequences, each run from the zero state.
    optimizer : OptimizerConfig, dict or "sgd"/"adam"
        Default: SGD, Nesterov momentum 0.95, lr 3e-4 (the paper's).
    loss : {"sum", "half", "mean"}
        Squared error summed over steps, half that, or averaged.
    backend : {"auto", "numba", "torch"}
        "auto": the Numba kernels for a model on the CPU, else the torch path.
    seed : int, optional
        Re-initialise the weights from this seed first, so a run is reproducible from its settings alone.
    checkpoint_dir, checkpoint_every, resume
        Checkpoint every ``checkpoint_every`` epochs and at the end; ``resume`` continues from the
        latest one, to the same result as an uninterrupted run.
    """
    epochs = valid_steps(epochs, name="epochs")
    checkpoint_every = valid_steps(checkpoint_every, name="checkpoint_every") or 1
    param_names(model)  # refuses other model types
    opt = as_optimizer(optimizer)
    engine = resolve_backend(backend, model)
    if resume and checkpoint_dir is None:
        raise ParameterError("resume=True needs checkpoint_dir")
    task = _model_task(model, targets, inputs, loss, seed, opt, engine, checkpoint_dir is not None)
    # the data too: resuming on other targets would return the old model as if trained on them
    data = [["targets", array_digest(task.target)], ["inputs", array_digest(task.x)]]
    loop = EpochLoop(
        epochs,
        {
            "optimizer": opt.to_dict(),
            "loss": loss,
            "epochs": epochs,
            "config": model.config.to_dict(),
            "data": data,
        },
        checkpoint_dir=None if checkpoint_dir is None else Path(checkpoint_dir),
        resume=resume,
        every=checkpoint_every if checkpoint_dir is not None else max(1, min(50, epochs // 100 or 1)),
        progress=progress,
        desc=f"fit ({engine})",
    )
    run = loop.run(task)
    load_flat(model, task.state["theta"][0])
    return FitResult(losses=task.losses[0], backend=engine, resumed_from=run.resumed_from)


def _model_task(model, targets, inputs, loss, seed, opt, engine, model_file) -> PopulationTask:
    """A population of one: ``model`` (re-initialised from ``seed``, if given) on its sequences."""
    x, tgt = _sequences(model, targets, inputs)
    scale = loss_scale(loss, tgt.shape[2], tgt.shape[3])
    if seed is not None:
        torch.manual_seed(seed)
        model.reset_parameters()
    device = next(model.parameters()).device
    theta = flatten(model)[None].copy()
    return PopulationTask(model, theta, x, tgt, scale, opt, engine, device=device, model_file=model_file)
