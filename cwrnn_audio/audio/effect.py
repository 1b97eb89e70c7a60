"""Teaching a CW-RNN an effect from (dry, processed) recordings, as neural amp modelers do."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..adapters import RawAdapter
from ..errors import ParameterError
from ..train.folder import claim, file_digests
from ..train.sequence import LoopConfig, run_settings, train_model_dir
from .dataset import load_clip


@dataclass
class EffectTrainConfig(LoopConfig):
    sample_rate: int = 48000
    num_modules: int = 8
    module_size: int = 16
    window: int = 512
    chunk_windows: int = 4
    batch: int = 8

    def model(self):
        from ..nn.module import CWRNN

        return CWRNN(
            input_size=1,
            output_size=1,
            num_modules=self.num_modules,
            module_size=self.module_size,
            output_activation="tanh",
        )


def train_effect_arrays(
    pairs,
    out_dir,
    config: EffectTrainConfig | None = None,
    *,
    resume=False,
    progress=True,
    log=print,
    data=None,
):
    """Train on ``[(dry (frames,), processed (frames,))]`` float arrays at ``config.sample_rate``.
    ``data``: what the pairs came from (``[[file, sha256]]``), for resume to recognise them."""
    cfg = config or EffectTrainConfig()
    streams = []
    for i, (dry, wet) in enumerate(pairs):
        dry, wet = np.asarray(dry, np.float32).ravel(), np.asarray(wet, np.float32).ravel()
        if dry.shape != wet.shape:
            raise ParameterError(
                f"pair {i}: dry and processed must have the same length; got {dry.size} and {wet.size}"
            )
        if not (np.isfinite(dry).all() and np.isfinite(wet).all()):
            raise ParameterError(f"pair {i}: NaN or infinite samples")
        streams.append((dry[:, None], np.clip(wet, -1, 1)[:, None]))
    adapter = RawAdapter(sample_rate=cfg.sample_rate)
    run = dict(resume=resume, progress=progress, log=log, info={"kind": "effect"}, data=data)
    return train_model_dir(streams, cfg.model, adapter, out_dir, cfg, **run)[0]


def train_effect(dry_files, wet_files, out_dir, config: EffectTrainConfig | None = None, **kw):
    """Train on pairs of files (dry, processed), resampled to ``config.sample_rate`` and mixed to mono."""
    cfg = config or EffectTrainConfig()
    if len(dry_files) != len(wet_files) or not dry_files:
        raise ParameterError(
            f"need as many processed files as dry ones; got {len(dry_files)} and {len(wet_files)}"
        )
    files = [f for pair in zip(dry_files, wet_files) for f in pair]
    for f in files:
        if not Path(os.fspath(f)).is_file():
            raise ParameterError(f"{f}: no such audio file")
    data = file_digests(files)
    # the folder's checks (busy, not writable, other settings or files) come before the decoding
    with claim(out_dir, resume=kw.get("resume", False), settings=run_settings(cfg, data)):
        pairs = []
        for d, w in zip(dry_files, wet_files):
            a, b = load_clip(d, cfg.sample_rate)[0], load_clip(w, cfg.sample_rate)[0]
            if a.size != b.size:
                raise ParameterError(f"{w}: {b.size} frames, but {d} has {a.size}; the pair must be aligned")
            pairs.append((a, b))
        return train_effect_arrays(pairs, out_dir, cfg, data=data, **kw)
