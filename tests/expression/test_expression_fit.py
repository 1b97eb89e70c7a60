"""The expression model learns a player's habits from (score, performance) frames and plays them back."""

import numpy as np
import pytest

from cwrnn_audio import ParameterError
from cwrnn_audio.expression.fit import ExpressionTrainConfig, train_expression_arrays
from cwrnn_audio.expression.play import predict_expression
from cwrnn_audio.expression.score import score_frames
from cwrnn_audio.expression.targets import Targets
from cwrnn_audio.midi.notes import Note
from cwrnn_audio.models import load_model_dir

RATE = 50  # frames a second: small, so the test trains in seconds


def tune(seed):
    rng = np.random.default_rng(seed)
    notes, t = [], 0.1
    for _ in range(40):
        d = float(rng.choice([0.3, 0.5, 0.8]))
        notes.append(Note(int(rng.integers(60, 72)), int(rng.integers(40, 127)), t, t + d))
        t += d + float(rng.choice([0.0, 0.0, 0.3]))
    return notes, int((t + 0.5) * RATE)


def performance(frames):
    """A player: each note swells from -40 dB to a level set by its velocity over 0.2 s and decays;
    rests at -90 dB; a vibrato of 20 cents at 5 Hz that starts 0.15 s into a note."""
    sounding, since, vel = frames[:, 1], frames[:, 2], frames[:, 5]
    level = -40.0 + 25.0 * vel * np.minimum(since / 0.2, 1.0) - 6.0 * np.maximum(since - 0.2, 0.0)
    loud = np.where(sounding > 0, level, -90.0)
    cents = np.where(since > 0.15, 20.0 * np.sin(2 * np.pi * 5 * since), 0.0)
    return Targets(loud, np.where(sounding > 0, cents, 0.0), sounding > 0)


def test_it_learns_a_players_dynamics_and_plays_them_on_an_unseen_tune(tmp_path):
    items = []
    for seed in range(3):
        notes, T = tune(seed)
        f = score_frames(notes, frames=T, frame_rate=RATE)
        items.append((f, performance(f)))
    cfg = ExpressionTrainConfig(
        frame_rate=RATE, num_modules=6, module_size=8, window=50, epochs=40, patience=40
    )
    history = train_expression_arrays(items, tmp_path / "expr", cfg, progress=False, log=lambda s: None)
    assert history["train_loss"][-1] < 0.3 * history["train_loss"][0]
    folder = load_model_dir(tmp_path / "expr", torch=False)
    assert folder.codec.name == "expression" and folder.codec.frame_rate == RATE
    notes, T = tune(99)  # held out
    loud, cents = predict_expression(folder.model, notes, frames=T, frame_rate=RATE)
    want = performance(score_frames(notes, frames=T, frame_rate=RATE))
    baseline = np.sqrt(np.mean((want.loudness_db - want.loudness_db.mean()) ** 2))  # a flat guess
    err = np.sqrt(np.mean((loud - want.loudness_db) ** 2))
    assert err < 0.35 * baseline, (err, baseline)
    rests = ~want.has_cents
    assert loud[rests].mean() < loud[~rests].mean() - 20.0  # rests well below the notes


def test_items_whose_lengths_disagree_are_refused(tmp_path):
    notes, T = tune(0)
    f = score_frames(notes, frames=T, frame_rate=RATE)
    t = performance(f)
    short = Targets(t.loudness_db[:-1], t.cents[:-1], t.has_cents[:-1])
    with pytest.raises(ParameterError, match="item 0: .* score frames but .* target frames"):
        train_expression_arrays([(f, short)], tmp_path / "x", ExpressionTrainConfig(frame_rate=RATE))
