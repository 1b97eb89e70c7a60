"""score_frames against a frame-by-frame reading of its definition."""

import numpy as np
import pytest

from cwrnn_audio import ParameterError, ParameterTypeError
from cwrnn_audio.expression.score import COLUMNS, HORIZON_S, score_frames
from cwrnn_audio.midi.notes import Note

NOTES = [Note(60, 100, 0.10, 0.50), Note(62, 50, 0.50, 0.80), Note(67, 127, 1.30, 1.40)]


def reference(notes, frames, rate):
    """Each frame on its own, from the words of the docstring: times at the frame's end, the note
    of the frame the one started by its start."""
    rows = []
    for i in range(frames):
        t0, t = i / rate, (i + 1) / rate
        on = [n for n in notes if n.start <= t0 < n.end]
        before = [n for n in notes if n.start <= t0]
        after = [n for n in notes if n.start > t0]
        if on:
            n = on[0]
            row = [
                n.pitch,
                1,
                t - n.start,
                n.end - t,
                after[0].start - t if after else HORIZON_S,
                n.velocity / 127,
            ]
        else:
            prev = before[-1] if before else None
            pitch = (after[0] if after else prev).pitch
            since = t - prev.end if prev else t
            until = after[0].start - t if after else HORIZON_S
            row = [pitch, 0, since, until, until if after else HORIZON_S, 0.0]
        row[2:5] = [min(max(v, 0.0), HORIZON_S) for v in row[2:5]]
        rows.append(row)
    return np.array(rows, np.float64)


@pytest.mark.parametrize("rate", [250, 100, 7])
def test_every_column_follows_its_definition(rate):
    frames = int(6.5 * rate)  # past the horizon after the last note
    got = score_frames(NOTES, frames=frames, frame_rate=rate)
    assert got.shape == (frames, len(COLUMNS))
    np.testing.assert_allclose(got, reference(NOTES, frames, rate), atol=1e-12)


def test_a_legato_step_and_a_rest_read_as_a_player_would():
    got = score_frames(NOTES, frames=400, frame_rate=250)
    col = {c: got[:, i] for i, c in enumerate(COLUMNS)}
    at = lambda s: int(round(s * 250)) - 1  # noqa: E731 - the frame ending at s seconds
    assert col["pitch"][at(0.52)] == 62 and col["sounding"][at(0.52)] == 1  # the legato step: no gap
    assert col["sounding"][at(1.0)] == 0 and col["pitch"][at(1.0)] == 67  # a rest shows the note to come
    assert col["to_next_s"][at(1.0)] == pytest.approx(0.3) and col["velocity"][at(1.0)] == 0


def test_chords_empty_scores_and_wrong_types_are_refused():
    with pytest.raises(ParameterError, match="one line.*note 64 at 0.200 s starts before note 60 ends"):
        score_frames([Note(60, 90, 0.0, 0.5), Note(64, 90, 0.2, 0.6)], frames=10, frame_rate=100)
    with pytest.raises(ParameterError, match="no notes"):
        score_frames([], frames=10, frame_rate=100)
    with pytest.raises(ParameterTypeError):
        score_frames("notes", frames=10, frame_rate=100)
    with pytest.raises(ParameterError):
        score_frames(NOTES, frames=-1, frame_rate=100)
