"""``fit``: one training API over both engines, with checkpoints and resume."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from ..checks import valid_choice, valid_sequence, valid_steps
from ..errors import ParameterError
from .checkpoint import load_checkpoint, save_checkpoint
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
    raise ParameterError(f"optimizer must be an OptimizerConfig, a dict or 'sgd'/'adam'; got {optimizer!r}")


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
    model : CWRNN or LSTMNet
    targets : np.ndarray, ``(time, output_size)`` or ``(sequences, time, output_size)``
    inputs : np.ndarray, same leading shape with ``input_size`` features; omit for no-input models
    epochs : int
        Updates; each sums the gradient over all sequences, each run from the zero state.
    optimizer : OptimizerConfig, dict or "sgd"/"adam"
        Default: SGD, Nesterov momentum 0.95, lr 3e-4 (the paper's).
    loss : {"sum", "half", "mean"}
        Squared error summed over steps (default), half that, or averaged.
    backend : {"auto", "numba", "torch"}
        "auto": the Numba kernels for a model on the CPU, else the torch path.
    seed : int, optional
        Re-initialise the weights from this seed first, so a run is reproducible
        from its settings alone. ``None`` trains the weights as they are.
    progress : bool
        Show a tqdm bar.
    checkpoint_dir : path, optional
        Write a checkpoint every ``checkpoint_every`` epochs and at the end.
    resume : bool
        Continue from the latest checkpoint in ``checkpoint_dir`` (the result is
        the same as an uninterrupted run).
    """
    from tqdm.auto import tqdm

    epochs = valid_steps(epochs, name="epochs")
    checkpoint_every = valid_steps(checkpoint_every, name="checkpoint_every") or 1
    param_names(model)  # refuses other model types
    opt = as_optimizer(optimizer)
    engine = resolve_backend(backend, model)
    if resume and checkpoint_dir is None:
        raise ParameterError("resume=True needs checkpoint_dir")
    x, tgt = _sequences(model, targets, inputs)
    scale = loss_scale(loss, tgt.shape[2], tgt.shape[3])
    settings = {"optimizer": opt.to_dict(), "loss": loss, "epochs": epochs, "config": model.config.to_dict()}

    if seed is not None:
        torch.manual_seed(seed)
        model.reset_parameters()
    theta = flatten(model)[None].copy()
    m1, m2 = np.zeros_like(theta), np.zeros_like(theta)
    steps = np.zeros(1, np.int64)
    history = np.zeros((1, 0))
    done = 0
    if resume:
        found = load_checkpoint(checkpoint_dir)
        if found is not None:
            arrays, info = found
            if info.get("settings") != settings:
                raise ParameterError(
                    f"{checkpoint_dir}: the checkpoint was made with other settings; "
                    f"got {info.get('settings')!r}, now {settings!r}"
                )
            theta, m1, m2 = arrays["theta"].copy(), arrays["m1"].copy(), arrays["m2"].copy()
            steps, history = arrays["steps"].copy(), arrays["losses"].copy()
            done = int(info["epoch"])
            torch.set_rng_state(torch.from_numpy(arrays["torch_rng"].copy()))

    if engine == "numba":
        from .engine_numba import run_epochs

        device_kw = {}
    else:
        from .engine_torch import run_epochs

        device_kw = {"device": next(model.parameters()).device}
    chunk = checkpoint_every if checkpoint_dir is not None else max(1, min(50, epochs // 100 or 1))
    losses = [history]
    with tqdm(total=epochs, initial=done, disable=not progress, unit="epoch", desc=f"fit ({engine})") as bar:
        while done < epochs:
            n = min(chunk, epochs - done)
            part = run_epochs(model, theta, m1, m2, steps, x, tgt, n, scale, opt, **device_kw)
            losses.append(part)
            done += n
            bar.update(n)
            bar.set_postfix(loss=f"{part[0, -1]:.4g}")
            if checkpoint_dir is not None:
                load_flat(model, theta[0])
                arrays = {
                    "theta": theta,
                    "m1": m1,
                    "m2": m2,
                    "steps": steps,
                    "losses": np.concatenate(losses, 1),
                    "torch_rng": torch.get_rng_state().numpy(),
                }
                save_checkpoint(
                    Path(checkpoint_dir), done, arrays, {"settings": settings, "backend": engine}, model
                )
    load_flat(model, theta[0])
    return FitResult(losses=np.concatenate(losses, 1)[0], backend=engine, resumed_from=int(history.shape[1]))
