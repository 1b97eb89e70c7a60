import subprocess
import sys

import mido
import numpy as np
import pytest

import cwrnn_audio_samples
from cwrnn_audio import ParameterError
from cwrnn_audio.midi import read_midi
from cwrnn_audio.midi.corpus import load_scores
from cwrnn_audio.midi.fit import MidiTrainConfig, train_midi
from cwrnn_audio.midi.generate import generate_midi
from cwrnn_audio.models import make_codec
from cwrnn_audio.models.folder import load_model_dir

TUNES = cwrnn_audio_samples.path("midi")


@pytest.fixture
def folder(tmp_path):
    d = tmp_path / "midi"
    d.mkdir()
    for f in sorted(TUNES.iterdir())[:4]:
        (d / f.name).write_bytes(f.read_bytes())
    data = (d / "tune_0.mid").read_bytes()
    (d / "truncated.mid").write_bytes(data[: len(data) // 3])
    (d / "corrupt.mid").write_bytes(b"MThd\x00\x00\x00\x06garbage")
    empty = mido.MidiFile()
    empty.tracks.append(mido.MidiTrack([mido.MetaMessage("set_tempo", tempo=500_000)]))
    empty.save(str(d / "no_notes.mid"))
    far = mido.MidiFile(ticks_per_beat=96)
    far.tracks.append(
        mido.MidiTrack(
            [
                mido.Message("note_on", note=60, velocity=64, time=0),
                mido.Message("note_off", note=60, time=2**28 - 1),
            ]
        )
    )
    far.save(str(d / "huge_delta.mid"))
    fast = mido.MidiFile(ticks_per_beat=96)
    fast.tracks.append(
        mido.MidiTrack(
            [
                mido.MetaMessage("set_tempo", tempo=1),  # absurd: clamped, warned
                mido.Message("note_on", note=62, velocity=64, time=0),
                mido.Message("note_off", note=62, time=96),
            ]
        )
    )
    fast.save(str(d / "absurd_tempo.mid"))
    return d


def test_folder_skips_and_lists_bad_files(folder):
    scores, skipped = load_scores(folder)
    names = {p.name for p, _ in skipped}
    assert {"truncated.mid", "corrupt.mid", "no_notes.mid", "huge_delta.mid", "absurd_tempo.mid"} <= names
    reasons = " ".join(r for _, r in skipped)
    assert "no notes" in reasons and "past the" in reasons and "absurd tempo" in reasons
    assert len(scores) == 5  # four tunes and the absurd-tempo file, read with a sane tempo


@pytest.mark.parametrize("encoding", ["melody", "events", "roll"])
def test_train_and_generate_each_encoding(tmp_path, encoding):
    cfg = MidiTrainConfig(encoding=encoding, epochs=2, num_modules=3, module_size=8, window=32, batch=4)
    res = train_midi([TUNES], tmp_path / "m", cfg, progress=False, log=lambda s: None)
    assert res["train_loss"][-1] < res["train_loss"][0]
    model, enc, settings = load_model_dir(tmp_path / "m", domain="midi")
    assert settings["program"] == 73 and abs(settings["tempo_bpm"] - 100) < 1e-6
    prime = read_midi(TUNES / "tune_1.mid")
    p1, new1, score = generate_midi(model, enc, bars=2, prime=prime, seed=4, **settings)
    _, new2, _ = generate_midi(model, enc, bars=2, prime=prime, seed=4, **settings)
    assert new1 == new2  # seeded
    cut = float(score.seconds(8))  # two bars of 4/4
    assert all(n.end <= cut + 1e-6 for n in p1) and all(n.start >= cut - 1e-6 for n in new1)
    if encoding != "events":
        assert all(n.start < float(score.seconds(16)) + 1e-6 for n in new1)


def test_melody_model_learns_the_scale(tmp_path):
    cfg = MidiTrainConfig(encoding="melody", epochs=25, patience=25)
    train_midi([TUNES], tmp_path / "m", cfg, progress=False, log=lambda s: None)
    model, enc, settings = load_model_dir(tmp_path / "m", domain="midi")
    _, new, _ = generate_midi(model, enc, bars=16, seed=0, temperature=0.8, **settings)
    assert len(new) > 10
    in_scale = np.mean([n.pitch % 12 in (0, 2, 4, 5, 7, 9, 11) for n in new])
    assert in_scale > 0.9  # the tunes never leave C major; random pitches would be in it 58% of the time


def test_lstm_baseline_trains_the_same_way(tmp_path):
    cw = train_midi([TUNES], tmp_path / "cw", MidiTrainConfig(epochs=1), progress=False, log=lambda s: None)
    ls = train_midi(
        [TUNES],
        tmp_path / "ls",
        MidiTrainConfig(epochs=1, architecture="lstm"),
        progress=False,
        log=lambda s: None,
    )
    assert abs(ls["parameters"] - cw["parameters"]) <= 0.05 * cw["parameters"]
    model, enc, settings = load_model_dir(tmp_path / "ls", domain="midi")
    assert type(model).__name__ == "LSTMNet"
    _, new, score = generate_midi(model, enc, bars=2, seed=3, **settings)
    assert generate_midi(model, enc, bars=2, seed=3, **settings)[1] == new  # seeded
    assert new and all(
        n.program == 73 and 0 <= n.start < n.end <= float(score.seconds(8)) + 1e-6 for n in new
    )
    # an independent run: one torch call per step with the state carried, classes drawn by inverse CDF
    import torch

    rng, x, state, tokens = np.random.default_rng(3), torch.zeros(1, 1, enc.size), None, []
    for _ in range(2 * 4 * 4):  # two bars of sixteenths
        with torch.no_grad():
            y, state = model(x, state)
        logits = y[0, -1].double().numpy()
        cdf = np.cumsum(np.exp(logits - logits.max()))
        tokens.append(int(np.searchsorted(cdf, rng.random() * cdf[-1], side="right")))
        x = torch.zeros(1, 1, enc.size)
        x[0, 0, tokens[-1]] = 1.0
    assert new == [n._replace(program=73) for n in enc.decode(tokens, score)]


def test_generation_arguments():
    cfg = MidiTrainConfig()
    enc = make_codec("melody")
    model = cfg.model(enc)
    with pytest.raises(ParameterError, match="exactly one"):
        generate_midi(model, enc, bars=1, seconds=2)
    with pytest.raises(ParameterError, match="events= is for the events"):
        generate_midi(model, enc, events=10)
    with pytest.raises(ParameterError, match="temperature"):
        generate_midi(model, enc, bars=1, temperature=0)


def test_cli_trains_on_a_folder_and_writes_midi_and_a_piano_roll(folder, tmp_path):
    run = lambda *a: subprocess.run([sys.executable, "-m", "cwrnn_audio", *a], capture_output=True, text=True)  # noqa: E731
    r = run("train", "midi", str(folder), "--out", str(tmp_path / "m"), "--epochs", "2", "-q")
    assert r.returncode == 0, r.stderr
    assert "truncated.mid" in r.stdout and "no_notes.mid" in r.stdout

    def generate(prime, out, *options):  # two bars from the trained model, primed with a file of the folder
        return run(
            "generate",
            str(tmp_path / "m"),
            "--bars",
            "2",
            "--prime",
            str(folder / prime),
            *options,
            "-o",
            str(tmp_path / out),
        )

    r = generate("tune_2.mid", "out.mid", "--with-prime", "--seed", "0")
    assert r.returncode == 0, r.stderr
    import pretty_midi

    pm = pretty_midi.PrettyMIDI(str(tmp_path / "out.mid"))  # another program reads it
    assert pm.instruments and pm.instruments[0].program == 73
    assert abs(pm.get_tempo_changes()[1][0] - 100) < 0.5
    assert (tmp_path / "out.png").stat().st_size > 0
    r = generate("corrupt.mid", "x.mid")
    assert r.returncode == 2 and "corrupt.mid" in r.stderr and "Traceback" not in r.stderr


def test_bundled_melody_model_writes_c_major_tunes():
    model, enc, settings = load_model_dir(cwrnn_audio_samples.path("models/melody"), domain="midi")
    _, new, _ = generate_midi(model, enc, bars=8, prime=read_midi(TUNES / "tune_5.mid"), seed=1, **settings)
    assert len(new) >= 8
    assert np.mean([n.pitch % 12 in (0, 2, 4, 5, 7, 9, 11) for n in new]) > 0.9


def test_clock_periods_in_beats():
    cfg = MidiTrainConfig(encoding="melody", num_modules=6, periods_beats=(0.25, 8))
    model = cfg.model(make_codec("melody", steps_per_beat=4))
    assert model.config.periods[0] == 1 and model.config.periods[-1] == 32  # a sixteenth .. two bars
    with pytest.raises(ParameterError, match="grid encoding"):
        MidiTrainConfig(encoding="events", periods_beats=(1, 4)).model(make_codec("events"))
