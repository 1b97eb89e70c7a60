"""One hyper-parameter search for the sequence-generation experiment, the same for every method and size.

Every setting of the grid (optimizer x learning rate x gradient clip, and x forget-gate bias for
the LSTM) trains a population of ``runs`` networks, exactly as :mod:`.generation` does (same
networks, initialisations, loss and engines; only the optimiser settings differ), on
*development* excerpts cut from the first half of the music file. The second half is never
seen here: it is left for the scored excerpts. A setting's score is the mean NMSE of its
population on the development excerpts; per method and size the setting with the lowest mean
is chosen.

``DIR/tuned.json`` holds the choice per method and size, every setting's score, the search
space and the seed. On the Numba engine the settings of one optimizer train together as one
population (each network reads its own learning rate and clip; :func:`groups`), which fills the
kernels' SIMD lanes: a search of 20-network settings runs as fast per network as the paper's
100-network populations. Each finished setting is written to ``DIR/settings/`` as its group
completes, and a group in progress is checkpointed in ``DIR/checkpoints/``, so ``resume=True``
skips the finished settings, continues the group in progress, and ends with the same
``tuned.json`` as an uninterrupted search.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import shutil
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np

from ..checks import valid_choice, valid_int
from ..errors import ParameterError, ParameterTypeError
from ..io.atomic import write_json
from ..train.losses import loss_scale
from ..train.optimizer import NetworkOptimizers, OptimizerConfig
from .excerpts import PAPER_LENGTH, PAPER_SR, cut_excerpts, load_music
from .generation import HIDDEN, METHODS, GenerationConfig, make_population, train_one
from .grid import CLIPS, DEV_COUNT, FORGET_BIASES, LRS, OPTIMIZERS

FORMAT = "cwrnn-audio tuned settings"
VERSION = 1


def _positive_grid(values, *, name: str, allow_none: bool = False) -> tuple:
    """A non-empty tuple of distinct positive finite floats (and None where allowed)."""
    if isinstance(values, (str, bytes)) or not hasattr(values, "__iter__"):
        raise ParameterTypeError(f"{name} must be a list of numbers; got {values!r}")
    out = []
    for v in values:
        if v is None and allow_none:
            out.append(None)
            continue
        if isinstance(v, bool) or not isinstance(v, (int, float, np.integer, np.floating)):
            raise ParameterTypeError(f"{name} must hold numbers; got {v!r}")
        if not (math.isfinite(v) and v > 0):
            raise ParameterError(f"{name} must hold positive numbers; got {v!r}")
        out.append(float(v))
    if not out:
        raise ParameterError(f"{name} must hold at least one value; got {values!r}")
    if len(set(out)) != len(out):
        raise ParameterError(f"{name} must not repeat a value; got {values!r}")
    return tuple(out)


@dataclass
class TuneConfig:
    runs: int = 20  # networks per setting, spread over the development excerpts
    epochs: int = 2000  # the paper's
    sizes: tuple = (100, 250, 500, 1000)
    methods: tuple = METHODS
    seed: int = 0  # development excerpts and initialisations
    optimizers: tuple = OPTIMIZERS
    lrs: tuple = LRS
    clips: tuple = CLIPS
    forget_biases: tuple = FORGET_BIASES  # LSTM only
    momentum: float = 0.95  # sgd: Nesterov, the paper's
    dev_excerpts: int = DEV_COUNT
    length: int = PAPER_LENGTH
    backend: str = "numba"
    device: str = "cpu"
    loss: str = "sum"

    def __post_init__(self):
        # runs, epochs, sizes, methods, backend and device checked as the experiment checks them
        base = GenerationConfig(
            runs=self.runs,
            epochs=self.epochs,
            sizes=self.sizes,
            methods=self.methods,
            seed=self.seed,
            backend=self.backend,
            device=self.device,
            loss=self.loss,
        )
        self.runs, self.epochs, self.sizes, self.methods = base.runs, base.epochs, base.sizes, base.methods
        self.device = base.device
        self.seed = valid_int(self.seed, name="seed")
        if not isinstance(self.optimizers, (list, tuple)):
            raise ParameterTypeError(f"optimizers must be a non-empty list; got {self.optimizers!r}")
        if not self.optimizers:
            raise ParameterError(f"optimizers must be a non-empty list; got {self.optimizers!r}")
        for name in self.optimizers:
            valid_choice(name, OPTIMIZERS, name="optimizers")
        self.optimizers = tuple(self.optimizers)
        if len(set(self.optimizers)) != len(self.optimizers):
            raise ParameterError(f"optimizers must not repeat a value; got {self.optimizers!r}")
        self.lrs = _positive_grid(self.lrs, name="lrs")
        self.clips = _positive_grid(self.clips, name="clips", allow_none=True)
        self.forget_biases = _positive_grid(self.forget_biases, name="forget_biases")
        self.dev_excerpts = valid_int(self.dev_excerpts, name="dev_excerpts", minimum=1)
        self.length = valid_int(self.length, name="length", minimum=1)
        loss_scale(self.loss, 1, 1)  # checks the name
        OptimizerConfig(momentum=self.momentum)  # checks the momentum

    def search_space(self) -> dict:
        return {
            "optimizers": list(self.optimizers),
            "lrs": list(self.lrs),
            "clips": list(self.clips),
            "forget_biases": list(self.forget_biases),
            "momentum": self.momentum,
            "nesterov": True,
        }

    def grid(self, method: str) -> list[dict]:
        """The settings tried for ``method``, in grid order (the order that breaks ties)."""
        fbs = self.forget_biases if method == "lstm" else (None,)
        out = []
        for opt in self.optimizers:
            for lr in self.lrs:
                for clip in self.clips:
                    for fb in fbs:
                        s = {"optimizer": opt, "lr": lr, "clip": clip}
                        if method == "lstm":
                            s["forget_bias"] = fb
                        out.append(s)
        return out


def split_excerpts(audio: np.ndarray, *, count: int = DEV_COUNT, length: int = PAPER_LENGTH, seed: int = 0):
    """(dev, scored): ``count`` development excerpts ``(count, length)`` cut from the first half of
    ``audio``, and the second half, the only audio the scored excerpts may come from.

    The two never overlap: every development window lies before ``audio.size // 2``. The scored
    half is checked to hold ``count`` non-silent excerpts too, so a file too short for both is
    refused here, saying how many seconds it needs.
    """
    count = valid_int(count, name="count", minimum=1)
    length = valid_int(length, name="length", minimum=1)
    seed = valid_int(seed, name="seed")
    audio = np.asarray(audio, np.float32).ravel()
    need = 2 * count * length
    if audio.size < need:
        raise ParameterError(
            f"audio: {audio.size} samples ({audio.size / PAPER_SR:.3f} s) is too short for {count} "
            f"development and {count} scored excerpts of {length} samples, one half each; "
            f"it needs at least {need} samples ({need / PAPER_SR:.3f} s at {PAPER_SR} Hz)"
        )
    half = audio.size // 2
    dev_part, scored = audio[:half], audio[half:]
    hint = f" (a file of {need / PAPER_SR:.3f} s or more with sound in both halves is needed)"
    try:
        dev = cut_excerpts(
            dev_part, count=count, length=length, seed=seed, source="the first half (development)"
        )
        cut_excerpts(scored, count=count, length=length, seed=seed, source="the second half (scored)")
    except ParameterError as exc:
        raise type(exc)(f"{exc}{hint}") from None
    return dev, np.ascontiguousarray(scored)


def score(values) -> dict:
    """Summary of one population's NMSE: mean, std, median and the count of diverged runs.

    A diverged run (NaN or infinite NMSE) counts as infinite, so the mean (the score) of a
    setting with any diverged run is infinite; the std is over the runs that did not diverge.
    """
    v = np.asarray(values, np.float64)
    bad = ~np.isfinite(v)
    ok = v[~bad]
    return {
        "mean": math.inf if bad.any() or v.size == 0 else float(ok.mean()),
        "std": float(ok.std()) if ok.size else math.inf,
        "median": float(np.median(np.where(bad, np.inf, v))) if v.size else math.inf,
        "diverged": int(bad.sum()),
    }


def choose(records: list[dict]) -> dict:
    """The record with the lowest ``mean``; ties go to the lower ``median``, then the earlier record."""
    if not records:
        raise ParameterError("choose needs at least one scored setting; got none")
    order = sorted(range(len(records)), key=lambda i: (records[i]["mean"], records[i]["median"], i))
    return records[order[0]]


def setting_key(setting: dict) -> str:
    """A file-name-safe name for one setting, e.g. ``sgd_lr0.0003_clip10.0_fb5.0``."""
    key = f"{setting['optimizer']}_lr{setting['lr']!r}_clip{setting['clip']!r}"
    if "forget_bias" in setting:
        key += f"_fb{setting['forget_bias']!r}"
    return key


def _generation_config(cfg: TuneConfig, method: str, size: int, setting: dict) -> GenerationConfig:
    g = GenerationConfig(
        runs=cfg.runs,
        sizes=(size,),
        methods=(method,),
        epochs=cfg.epochs,
        seed=cfg.seed,
        backend=cfg.backend,
        device=cfg.device,
        loss=cfg.loss,
        momentum=cfg.momentum,
        clip=setting["clip"],
        excerpts=cfg.dev_excerpts,
        length=cfg.length,
    )
    if method == "lstm":
        g = replace(g, lstm_forget_bias=setting["forget_bias"])
    return g


def _fingerprint(dev: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(dev, np.float32).tobytes()).hexdigest()


def _meta(cfg: TuneConfig, method: str, size: int, setting: dict, dev: np.ndarray) -> dict:
    """Everything that decides one setting's result (a finished or checkpointed one is reused only if equal)."""
    g = asdict(_generation_config(cfg, method, size, setting))
    meta = {"method": method, "size": size, "setting": setting, "config": g, "dev_sha256": _fingerprint(dev)}
    return json.loads(json.dumps(meta))


def groups(cfg: TuneConfig, settings: list[dict]) -> list[list[dict]]:
    """The settings trained together, each group as one population: on the Numba engine all
    settings of one optimizer (the kernels read learning rate and clip per network, and a
    population of hundreds of networks fills the SIMD lanes); on torch, one setting each."""
    if cfg.backend != "numba":
        return [[s] for s in settings]
    return [
        [s for s in settings if s["optimizer"] == o]
        for o in cfg.optimizers
        if any(s["optimizer"] == o for s in settings)
    ]


def train_settings(
    method: str,
    size: int,
    settings: list[dict],
    cfg: TuneConfig,
    dev: np.ndarray,
    *,
    checkpoint_dir=None,
    progress=True,
) -> list[np.ndarray]:
    """NMSE ``(runs,)`` of each setting's population on the development excerpts, all settings
    trained at once as one population by :func:`.generation.train_one` (they must share the
    optimizer). Every setting's runs start from the same networks as its population alone would."""
    opts, thetas = [], []
    for setting in settings:
        g = _generation_config(cfg, method, size, setting)
        template, theta = make_population(method, size, g)
        thetas.append(theta)
        opt = OptimizerConfig(
            name=setting["optimizer"],
            lr=setting["lr"],
            momentum=g.momentum,
            nesterov=True,
            clip=setting["clip"],
        )
        opts += [opt] * cfg.runs
    # g: the settings differ only in what the optimisers and the initial networks already hold
    opt = opts[0] if len(settings) == 1 else NetworkOptimizers(tuple(opts))
    name = (
        setting_key(settings[0])
        if len(settings) == 1
        else f"{settings[0]['optimizer']}, {len(settings)} settings"
    )
    values = train_one(
        method,
        size,
        g,
        dev,
        opt=opt,
        meta={"settings": [_meta(cfg, method, size, s, dev) for s in settings]},
        desc=f"{method:>5} {size:>4} {name}",
        checkpoint_dir=checkpoint_dir,
        progress=progress,
        population=(template, np.concatenate(thetas)),
    )[0]
    return [values[i * cfg.runs : (i + 1) * cfg.runs] for i in range(len(settings))]


def _json_float(v):
    return float(v) if np.isfinite(v) else None


def run_tune(
    audio_path,
    out_dir,
    config: TuneConfig | None = None,
    *,
    resume: bool = False,
    progress=True,
    log=print,
    on_setting=None,
) -> dict:
    """Run the search; writes ``DIR/tuned.json`` (see :func:`load_settings`) and returns its data.

    ``on_setting(method, size, setting, record)`` is called after each setting is recorded.
    Without ``resume`` a folder that already holds a search is refused.
    """
    cfg = config or TuneConfig()
    out = Path(out_dir)
    if not resume and any((out / n).exists() for n in ("tuned.json", "settings", "checkpoints")):
        raise ParameterError(f"{out} already holds a search; resume it (--resume) or choose another folder")
    dev, _ = split_excerpts(load_music(audio_path), count=cfg.dev_excerpts, length=cfg.length, seed=cfg.seed)
    out.mkdir(parents=True, exist_ok=True)
    scores: dict = {}
    total = sum(len(cfg.grid(m)) for m in cfg.methods) * len(cfg.sizes)
    done = [0]
    for size in cfg.sizes:
        for method in cfg.methods:
            grid = cfg.grid(method)
            records = {setting_key(s): _finished(out, cfg, method, size, s, dev) for s in grid}
            for s in grid:
                if records[setting_key(s)] is not None:
                    _recorded(method, size, s, records[setting_key(s)], done, total, on_setting)
            for group in groups(cfg, [s for s in grid if records[setting_key(s)] is None]):
                for s, record in zip(group, _train_group(out, cfg, method, size, group, dev, progress)):
                    records[setting_key(s)] = record
                    _recorded(method, size, s, record, done, total, on_setting, log)
            scores.setdefault(method, {})[str(size)] = [
                {**s, **records[setting_key(s)]["score"]} for s in grid
            ]
    data = _tuned(cfg, scores, dev)
    save_settings(out / "tuned.json", data)
    for method, by_size in data["chosen"].items():
        for size, c in by_size.items():
            if len(cfg.lrs) > 1 and c["lr"] in (min(cfg.lrs), max(cfg.lrs)):
                log(
                    f"warning: {method} {size}: the chosen learning rate {c['lr']:g} is at the edge of "
                    f"the grid ({min(cfg.lrs):g} .. {max(cfg.lrs):g}); the optimum may lie outside it: "
                    "widen --lrs and --resume"
                )
    return data


def _record_path(out: Path, method: str, size: int, setting: dict) -> Path:
    return out / "settings" / f"{method}-{size}" / f"{setting_key(setting)}.json"


def _finished(out, cfg, method, size, setting, dev) -> dict | None:
    """A setting's record from ``DIR/settings``, or None if it has not finished; refuses a record
    made with other settings."""
    path = _record_path(out, method, size, setting)
    if not path.is_file():
        return None
    old = json.loads(path.read_text())
    if old.get("meta") != _meta(cfg, method, size, setting, dev):
        raise ParameterError(f"{path} was made with other settings; choose another folder")
    return old


def _recorded(method, size, setting, record, done, total, on_setting, log=None) -> None:
    """Count a setting as done, log it if it was trained now, and tell ``on_setting``."""
    done[0] += 1
    if log is not None:
        s = record["score"]
        log(
            f"[{done[0]}/{total}] {method:>5} {size:>4} {setting_key(setting)}: NMSE {s['mean']:.4g} ± "
            f"{s['std']:.4g} (median {s['median']:.4g}"
            + (f", {s['diverged']} diverged)" if s["diverged"] else ")")
        )
    if on_setting is not None:
        on_setting(method, size, setting, record)


def _train_group(out, cfg, method, size, group, dev, progress) -> list[dict]:
    """Train the settings of ``group`` together, write each one's record, drop the checkpoint."""
    name = f"{method}-{size}"
    ckpt = (
        out
        / "checkpoints"
        / name
        / (setting_key(group[0]) if len(group) == 1 else f"{group[0]['optimizer']}-group")
    )
    start = time.perf_counter()
    values = train_settings(method, size, group, cfg, dev, checkpoint_dir=ckpt, progress=progress)
    seconds = round((time.perf_counter() - start) / len(group), 2)
    records = []
    for setting, v in zip(group, values):
        record = {
            "meta": _meta(cfg, method, size, setting, dev),
            "score": score(v),
            "nmse": [_json_float(x) for x in v],
            "seconds": seconds,  # the group's time, shared evenly
        }
        write_json(_record_path(out, method, size, setting), record)
        records.append(record)
    shutil.rmtree(ckpt, ignore_errors=True)
    for folder in (ckpt.parent, ckpt.parent.parent):  # empty ones only
        with contextlib.suppress(OSError):
            folder.rmdir()
    return records


def _tuned(cfg: TuneConfig, scores: dict, dev: np.ndarray) -> dict:
    chosen = {}
    for method, by_size in scores.items():
        for size, records in by_size.items():
            best = choose(records)
            keys = [k for k in ("optimizer", "lr", "clip", "forget_bias") if k in best]
            chosen.setdefault(method, {})[size] = {
                **{k: best[k] for k in keys},
                "score": {k: best[k] for k in ("mean", "std", "median", "diverged")},
            }
    return json.loads(
        json.dumps(
            {
                "format": FORMAT,
                "version": VERSION,
                "seed": cfg.seed,
                "methods": list(cfg.methods),
                "sizes": list(cfg.sizes),
                "search_space": cfg.search_space(),
                "training": {
                    "runs": cfg.runs,
                    "epochs": cfg.epochs,
                    "loss": cfg.loss,
                    "backend": cfg.backend,
                    "device": cfg.device,
                },
                "dev": {
                    "count": cfg.dev_excerpts,
                    "length": cfg.length,
                    "part": "first half",
                    "sha256": _fingerprint(dev),
                },
                "chosen": chosen,
                "scores": scores,
            }
        )
    )


def _check_setting(entry, where: str, method: str) -> None:
    if not isinstance(entry, dict):
        raise ParameterTypeError(f"{where}: a setting must be an object; got {entry!r}")
    opt = entry.get("optimizer")
    if opt not in OPTIMIZERS:
        raise ParameterError(f"{where}: unknown optimizer {opt!r}; expected one of {OPTIMIZERS}")
    lr = entry.get("lr")
    want = f"{where}: lr must be a positive number; got {lr!r}"
    if not _is_number(lr):
        raise ParameterTypeError(want)
    if not (math.isfinite(lr) and lr > 0):
        raise ParameterError(want)
    clip = entry.get("clip", "missing")
    if clip is not None:
        want = f"{where}: clip must be a positive number or null; got {clip!r}"
        if not _is_number(clip):
            raise ParameterTypeError(want)
        if not (math.isfinite(clip) and clip > 0):
            raise ParameterError(want)
    if method == "lstm":
        fb = entry.get("forget_bias")
        want = f"{where}: forget_bias must be a number for lstm; got {fb!r}"
        if not _is_number(fb):
            raise ParameterTypeError(want)
        if not math.isfinite(fb):
            raise ParameterError(want)


def _is_number(value) -> bool:
    # JSON's true/false are Python bools, which are ints: not a number a user meant.
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _short(value) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def validate_settings(data, *, source: str = "settings") -> dict:
    """``data`` if it is a complete tuned-settings object; else a ParameterError naming the entry."""
    if not isinstance(data, dict):
        raise ParameterTypeError(
            f"{source}: a tuned-settings file must hold a JSON object; got {_short(data)}"
        )
    if data.get("format") != FORMAT:
        raise ParameterError(
            f"{source}: not a tuned-settings file (format must be {FORMAT!r}); got {_short(data.get('format'))}"
        )
    if data.get("version") != VERSION:
        raise ParameterError(f"{source}: unsupported version {data.get('version')!r}; expected {VERSION}")
    methods, sizes = data.get("methods"), data.get("sizes")
    for key, value in (("methods", methods), ("sizes", sizes)):
        if not isinstance(value, list):
            raise ParameterTypeError(f"{source}: {key!r} must be a non-empty list; got {_short(value)}")
        if not value:
            raise ParameterError(f"{source}: {key!r} must be a non-empty list; got []")
    for m in methods:
        if m not in METHODS:
            raise ParameterError(f"{source}: unknown method {m!r} in 'methods'; expected one of {METHODS}")
    for s in sizes:
        if isinstance(s, bool) or not isinstance(s, int):  # a list would not even hash for the lookup
            raise ParameterTypeError(
                f"{source}: sizes must be integers, one of {sorted(HIDDEN)}; got {_short(s)}"
            )
        if s not in HIDDEN:
            raise ParameterError(f"{source}: unknown size {s!r} in 'sizes'; expected one of {sorted(HIDDEN)}")
    chosen = data.get("chosen")
    if chosen is None:
        raise ParameterError(f"{source}: 'chosen' is missing")
    if not isinstance(chosen, dict):
        raise ParameterTypeError(f"{source}: 'chosen' must be an object; got {_short(chosen)}")
    for m in chosen:
        if m not in METHODS:
            raise ParameterError(f"{source}: unknown method {m!r} in 'chosen'; expected one of {METHODS}")
    for m in methods:
        if m not in chosen:
            raise ParameterError(f"{source}: 'chosen' has no entry for method {m!r}")
        for s in sizes:
            entry = chosen[m].get(str(s)) if isinstance(chosen[m], dict) else None
            if entry is None:
                raise ParameterError(f"{source}: 'chosen' has no entry for method {m!r}, size {s}")
            _check_setting(entry, f"{source}: chosen[{m!r}][{str(s)!r}]", m)
    return data


def save_settings(path, data: dict) -> Path:
    """Validate ``data`` and write it as JSON, atomically."""
    return write_json(path, validate_settings(data, source=str(path)))


def load_settings(path) -> dict:
    """Read and validate a ``tuned.json``; ``load_settings(save_settings(p, d)) == d``."""
    path = Path(path)
    if not path.is_file():
        raise ParameterError(f"{path}: no such settings file")
    try:
        data = json.loads(path.read_text())
    except (ValueError, UnicodeDecodeError) as exc:
        raise ParameterError(f"{path}: not valid JSON ({exc})") from None
    return validate_settings(data, source=str(path))


def optimizer_for(data: dict, method: str, size: int, *, momentum: float | None = None) -> OptimizerConfig:
    """The :class:`OptimizerConfig` chosen for ``method`` at ``size`` (Nesterov momentum from the search)."""
    try:
        entry = data["chosen"][method][str(size)]
    except KeyError:
        raise ParameterError(f"settings: no chosen setting for method {method!r}, size {size}") from None
    mom = data["search_space"]["momentum"] if momentum is None else momentum
    return OptimizerConfig(
        name=entry["optimizer"], lr=entry["lr"], momentum=mom, nesterov=True, clip=entry["clip"]
    )


def format_chosen(data: dict) -> str:
    """A table of the chosen setting and its development score per method and size."""
    lines = [
        f"{'method':<7}{'size':>6}  {'optimizer':<9}{'lr':>9}{'clip':>7}{'fbias':>7}  dev NMSE mean ± std"
    ]
    for m in data["methods"]:
        for s in data["sizes"]:
            c = data["chosen"][m][str(s)]
            sc = c["score"]
            fb = "" if "forget_bias" not in c else f"{c['forget_bias']:g}"
            clip = "none" if c["clip"] is None else f"{c['clip']:g}"
            lines.append(
                f"{m:<7}{s:>6}  {c['optimizer']:<9}{c['lr']:>9.0e}{clip:>7}{fb:>7}  {sc['mean']:.4g} ± {sc['std']:.4g}"
            )
    return "\n".join(lines)
