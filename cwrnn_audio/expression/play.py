"""Playing with a trained expression model: a score's loudness and pitch curves, an instrument's
expression model found in its folder. Light: no torch at import (the plugins read it)."""

from __future__ import annotations

import os
from pathlib import Path

from ..errors import ParameterError
from .codec import ExpressionCodec, score_input
from .score import score_frames

#: the sub-folders of an instrument's model folder that hold its expression models: the one that
#: reads scores (``render_notes``, ``generate --midi``) and the one that plays live (the plugin)
FOLDER = "expression"
LIVE_FOLDER = "expression_live"


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


def load_expression(model_dir, *, frame_rate: int, live: bool = False):
    """The expression model (a RuntimeModel) in ``model_dir``/:data:`FOLDER` (``live``:
    :data:`LIVE_FOLDER`), or None where the instrument has none; an expression model at another
    frame rate, or one that reads the other way, is refused naming it."""
    from ..models.folder import load_model_dir

    sub = Path(os.fspath(model_dir)) / (LIVE_FOLDER if live else FOLDER)
    if not sub.is_dir():
        return None
    model, codec, _ = load_model_dir(sub, torch=False)
    ok = getattr(codec, "name", "") == "expression" and codec.frame_rate == frame_rate
    if not ok or codec.lookahead == live:
        raise ParameterError(
            f"{sub}: an expression model at the instrument's frame rate ({frame_rate} Hz) "
            f"{'playing live (lookahead=False)' if live else 'reading scores (lookahead=True)'} expected; got {codec!r}"
        )
    return model


def instrument_performer(model_dir, *, frame_rate: int):
    """The performer of the expression model in ``model_dir``/:data:`FOLDER`, or None where the
    instrument has none (:func:`load_expression`)."""
    model = load_expression(model_dir, frame_rate=frame_rate)
    return None if model is None else performer(model, frame_rate=frame_rate)
