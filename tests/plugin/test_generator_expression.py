"""The generator performing live with its folder's expression model (issue 28, item 2)."""

import numpy as np
import pytest
from conftest import make_model, play_midi

from cwrnn_audio.ddsp.render import render_notes
from cwrnn_audio.expression.codec import ExpressionCodec
from cwrnn_audio.expression.play import LIVE_FOLDER, predict_expression
from cwrnn_audio.expression.score import HORIZON_S, live_frames, score_frames
from cwrnn_audio.midi import Note
from cwrnn_audio.plugin import get_plugin

RATE = 250  # the harmonic codec's frame rate
SR = 48000
# frame-aligned notes (multiples of 4 ms), all at A4: the live reading and the score's then agree
# frame for frame (before the first note a live voice's pitch is A4 too)
NOTES = [Note(69, 100, 0.02, 0.22), Note(69, 50, 0.22, 0.40), Note(69, 127, 0.60, 0.84)]


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    import torch

    from cwrnn_audio.adapters.harmonic import HarmonicAdapter
    from cwrnn_audio.models.folder import save_model_dir

    rng = np.random.default_rng(28)
    codec = HarmonicAdapter(sample_rate=16000, n_harmonics=16, n_noise=17)
    model = make_model(rng, input_size=2, output_size=codec.output_size, num_modules=4, module_size=8)
    d = save_model_dir(tmp_path_factory.mktemp("performs") / "model", model, codec)
    expr = make_model(
        rng, input_size=ExpressionCodec().input_size, output_size=2, num_modules=4, module_size=4
    )
    with torch.no_grad():  # audible (about -20 dB) and moving with the inputs, untrained
        expr.b_O[:] = torch.tensor([0.75, 0.0])
        expr.W_O.mul_(torch.tensor([[0.4], [3.0]]))
    save_model_dir(d / LIVE_FOLDER, expr, ExpressionCodec(frame_rate=RATE, lookahead=False))
    return d


def events(notes, host):
    out = []
    for n in notes:
        out += [
            (round(n.start * host), "note_on", n.pitch, n.velocity),
            (round(n.end * host), "note_off", n.pitch, 0),
        ]
    return sorted(out, key=lambda e: (e[0], e[1] == "note_on"))


def play(g, events, total, sizes):
    return play_midi(g, events, total, sizes)[0]


def test_live_frames_read_what_a_player_knows_frame_by_frame():
    # a voice's state as the plugin holds it when it renders frame i: the notes begun at boundaries
    # <= i, a note-off known once its boundary is <= i
    notes = [Note(60, 100, 0.1, 0.5), Note(62, 50, 0.5, 0.8), Note(67, 127, 1.3, 1.4)]
    frames = 450
    score = score_frames(notes, frames=frames, frame_rate=RATE)
    for i in range(frames):
        begun = [n for n in notes if round(n.start * RATE) <= i]
        if not begun:
            state = dict(pitch=[69.0], velocity=[0], on=[0], off=[-1], used=[0])
        else:
            n = begun[-1]
            off = round(n.end * RATE)
            state = dict(pitch=[n.pitch], velocity=[n.velocity], on=[round(n.start * RATE)],
                         off=[off if off <= i else -1], used=[1])  # fmt: skip
        got = live_frames(i, 1, frame_rate=RATE, **state)[0, 0]
        want = score[i]
        assert got[1] == want[1], i  # sounding
        np.testing.assert_allclose(got[[2, 5]], want[[2, 5]], atol=1e-12, err_msg=str(i))
        assert got[3] == got[4] == HORIZON_S  # a live player does not know the end or the next onset
        if want[1]:
            assert got[0] == want[0]


@pytest.mark.parametrize("host", [48000, 44100])
def test_one_voice_plays_as_render_notes_with_the_models_live_reading(folder, host):
    from cwrnn_audio.models.folder import load_model_dir
    from cwrnn_audio.runtime.resample import model_to_host

    model, codec, _ = load_model_dir(folder, domain="audio")
    expr = load_model_dir(folder / LIVE_FOLDER, torch=False).model

    def perform(line, frames):  # the score read without lookahead: what the plugin can know
        return predict_expression(expr, line, frames=frames, frame_rate=RATE, lookahead=False)

    ref = render_notes(model, codec, NOTES, perform=perform)
    g = get_plugin("generator")(folder, polyphony=1)
    assert g.expression_model is not None
    g.prepare(host, 512, 1)
    total = int(1.0 * host)
    out = play(g, events(NOTES, host), total, [512, 77])
    back, _ = model_to_host(codec.sample_rate, host, 1, ref.shape[1])
    want = np.zeros((1, total), np.float32)
    back.process(np.ascontiguousarray(ref), ref.shape[1], want, total)
    assert np.sqrt(np.mean(want**2)) > 1e-3
    np.testing.assert_allclose(out, want[0], atol=1e-4)
    # and the model made a difference: the envelopes alone play something else
    plain = render_notes(model, codec, NOTES)
    assert np.abs(plain[:, : ref.shape[1]] - ref).max() > 1e-2


def test_expression_off_plays_the_envelopes(folder):
    on, off = (
        get_plugin("generator")(folder, polyphony=2),
        get_plugin("generator")(folder, polyphony=2, expression=False),
    )
    assert off.expression_model is None
    outs = []
    for g in (on, off):
        g.prepare(SR, 256, 1)
        outs.append(play(g, events(NOTES, SR), int(0.9 * SR), [256]))
    assert np.abs(outs[0] - outs[1]).max() > 1e-2
    with pytest.raises(Exception, match="expression must be True or False"):
        get_plugin("generator")(folder, expression="yes")


def test_block_sizes_and_a_restored_state_change_nothing(folder):
    chords = [Note(60 + 4 * k, 80 + 10 * k, 0.05 + 0.1 * k, 0.5 + 0.07 * k) for k in range(3)]  # 3 voices
    evs = events(chords, SR)
    total = int(0.8 * SR)
    outs = []
    for sizes in ([512], [64, 1000, 7]):
        g = get_plugin("generator")(folder, polyphony=3)
        g.prepare(SR, 1024, 1)
        outs.append(play(g, evs, total, sizes))
    np.testing.assert_allclose(outs[1], outs[0], atol=1e-6)

    g = get_plugin("generator")(folder, polyphony=3)
    g.prepare(SR, 1024, 1)
    cut = 19200  # 0.4 s: every voice sounding, the expression streams mid-note
    head = play(g, [e for e in evs if e[0] < cut], cut, [512])
    saved = g.get_state()
    g.process_midi([(0, "note_on", 50, 127)], 512)  # disturb, then restore
    g.set_state(saved)
    tail = play(g, [(t - cut, *rest) for t, *rest in evs if t >= cut], total - cut, [512])
    np.testing.assert_allclose(np.concatenate([head, tail]), outs[0], atol=1e-6)


def test_a_score_model_in_the_live_folder_is_refused_naming_it(folder, tmp_path):
    import shutil

    from cwrnn_audio.errors import ParameterError
    from cwrnn_audio.models.folder import save_model_dir

    other = tmp_path / "model"
    shutil.copytree(folder, other)
    expr = make_model(np.random.default_rng(1), input_size=6, output_size=2, num_modules=2, module_size=2)
    save_model_dir(other / LIVE_FOLDER, expr, ExpressionCodec(frame_rate=RATE))  # reads scores
    with pytest.raises(ParameterError, match=r"expression_live: .*playing live \(lookahead=False\) expected"):
        get_plugin("generator")(other)


def test_the_compiled_reading_is_the_score_columns_encoded(folder):
    from cwrnn_audio.expression.codec import score_input
    from cwrnn_audio.expression.live import live_inputs

    rng = np.random.default_rng(5)
    V, n, first = 4, 37, 90
    state = dict(
        pitch=rng.integers(40, 90, V).astype(np.float64),
        velocity=rng.integers(1, 128, V).astype(np.float64),
        on=np.array([10, 95, 200, 0]),
        off=np.array([-1, 110, -1, 50]),
        used=np.array([1, 1, 1, 0], np.uint8),
    )
    x, sounding = np.empty((V, n, 6), np.float32), np.empty((V, n), bool)
    live_inputs(first, float(RATE), HORIZON_S, *state.values(), x, sounding)
    cols = live_frames(first, n, frame_rate=RATE, **state)
    np.testing.assert_allclose(x, score_input(cols, lookahead=False), rtol=0, atol=1e-7)
    np.testing.assert_array_equal(sounding, cols[..., 1] > 0)
    assert sounding.any() and not sounding.all()
