"""An expression model performs the notes an instrument plays: render_notes(perform=...), generate --expression."""

import shutil
import subprocess
import sys

import numpy as np
import pytest

import cwrnn_audio_samples
from cwrnn_audio.ddsp.render import _performed, note_controls
from cwrnn_audio.expression.fit import ExpressionTrainConfig, train_expression_arrays
from cwrnn_audio.expression.play import FOLDER, LIVE_FOLDER
from cwrnn_audio.expression.score import score_frames
from cwrnn_audio.expression.targets import Targets
from cwrnn_audio.midi import write_midi
from cwrnn_audio.midi.notes import Note, Score

RATE = 250
NOTES = [Note(72, 100, 0.1, 0.5), Note(74, 60, 0.9, 1.3)]


def test_sounding_frames_take_the_performance_and_rests_keep_the_envelope():
    f0, db = note_controls(NOTES, frame_rate=RATE)
    T = f0.shape[1]
    seen = []

    def perform(line, frames):
        seen.append((list(line), frames))
        return np.full(frames, -12.0), np.full(frames, 50.0)  # loud, and a quarter tone sharp

    f1, d1 = _performed(perform, NOTES, f0, db, RATE)
    assert seen == [(NOTES, T)]  # one voice: the whole line, every frame
    t0 = np.arange(T) / RATE  # each frame's start: a note sounds in the frames that start inside it
    sounding = ((t0 >= 0.1) & (t0 < 0.5)) | ((t0 >= 0.9) & (t0 < 1.3))
    np.testing.assert_array_equal(d1[0, sounding], -12.0)
    np.testing.assert_array_equal(d1[0, ~sounding], db[0, ~sounding])  # releases and rests as before
    np.testing.assert_allclose(f1[0, sounding], f0[0, sounding] * 2 ** (50 / 1200))
    np.testing.assert_array_equal(f1[0, ~sounding], f0[0, ~sounding])


@pytest.fixture(scope="module")
def instrument_with_expression(tmp_path_factory):
    """The bundled flute with a small expression model: notes loud at their start, then quiet."""
    root = tmp_path_factory.mktemp("inst")
    folder = root / "flute"
    shutil.copytree(
        str(cwrnn_audio_samples.path("models/flute_harmonic")),
        folder,
        ignore=shutil.ignore_patterns(FOLDER, LIVE_FOLDER),
    )
    items = []
    for shift in range(3):
        notes = [n._replace(pitch=n.pitch + shift) for n in NOTES]
        f = score_frames(notes, frames=400, frame_rate=RATE)
        loud = np.where(f[:, 1] > 0, -10.0 - 30.0 * np.minimum(f[:, 2] / 0.4, 1.0), -100.0)
        items.append((f, Targets(loud, np.zeros(400), f[:, 1] > 0)))
    cfg = ExpressionTrainConfig(num_modules=4, module_size=4, window=100, epochs=2, patience=2)
    train_expression_arrays(items, folder / FOLDER, cfg, progress=False, log=lambda s: None)
    midi = root / "song.mid"
    write_midi(Score(notes=list(NOTES)), midi)
    return folder, midi


def generate(folder, midi, out, *extra):
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "cwrnn_audio",
            "generate",
            str(folder),
            "--midi",
            str(midi),
            "-o",
            str(out),
            *extra,
        ],
        capture_output=True,
        text=True,
    )


def test_generate_plays_with_the_folders_expression_model_unless_told_off(
    instrument_with_expression, tmp_path
):
    import soundfile as sf

    folder, midi = instrument_with_expression
    outs = {}
    for mode in ("on", "off"):
        r = generate(folder, midi, tmp_path / f"{mode}.wav", "--expression", mode)
        assert r.returncode == 0, r.stderr
        outs[mode] = sf.read(tmp_path / f"{mode}.wav", dtype="float32")[0]
    # the bundled flute's own expression models are ignored too: off is the envelopes, whatever the folder holds
    plain = generate(
        cwrnn_audio_samples.path("models/flute_harmonic"), midi, tmp_path / "plain.wav", "--expression", "off"
    )
    assert plain.returncode == 0, plain.stderr
    np.testing.assert_array_equal(outs["off"], sf.read(tmp_path / "plain.wav", dtype="float32")[0])
    assert np.abs(outs["on"] - outs["off"]).max() > 0.01  # the performance changed the sound
    rest = slice(int(0.75 * 16000), int(0.85 * 16000))  # between the notes, past the release
    assert np.abs(outs["on"][rest]).max() < 1e-3  # a rest is silent whatever the model says


def test_an_expression_model_at_another_frame_rate_is_refused(instrument_with_expression, tmp_path):
    folder, midi = instrument_with_expression
    other = tmp_path / "other"
    shutil.copytree(folder, other)
    shutil.rmtree(other / FOLDER)
    f = score_frames(NOTES, frames=200, frame_rate=100)
    cfg = ExpressionTrainConfig(frame_rate=100, num_modules=2, module_size=2, window=50, epochs=1, patience=1)
    train_expression_arrays([(f, Targets(np.zeros(200), np.zeros(200), f[:, 1] > 0))] * 2, other / FOLDER, cfg,
                            progress=False, log=lambda s: None)  # fmt: skip
    r = generate(other, midi, tmp_path / "x.wav")
    assert r.returncode == 2 and "frame rate (250 Hz)" in r.stderr and "Traceback" not in r.stderr, r.stderr


def test_train_audio_score_mistakes_are_refused_before_training(tmp_path):
    rec = cwrnn_audio_samples.path("instruments/flute_heldout.flac")
    mid = cwrnn_audio_samples.path("instruments/heldout.mid")

    def train(*args):
        cmd = [
            sys.executable,
            "-m",
            "cwrnn_audio",
            "train",
            "audio",
            *map(str, args),
            "--out",
            str(tmp_path / "m"),
        ]
        return subprocess.run(cmd, capture_output=True, text=True)

    for args, said in (
        ((rec, "--encoding", "mulaw", "--score", mid), "harmonic"),
        ((rec, rec, "--encoding", "harmonic", "--score", mid), "one score per recording"),
        ((rec, "--encoding", "harmonic", "--score", tmp_path / "none.mid"), "none.mid: no such file"),
    ):
        r = train(*args)
        assert r.returncode == 2 and said in r.stderr and "Traceback" not in r.stderr, r.stderr
    assert not (tmp_path / "m").exists()


def test_train_audio_with_a_score_leaves_an_instrument_that_performs(tmp_path):
    """The README's commands end to end: the instrument and its expression model in one folder."""
    import soundfile as sf

    rec = cwrnn_audio_samples.path("instruments/flute_heldout.flac")
    mid = cwrnn_audio_samples.path("instruments/heldout.mid")
    out = tmp_path / "flute"
    cmd = [sys.executable, "-m", "cwrnn_audio", "train", "audio", str(rec), "--encoding", "harmonic"]
    cmd += ["--score", str(mid), "--epochs", "1", "--out", str(out), "-q"]
    r = subprocess.run(cmd, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert (out / "model.safetensors").is_file() and (out / FOLDER / "model.safetensors").is_file()
    assert (out / LIVE_FOLDER / "model.safetensors").is_file()  # the plugin's, playing live
    assert "expression models:" in r.stdout
    played = {}
    for mode in ("on", "off"):
        g = generate(out, mid, tmp_path / f"{mode}.wav", "--transpose", "12", "--expression", mode)
        assert g.returncode == 0, g.stderr
        played[mode] = sf.read(tmp_path / f"{mode}.wav", dtype="float32")[0]
    assert played["on"].shape == played["off"].shape and np.abs(played["on"] - played["off"]).max() > 0.01
