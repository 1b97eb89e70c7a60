"""The paper's sequence-generation experiment (Sec. 4.1), on any music file.

No-input networks with one linear output learn to emit a 320-sample excerpt:
SRN, LSTM and CW-RNN at 100/250/500/1000 parameters, many runs each, spread
over 5 excerpts. Each (method, size) is one population trained at once; a
finished population is written to ``results.json`` before the next starts,
and a population in progress is checkpointed, so a killed run resumes.
"""

from __future__ import annotations

import itertools
import json
import shutil
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np
import torch

from ..checks import valid_choice, valid_device, valid_int
from ..core.kinds import KINDS, kind_of
from ..errors import ParameterError
from ..io.atomic import atomic_path, write_json
from ..train.loop import EpochLoop
from ..train.losses import loss_scale
from ..train.networks import flatten, load_flat
from ..train.optimizer import OptimizerConfig
from ..train.trainer import PopulationTask
from .excerpts import PAPER_COUNT, PAPER_LENGTH, cut_excerpts, load_music

METHODS = tuple(KINDS)  # the paper's order
# hidden units per parameter budget (the paper's table)
HIDDEN = {
    100: {"srn": 9, "lstm": 4, "cwrnn": 11},
    250: {"srn": 15, "lstm": 7, "cwrnn": 19},
    500: {"srn": 22, "lstm": 10, "cwrnn": 27},
    1000: {"srn": 31, "lstm": 15, "cwrnn": 40},
}
LEARNING_RATE = {"srn": 3e-4, "lstm": 3e-5, "cwrnn": 3e-4}


@dataclass
class GenerationConfig:
    runs: int = 100  # networks per method and size, spread over the excerpts
    sizes: tuple = (100, 250, 500, 1000)  # parameter budgets
    methods: tuple = METHODS
    epochs: int = 2000  # the paper's
    seed: int = 0  # excerpts and initialisations
    backend: str = "numba"  # "numba" (CPU threads) or "torch" (one vmapped population, CPU or CUDA)
    device: str = "cpu"  # torch backend only
    loss: str = "sum"  # squared error summed over the 320 steps (see README)
    momentum: float = 0.95  # Nesterov, the paper's
    clip: float | None = 10.0  # gradient-norm clip per network: project choice, see README
    cwrnn_modules: int = 9  # periods 1, 2, ..., 256
    lstm_forget_bias: float = 5.0  # the paper's
    init_std: float = 0.1  # the paper's
    excerpts: int = PAPER_COUNT
    length: int = PAPER_LENGTH

    def __post_init__(self):
        self.runs = valid_int(self.runs, name="runs", minimum=1)
        self.epochs = valid_int(self.epochs, name="epochs", minimum=1)
        self.sizes = tuple(int(s) for s in self.sizes)
        for s in self.sizes:
            if s not in HIDDEN:
                raise ParameterError(f"sizes must be among {sorted(HIDDEN)}; got {s!r}")
        self.methods = tuple(self.methods)
        for m in self.methods:
            valid_choice(m, METHODS, name="methods")
        valid_choice(self.backend, ("numba", "torch"), name="backend")
        self.device = valid_device(self.device)


def make_network(method: str, size: int, cfg: GenerationConfig):
    """An untrained no-input network of the paper's size for ``method``."""
    options = {"lstm": {"forget_bias": cfg.lstm_forget_bias}, "cwrnn": {"num_modules": cfg.cwrnn_modules}}
    return KINDS[method].build(
        input_size=0,
        output_size=1,
        hidden=HIDDEN[size][method],
        init_std=cfg.init_std,
        **options.get(method, {}),
    )


def make_population(method: str, size: int, cfg: GenerationConfig):
    """(template, theta (P, D)): P networks seeded from (seed, method, size, run)."""
    nets = []
    for run in range(cfg.runs):
        seq = np.random.SeedSequence([cfg.seed, METHODS.index(method), size, run])
        torch.manual_seed(int(seq.generate_state(1)[0]))
        nets.append(make_network(method, size, cfg))
    return nets[0], np.stack([flatten(m) for m in nets])


def network_outputs(template, theta: np.ndarray, steps: int) -> np.ndarray:
    """Free-running outputs ``(P, steps)`` of each network in ``theta``."""
    from ..nn.placement import like, to_numpy, zeros_like_params

    if not kind_of(template).clocked:  # LSTMs: all at once, the step loop vmapped over networks
        from torch.func import functional_call, vmap

        from ..train.networks import unflatten

        flat = torch.from_numpy(np.ascontiguousarray(theta, np.float32)).to(**like(template))
        params = unflatten(template, flat)
        x = zeros_like_params(template, 1, steps, 0)
        with torch.no_grad():
            y = vmap(lambda p: functional_call(template, p, (x,))[0])(params)
        return np.ascontiguousarray(to_numpy(y[:, 0, :, 0]), np.float32)
    out = np.empty((theta.shape[0], steps), np.float32)
    for p in range(theta.shape[0]):
        load_flat(template, theta[p])
        out[p] = template.run(steps=steps)[:, 0]
    return out


def nmse(outputs: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """MSE divided by the target's variance, per row (NaN/inf where a run diverged)."""
    with np.errstate(all="ignore"):
        err = np.mean((outputs.astype(np.float64) - targets) ** 2, axis=-1)
        return err / np.var(targets.astype(np.float64), axis=-1)


def train_one(
    method,
    size,
    cfg,
    targets,
    *,
    opt=None,
    meta=None,
    desc=None,
    checkpoint_dir=None,
    progress=True,
    population=None,
):
    """Train one population; returns (nmse (P,), outputs (P, T), train losses (P, epochs)).

    ``opt``: the optimiser (default: the paper's, SGD with Nesterov momentum at the method's
    learning rate, clipped at ``cfg.clip``), or a :class:`NetworkOptimizers` with a setting per
    network; ``meta``: the settings a checkpoint must match (default: method, size and ``cfg``).
    ``population``: ``(template, theta)`` to train instead of :func:`make_population`'s, e.g.
    several settings' runs stacked; network ``p`` is run ``p % cfg.runs`` and learns excerpt
    ``p % cfg.runs % len(targets)``. A checkpoint in ``checkpoint_dir`` made with the same
    settings is continued; one made with other settings is replaced.
    """
    template, theta = population or make_population(method, size, cfg)
    P, T = theta.shape[0], targets.shape[1]
    tgt = np.ascontiguousarray(targets[np.arange(P) % cfg.runs % targets.shape[0]][:, None, :, None])
    x = np.zeros((P, 1, T, 0), np.float32)
    opt = opt or OptimizerConfig(
        name="sgd", lr=LEARNING_RATE[method], momentum=cfg.momentum, nesterov=True, clip=cfg.clip
    )
    scale = loss_scale(cfg.loss, T, 1)
    task = PopulationTask(template, theta, x, tgt, scale, opt, cfg.backend, device=cfg.device)
    EpochLoop(
        cfg.epochs,
        meta or {"method": method, "size": size, "config": asdict(cfg)},
        checkpoint_dir=checkpoint_dir,
        resume=True,
        restart_on_mismatch=True,
        every=max(1, min(100, cfg.epochs // 20)),
        progress=progress,
        desc=desc or f"{method:>5} {size:>4}",
    ).run(task)
    theta = task.state["theta"]
    outputs = network_outputs(template, theta, T)
    return nmse(outputs, tgt[:, 0, :, 0]), outputs, task.losses


def summarize(values) -> tuple[float, float, int]:
    """(mean, std, diverged count) over finite values."""
    v = np.asarray(values, np.float64)
    ok = v[np.isfinite(v)]
    if ok.size == 0:
        return float("nan"), float("nan"), int(v.size)
    return float(ok.mean()), float(ok.std()), int(v.size - ok.size)


def format_table(results: dict, sizes, methods) -> str:
    """The paper's table: mean ± std NMSE per method (rows) and parameter budget (columns)."""
    head = f"{'NMSE':<8}" + "".join(f"{str(s) + ' params':>22}" for s in sizes)
    lines = [head, "-" * len(head)]
    for m in methods:
        cells = []
        for s in sizes:
            vals = results.get(m, {}).get(str(s))
            if vals is None:
                cells.append(f"{'—':>22}")
                continue
            mean, std, bad = summarize(vals)
            cell = f"{mean:.4f} ± {std:.4f}" + (f" ({bad} div.)" if bad else "")
            cells.append(f"{cell:>22}")
        lines.append(f"{KINDS[m].label:<8}" + "".join(cells))
    return "\n".join(lines)


def format_comparison(results: dict, sizes, methods) -> str:
    """The paper's settings and the tuned ones side by side: per method and budget, mean ± std and
    median NMSE of each, then the ratios LSTM / CW-RNN and SRN / CW-RNN of the means."""
    head = f"{'NMSE':<18}" + "".join(f"{str(s) + ' params':>30}" for s in sizes)
    lines = [head, "-" * len(head)]
    means = {}
    for key, label in (("nmse", "paper"), ("tuned", "tuned")):
        for m in methods:
            cells = []
            for s in sizes:
                vals = results.get(key, {}).get(m, {}).get(str(s))
                if vals is None:
                    cells.append(f"{'—':>30}")
                    continue
                mean, std, bad = summarize(vals)
                means[key, m, s] = mean
                med = float(np.median(np.asarray(vals, float)))
                cell = f"{mean:.4f} ± {std:.4f} (med {med:.4f})" + (f" {bad} div." if bad else "")
                cells.append(f"{cell:>30}")
            lines.append(f"{KINDS[m].label + ', ' + label:<18}" + "".join(cells))
    for key, label in (("nmse", "paper"), ("tuned", "tuned")):
        for m in ("lstm", "srn"):
            if m in methods and "cwrnn" in methods:
                cells = [
                    f"{means.get((key, m, s), np.nan) / means.get((key, 'cwrnn', s), np.nan):>29.1f}x"
                    for s in sizes
                ]
                lines.append(f"{KINDS[m].label + '/CW-RNN, ' + label:<18}" + "".join(cells))
    return "\n".join(lines)


def run_generation(
    audio_path,
    out_dir,
    config: GenerationConfig | None = None,
    *,
    settings: dict | None = None,
    resume: bool = False,
    progress=True,
    log=print,
) -> dict:
    """Run the experiment; writes ``results.json`` and ``outputs.npz`` to ``out_dir``.

    Returns the results dictionary (also in ``results.json``):
    ``{"nmse": {method: {size: [one float per run]}}, "config": {...}}``.
    With ``settings`` (a tuned-settings file's data, :func:`.tune.load_settings`), every
    population is trained twice, with the paper's settings (``"nmse"``) and with the tuned ones
    (``"tuned"``), on scored excerpts cut from the second half of the file: the half the search
    never saw (its development excerpts must match this file and seed).
    With ``resume=True``, populations already finished in ``out_dir`` with the
    same settings are kept and one in progress continues from its checkpoint;
    without it, a folder that already holds a run is refused.
    """
    cfg = config or GenerationConfig()
    out = Path(out_dir)
    if not resume and ((out / "results.json").exists() or (out / "checkpoints").exists()):
        raise ParameterError(
            f"{out} already holds an experiment; resume it (--resume) or choose another folder"
        )
    out.mkdir(parents=True, exist_ok=True)
    music = load_music(audio_path)
    if settings is None:
        targets = cut_excerpts(
            music, count=cfg.excerpts, length=cfg.length, seed=cfg.seed, source=str(audio_path)
        )
    else:
        targets = _scored_excerpts(music, cfg, settings, audio_path)
        for size, method in itertools.product(cfg.sizes, cfg.methods):
            _tuned_run(cfg, settings, method, size)  # every entry asked for, before any training
    results, best = _earlier_results(out, cfg, audio_path, settings)
    runs = [("nmse", "", {})] + ([("tuned", "-tuned", settings)] if settings is not None else [])
    for size, method, (key, suffix, tuned) in itertools.product(cfg.sizes, cfg.methods, runs):
        if str(size) not in results[key].get(method, {}):
            name, start = f"{method}-{size}{suffix}", time.perf_counter()
            run_cfg, opt = _tuned_run(cfg, tuned, method, size)
            scores, outs, _ = train_one(
                method, size, run_cfg, targets, opt=opt,
                checkpoint_dir=out / "checkpoints" / name, progress=progress,
            )  # fmt: skip
            results[key].setdefault(method, {})[str(size)] = [float(v) for v in scores]
            results["seconds"][name] = round(time.perf_counter() - start, 2)
            i = int(np.argmin(np.where(np.isfinite(scores), scores, np.inf)))
            best[name], best[f"{name}-excerpt"] = outs[i], np.array(i % targets.shape[0])
            _write_results(out, results, targets, best)
            shutil.rmtree(out / "checkpoints" / name, ignore_errors=True)
            mean, std, bad = summarize(scores)
            log(
                f"{method:>5} {size:>4} params{suffix and ', tuned'}: NMSE {mean:.4f} ± {std:.4f}"
                + (f", {bad} diverged" if bad else "")
            )
    return results


def _scored_excerpts(music, cfg: GenerationConfig, settings: dict, audio_path) -> np.ndarray:
    """The scored excerpts of a tuned comparison, from the half of the file the search never saw."""
    from .tune import _fingerprint, split_excerpts

    dev_info = settings["dev"]
    dev, scored_half = split_excerpts(
        music, count=dev_info["count"], length=dev_info["length"], seed=settings["seed"]
    )
    if _fingerprint(dev) != dev_info["sha256"]:
        raise ParameterError(
            f"{audio_path}: the settings were tuned on other development excerpts (another file or "
            "seed); tune on this file first (cwrnn-audio paper tune)"
        )
    return cut_excerpts(
        scored_half,
        count=cfg.excerpts,
        length=cfg.length,
        seed=cfg.seed,
        source=f"{audio_path} (second half)",
    )


def _tuned_run(cfg: GenerationConfig, settings: dict, method: str, size: int) -> tuple:
    """``(config, optimiser)`` for :func:`train_one`: the paper's (None: its default), or the tuned."""
    if not settings:
        return cfg, None
    from .tune import optimizer_for

    entry = settings["chosen"].get(method, {}).get(str(size))
    if entry is None:
        raise ParameterError(f"settings: no tuned setting for method {method!r} at size {size}")
    fb = entry.get("forget_bias", cfg.lstm_forget_bias)
    return replace(cfg, lstm_forget_bias=fb), optimizer_for(settings, method, size)


def _earlier_results(out: Path, cfg: GenerationConfig, audio_path, settings=None) -> tuple[dict, dict]:
    """(results, best outputs) of the populations already finished in ``out``; refuses other settings."""
    meta = json.loads(json.dumps({**asdict(cfg), "audio": str(audio_path), "sample_rate": 44_100}))
    path = out / "results.json"
    results = {"nmse": {}, "config": meta, "seconds": {}}
    if settings is not None:
        meta["settings"] = json.loads(json.dumps(settings["chosen"]))
        results["tuned"] = {}
    if path.is_file():
        old = json.loads(path.read_text())
        if old.get("config") != meta:
            raise ParameterError(f"{path} was made with other settings; choose another folder")
        results = old
    outputs_file = out / "outputs.npz"
    best = dict(np.load(outputs_file)) if outputs_file.is_file() and results["nmse"] else {}
    best.pop("targets", None)
    return results, best


def _write_results(out: Path, results: dict, targets: np.ndarray, best: dict) -> None:
    # outputs first: results.json naming a population means its outputs are on disk
    with atomic_path(out / "outputs.npz") as tmp:
        with open(tmp, "wb") as fh:
            np.savez(fh, targets=targets, **best)
    write_json(out / "results.json", results)
