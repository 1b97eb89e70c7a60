"""Playing with a trained expression model: a score's loudness and pitch curves, an instrument's
expression model found in its folder. Light: no torch at import (the plugins read it)."""

from __future__ import annotations

import os
from pathlib import Path

from ..errors import ParameterError
from .codec import ExpressionCodec, score_input
from .score import score_frames

#: the sub-folder of an instrument's model folder that holds its expression model
FOLDER = "expression"


def predict_expression(model, notes, *, frames: int, frame_rate: int, lookahead: bool = True):
    """The loudness (dB) and pitch deviation (cents) a trained ``model`` (a CW-RNN, its
    RuntimeModel, or the LSTM baseline) gives ``notes`` over ``frames`` frames: two ``(frames,)``
    float64 arrays; ``lookahead=False``: as it plays them live (:func:`~.codec.score_input`)."""
    x = score_input(score_frames(notes, frames=frames, frame_rate=frame_rate), lookahead=lookahead)
    if hasattr(model, "stream"):  # a CW-RNN: the Numba stream
        out = model.stream().process(x)
    else:  # the LSTM baseline: its torch forward
        import torch

        with torch.no_grad():
            out = model(torch.from_numpy(x)[None])[0][0].numpy()
    return ExpressionCodec(frame_rate=frame_rate).decode(out)


def performer(model, *, frame_rate: int):
    """``perform(notes, frames) -> (loudness_db, cents)`` of ``model`` for
    :func:`~cwrnn_audio.ddsp.render.render_notes`."""
    return lambda notes, frames: predict_expression(model, notes, frames=frames, frame_rate=frame_rate)


def load_expression(model_dir, *, frame_rate: int):
    """The expression model (a RuntimeModel) in ``model_dir``/:data:`FOLDER`, or None where the
    instrument has none; an expression model at another frame rate is refused naming it."""
    from ..models.folder import load_model_dir

    sub = Path(os.fspath(model_dir)) / FOLDER
    if not sub.is_dir():
        return None
    model, codec, _ = load_model_dir(sub, torch=False)
    if getattr(codec, "name", "") != "expression" or codec.frame_rate != frame_rate:
        raise ParameterError(
            f"{sub}: an expression model at the instrument's frame rate ({frame_rate} Hz) expected; got {codec!r}"
        )
    return model


def instrument_performer(model_dir, *, frame_rate: int):
    """The performer of the expression model in ``model_dir``/:data:`FOLDER`, or None where the
    instrument has none (:func:`load_expression`)."""
    model = load_expression(model_dir, frame_rate=frame_rate)
    return None if model is None else performer(model, frame_rate=frame_rate)
