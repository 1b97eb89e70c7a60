"""Silence in the controls is silence in the audio (issue 25 item 2, DEFECTS 21), and notes' times
are checked (DEFECTS 11)."""

import math
import warnings

import numpy as np
import pytest
import torch
from conftest import make_model

from cwrnn_audio import ParameterError, ParameterTypeError
from cwrnn_audio.adapters import harmonic as harmonic_module
from cwrnn_audio.adapters.harmonic import HarmonicAdapter, control_gain
from cwrnn_audio.ddsp.render import FLOOR_DB, Envelope, note_controls, render_notes
from cwrnn_audio.kernels.harmonic import HarmonicSynth
from cwrnn_audio.midi.notes import Note

FR = 250
RELEASE = Envelope().release
# one voice (mono legato) with two half-second rests and a tail
NOTES = [Note(69, 100, 0.0, 0.5), Note(72, 100, 1.0, 1.5), Note(67, 100, 2.0, 2.5)]
RESTS = [(0.5 + RELEASE, 1.0), (1.5 + RELEASE, 2.0), (2.5 + RELEASE, 2.5 + RELEASE + 0.5)]


def codec():
    return HarmonicAdapter(sample_rate=16000, frame_rate=FR, n_harmonics=8, n_noise=9)


def loud_model(c, seed=25):
    """A random-weight model whose output is loud whatever its inputs: a large amplitude logit and
    noise logits that cancel the codec's quiet noise offset."""
    m = make_model(
        np.random.default_rng(seed), input_size=2, output_size=c.output_size, num_modules=3, module_size=4
    )
    with torch.no_grad():
        m.b_O[0] = 3.0
        m.b_O[1 + c.n_harmonics :] = 5.0
    return m


def level_db(audio, sr, a, b):
    x = np.asarray(audio, np.float64)[int(round(a * sr)) : int(round(b * sr))]
    return 10 * math.log10(max(np.mean(x**2), 1e-30))


def ungated_render(model, c, notes):
    """What ``render_notes`` played before the gate: the model's synthesizer parameters as they are."""
    f0, db = note_controls(notes, frame_rate=FR)
    V, T = f0.shape
    out = model.stream(voices=V).process(np.ascontiguousarray(c.controls(f0, db)))
    amplitude, harmonics, noise = c.synth_params(out.astype(np.float64))
    synth = HarmonicSynth(c.sample_rate, c.hop, c.n_harmonics, c.n_noise, voices=V)
    u = np.stack([np.random.default_rng([0, v]).standard_normal(T * c.hop) for v in range(V)]).astype(
        np.float32
    )
    audio = synth.process(*(a.astype(np.float32) for a in (f0, amplitude, harmonics, noise)), u)
    return audio.sum(0)


def test_the_gain_is_0_at_the_floor_1_at_playing_levels_and_smooth():
    db = np.linspace(FLOOR_DB - 20, 0.0, 1201)
    g = control_gain(db)
    assert np.all(g[db <= FLOOR_DB] == 0.0)
    assert np.all(g[db >= harmonic_module.GATE_OPEN_DB] == 1.0)
    assert control_gain(Envelope().level_db(1)) == 1.0  # the quietest default note is not touched
    assert np.all(np.diff(g) >= 0) and np.max(np.diff(g)) < 0.01  # no step: notes do not click
    assert harmonic_module.FLOOR_DB == FLOOR_DB


def test_rests_of_a_loud_untrained_instrument_are_silent_notes_unchanged():
    c = codec()
    model = loud_model(c)
    audio = render_notes(model, c, NOTES)[0]
    before = ungated_render(model, c, NOTES)
    sr = c.sample_rate
    notes_before = [level_db(before, sr, n.start, n.end) for n in NOTES]
    rests_before = [level_db(before, sr, a, b) for a, b in RESTS]
    assert min(rests_before) > np.mean(notes_before) - 10  # the model is loud everywhere
    notes_now = [level_db(audio, sr, n.start, n.end) for n in NOTES]
    np.testing.assert_allclose(notes_now, notes_before, atol=0.5)
    rests_now = [level_db(audio, sr, a, b) for a, b in RESTS]
    assert max(rests_now) <= np.mean(notes_now) - 40, (notes_now, rests_now)


def test_generator_plugin_rests_are_silent_notes_unchanged(tmp_path, notes_to_events, monkeypatch):
    from cwrnn_audio.models.folder import save_model_dir
    from cwrnn_audio.plugin import get_plugin

    c = codec()
    folder = save_model_dir(tmp_path / "model", loud_model(c), c)
    host = 48000
    events = [
        (int(t * host), *rest)
        for t, *rest in notes_to_events(*((n.start, n.end, n.pitch, n.velocity) for n in NOTES))
    ]
    total = int(RESTS[-1][1] * host)

    def play(sizes):
        g = get_plugin("generator")(folder, polyphony=2)
        g.prepare(host, 512, 1)
        out, pos, i = [], 0, 0
        while pos < total:
            n = min(sizes[i % len(sizes)], total - pos)
            i += 1
            out.append(g.process_midi([(t - pos, *r) for t, *r in events if pos <= t < pos + n], n).copy())
            pos += n
        return np.concatenate(out, axis=1)[0, g.latency_samples :]

    audio = play([512, 77])
    np.testing.assert_array_equal(play([333]), audio)  # block-size invariant
    with monkeypatch.context() as m:
        m.setattr(harmonic_module, "control_gain", lambda db: np.ones_like(db))
        before = play([512, 77])
    notes_before = [level_db(before, host, n.start, n.end) for n in NOTES]
    notes_now = [level_db(audio, host, n.start, n.end) for n in NOTES]
    np.testing.assert_allclose(notes_now, notes_before, atol=0.5)
    rests_before = [level_db(before, host, a, b) for a, b in RESTS]
    assert min(rests_before) > np.mean(notes_before) - 10  # the model is loud everywhere
    rests_now = [level_db(audio, host, a, b) for a, b in RESTS]
    assert max(rests_now) <= np.mean(notes_now) - 40, (notes_now, rests_now)


BAD_TIMES = [
    (float("nan"), 1.0),
    (0.5, float("nan")),
    (0.0, 1e12),
    (0.0, float("inf")),
    (-1.0, 0.5),
    (0.8, 0.6),
]


@pytest.mark.parametrize("start, end", BAD_TIMES)
def test_bad_note_times_are_refused_naming_the_note(start, end):
    notes = [Note(60, 100, 0.0, 0.5), Note(62, 100, start, end)]
    with pytest.raises(ParameterError, match=r"notes\[1\] Note\(pitch=62"):
        render_notes(loud_model(codec()), codec(), notes)


def test_a_note_time_of_the_wrong_type_is_refused_naming_the_note():
    with pytest.raises(ParameterTypeError, match=r"notes\[0\].*start must be a number"):
        note_controls([Note(60, 100, "0", 0.5)], frame_rate=FR)


def streams(*loudness):
    c = codec()
    return [(c.controls(np.full(len(db), 220.0), np.asarray(db, np.float64)), None) for db in loudness]


def test_training_without_quiet_frames_warns():
    loud = np.full(1000, -25.0)
    tail_only = np.concatenate(
        [np.full(900, -25.0), np.full(100, FLOOR_DB)]
    )  # quiet only where validation is
    for s in (streams(loud), streams(tail_only)):
        with pytest.warns(UserWarning, match="quiet"):
            assert codec().check_quiet(s, 0.1) < 0.01
    rests = loud.copy()
    rests[200:250] = FLOOR_DB  # 5 % rests in the training part
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert codec().check_quiet(streams(rests, loud), 0.1) == pytest.approx(50 / 1800)
