"""Training the expression model: (recording, score) pairs -> a model folder (issue 28).

Each recording is analysed as the harmonic codec analyses it (pYIN f0 and A-weighted loudness at
``frame_rate``), its score put on its timeline (:func:`~.align.align`, refused below the stated
quality), and the CW-RNN learns the frames' loudness and pitch deviation from the score's frames
through the one sequence trainer. The modules' periods span 1 frame (4 ms at 250 Hz) to 2^9 frames
(2 s): a note's attack, its decay and a phrase's dynamics.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import numpy as np

from ..errors import ParameterError
from ..train.sequence import LoopConfig, train_model_dir
from .codec import ExpressionCodec
from .score import score_frames


@dataclass
class ExpressionTrainConfig(LoopConfig):
    frame_rate: int = 250
    num_modules: int = 10
    module_size: int = 8
    window: int = 250
    chunk_windows: int = 4
    batch: int = 8
    epochs: int = 30
    patience: int = 8
    architecture: str = "cwrnn"  # or "lstm": the baseline of equal parameters, for comparisons

    def __post_init__(self):
        from ..checks import valid_choice
        from ..core.kinds import SEQUENCE_KINDS

        super().__post_init__()
        valid_choice(self.architecture, SEQUENCE_KINDS, name="architecture")

    def model(self):
        from ..nn.lstm import LSTMNet, matching_hidden
        from ..nn.module import CWRNN

        I, O = ExpressionCodec().input_size, 2
        cw = CWRNN(input_size=I, output_size=O, num_modules=self.num_modules, module_size=self.module_size)
        if self.architecture == "cwrnn":
            return cw
        return LSTMNet(input_size=I, hidden_size=matching_hidden(I, O, cw.num_parameters), output_size=O)


def train_expression_arrays(
    items, out_dir, config: ExpressionTrainConfig | None = None, *, lookahead: bool = True, data=None, **run
):
    """Train on ``[(score_frames (T, 6), Targets)]`` (:func:`~.score.score_frames`,
    :func:`~.targets.expression_targets`) into the model folder ``out_dir``; returns the history.
    ``lookahead=False``: the model that plays live (:class:`~.codec.ExpressionCodec`)."""
    cfg = config or ExpressionTrainConfig()
    codec = ExpressionCodec(frame_rate=cfg.frame_rate, lookahead=lookahead)
    streams = []
    for i, (frames, targets) in enumerate(items):
        if len(frames) != len(targets.loudness_db):
            raise ParameterError(
                f"item {i}: {len(frames)} score frames but {len(targets.loudness_db)} target frames"
            )
        streams.append(codec.encode((frames, targets)))
    run.setdefault("info", {"kind": "expression", "lookahead": codec.lookahead})
    return train_model_dir(streams, cfg.model, codec, out_dir, cfg, data=data, **run)[0]


class Performance(NamedTuple):
    audio: np.ndarray  # (frames,) float32 at the harmonic codec's rate
    features: object  # FrameFeatures at the expression model's frame rate
    alignment: object  # the score on the recording's timeline (align.Alignment)


def analyse(recording, score_file, *, frame_rate: int) -> Performance:
    """A recording and its score as the expression model learns from them: the recording at the
    harmonic codec's rate, analysed as that codec analyses it, and its score aligned to it."""
    from ..adapters.harmonic import HarmonicAdapter
    from ..audio.dataset import load_clip
    from ..ddsp.features import frame_features
    from ..midi import read_midi
    from .align import align

    for f in (recording, score_file):
        if not Path(os.fspath(f)).is_file():
            raise ParameterError(f"{f}: no such file")
    sr = HarmonicAdapter().sample_rate
    audio = load_clip(recording, sr)[0]
    features = frame_features(audio, sample_rate=sr, frame_rate=frame_rate)
    placed = align(read_midi(score_file).notes, features.f0_hz, features.voiced, frame_rate=frame_rate,
                   score=str(score_file), recording=str(recording))  # fmt: skip
    return Performance(audio, features, placed)


def train_expression(pairs, out_dir, config: ExpressionTrainConfig | None = None, *, live_dir=None, **run):
    """Train on ``[(recording file, score .mid)]``: analysed, aligned, trained (see the module) into
    ``out_dir``; with ``live_dir``, the model that plays live too (the same data, trained again
    without lookahead). Returns the history (of ``out_dir``'s model)."""
    from ..train.folder import file_digests
    from .targets import expression_targets

    cfg = config or ExpressionTrainConfig()
    if not pairs:
        raise ParameterError("pairs: no (recording, score) pair given")
    items = []
    for recording, score_file in pairs:
        _, features, placed = analyse(recording, score_file, frame_rate=cfg.frame_rate)
        frames = score_frames(placed.notes, frames=features.f0_hz.size, frame_rate=cfg.frame_rate)
        targets = expression_targets(
            features, placed.notes, frame_rate=cfg.frame_rate, transpose=placed.transpose
        )
        items.append((frames, targets))
    data = file_digests([f for pair in pairs for f in pair])
    if live_dir is not None:
        train_expression_arrays(items, live_dir, cfg, lookahead=False, data=data, **run)
    return train_expression_arrays(items, out_dir, cfg, data=data, **run)
