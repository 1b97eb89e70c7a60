"""The generator's harmonic voices render frames ahead and rewind when a note event falls inside them:
the output must be the frame-by-frame one (``RENDER_AHEAD = 1``), whatever the blocks."""

import sys

import numpy as np
import pytest
from conftest import play_midi

from cwrnn_audio.plugin import get_plugin

SR = 44100


def dense_events(seed, seconds):
    """Notes of 15-80 ms on up to three voices, overlapping, some legato: events every few frames."""
    rng = np.random.default_rng(seed)
    out, t = [], 0.01
    while t < seconds - 0.3:
        length = rng.uniform(0.015, 0.08)
        note = int(rng.integers(60, 84))
        out += [
            (round(t * SR), "note_on", note, int(rng.integers(20, 127))),
            (round((t + length) * SR), "note_off", note, 0),
        ]
        t += rng.choice([0.0, length, rng.uniform(0.005, 0.05)])
    return sorted(out, key=lambda e: (e[0], e[1] == "note_on"))


def play(g, events, total, sizes):
    return play_midi(g, events, total, sizes)[0]


@pytest.mark.parametrize("expression", [True, False])
def test_frames_rendered_ahead_are_rewound_to_the_frame_by_frame_output(monkeypatch, expression):
    events, total = dense_events(4, 1.5), int(1.5 * SR)
    g = get_plugin("generator")("flute_harmonic", polyphony=3, expression=expression)
    voices = sys.modules[type(g._harmonic).__module__]
    assert voices.RENDER_AHEAD > 1
    rewinds = []
    rewind = type(g._harmonic)._rewind
    monkeypatch.setattr(
        type(g._harmonic), "_rewind", lambda self, frame: (rewinds.append(frame), rewind(self, frame))
    )
    g.prepare(SR, 1024, 1)
    ahead = play(g, events, total, [512, 100, 1024])
    assert len(rewinds) >= 10  # the case under test happened, many times
    monkeypatch.setattr(voices, "RENDER_AHEAD", 1)
    g = get_plugin("generator")("flute_harmonic", polyphony=3, expression=expression)
    g.prepare(SR, 1024, 1)
    plain = play(g, events, total, [512])
    assert np.abs(plain).max() > 0.01
    np.testing.assert_allclose(ahead, plain, atol=1e-6)


def test_saving_the_state_forgets_the_frames_rendered_ahead_and_changes_nothing():
    events, total = dense_events(5, 1.0), int(1.0 * SR)
    g = get_plugin("generator")("flute_harmonic", polyphony=3)
    g.prepare(SR, 512, 1)
    whole = play(g, events, total, [512])
    g = get_plugin("generator")("flute_harmonic", polyphony=3)
    g.prepare(SR, 512, 1)
    cut = 512 * 40
    head = play(g, [e for e in events if e[0] < cut], cut, [512])
    assert g._harmonic.frames > g._harmonic.played  # frames rendered ahead when the state is saved
    saved = g.get_state()
    g2 = get_plugin("generator")("flute_harmonic", polyphony=3)
    g2.prepare(SR, 512, 1)
    g2.set_state(saved)
    rest = [(t - cut, *r) for t, *r in events if t >= cut]
    tail = play(g2, rest, total - cut, [512])
    np.testing.assert_allclose(np.concatenate([head, tail]), whole, atol=1e-6)
    np.testing.assert_allclose(play(g, rest, total - cut, [512]), tail, atol=1e-6)  # and the saver plays on
