"""The harmonic encoding from the command line: train on a tone, play a MIDI file through it."""

import json

import numpy as np
import pytest
import soundfile as sf

import cwrnn_audio_samples
from cwrnn_audio.cli.main import main
from cwrnn_audio.midi.notes import Note, Score
from cwrnn_audio.midi.write import write_midi

SR = 16000
TONE_HZ = 220.0


@pytest.fixture(scope="module")
def harmonic_dir(tmp_path_factory):
    """A tiny harmonic model trained for one epoch on 2 s of a 220 Hz tone."""
    root = tmp_path_factory.mktemp("harmonic")
    t = np.arange(2 * SR) / SR
    tone = 0.4 * np.sin(2 * np.pi * TONE_HZ * t) * np.minimum(1.0, t * 20)
    wav = root / "tone.wav"
    sf.write(wav, tone.astype(np.float32), SR)
    out = root / "model"
    # fmt: off
    code = main([
        "train", "audio", str(wav), "--encoding", "harmonic", "--out", str(out),
        "--epochs", "1", "--window", "32", "--chunk-windows", "2", "--batch", "2",
        "--module-size", "4", "--modules", "3", "--n-harmonics", "8", "--n-noise", "9", "-q",
    ])
    # fmt: on
    assert code == 0
    return out


@pytest.fixture
def song(tmp_path):
    path = tmp_path / "song.mid"
    write_midi(
        Score(notes=[Note(57, 100, 0.0, 0.5), Note(57, 80, 0.25, 0.75), Note(57, 90, 0.8, 1.0)]), path
    )  # A3: the tone
    return path


def test_adapter_json_keeps_the_pitch_range_of_the_training_audio(harmonic_dir):
    data = json.loads((harmonic_dir / "adapter.json").read_text())
    assert data["encoding"] == "harmonic" and data["sample_rate"] == SR
    assert (data["frame_rate"], data["n_harmonics"], data["n_noise"]) == (250, 8, 9)
    lo, hi = data["pitch_range"]
    assert TONE_HZ * 0.97 < lo <= hi < TONE_HZ * 1.03


def test_generate_plays_a_midi_file_and_plots_it(harmonic_dir, song, tmp_path, capsys, recwarn):
    out = tmp_path / "played.wav"
    assert main(["generate", str(harmonic_dir), "--midi", str(song), "-o", str(out), "--plot"]) == 0
    assert not [w for w in recwarn if "outside" in str(w.message)]  # the notes are the trained pitch
    audio, sr = sf.read(str(out), dtype="float32", always_2d=True)
    assert sr == SR and audio.shape[1] == 1
    hop = SR // 250
    frames = int(np.ceil((1.0 + 0.12 + 0.5) * 250))  # last note-off + release + tail
    assert audio.shape[0] == frames * hop
    assert np.isfinite(audio).all() and np.abs(audio).max() > 0
    png = out.with_suffix(".png")
    assert png.is_file() and png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    printed = capsys.readouterr().out
    assert "3 notes" in printed and str(png) in printed


def test_notes_outside_the_trained_pitches_warn(harmonic_dir, song, tmp_path):
    out = tmp_path / "high.wav"
    with pytest.warns(UserWarning, match="outside the pitches seen in training"):
        code = main(["generate", str(harmonic_dir), "--midi", str(song), "--transpose", "12", "-o", str(out)])
    assert code == 0 and out.is_file()


def test_a_midi_file_without_notes_exits_2_naming_the_file(harmonic_dir, tmp_path, capsys):
    empty = tmp_path / "empty.mid"
    write_midi(Score(notes=[]), empty)
    code = main(["generate", str(harmonic_dir), "--midi", str(empty), "-o", str(tmp_path / "o.wav")])
    err = capsys.readouterr().err
    assert code == 2 and str(empty) in err and "no notes" in err
    assert not (tmp_path / "o.wav").exists()


def test_a_missing_midi_file_exits_2(harmonic_dir, tmp_path, capsys):
    code = main(
        ["generate", str(harmonic_dir), "--midi", str(tmp_path / "nope.mid"), "-o", str(tmp_path / "o.wav")]
    )
    assert code == 2 and "nope.mid" in capsys.readouterr().err


def test_a_harmonic_model_without_midi_exits_2(harmonic_dir, tmp_path, capsys):
    code = main(["generate", str(harmonic_dir), "-o", str(tmp_path / "o.wav")])
    assert code == 2 and "--midi" in capsys.readouterr().err


def test_midi_for_a_mulaw_model_exits_2_with_a_clear_message(song, tmp_path, capsys):
    model = cwrnn_audio_samples.path("models/bach_mulaw")
    code = main(["generate", str(model), "--midi", str(song), "-o", str(tmp_path / "o.wav")])
    err = capsys.readouterr().err
    assert code == 2
    assert "harmonic" in err and "mulaw" in err and "Traceback" not in err
    assert not (tmp_path / "o.wav").exists()


def test_render_generator_plays_a_midi_file_at_the_host_rate(harmonic_dir, song, tmp_path):
    from cwrnn_audio.midi.read import read_midi

    out = tmp_path / "gen.wav"
    # fmt: off
    code = main([
        "render", "generator", "--model", str(harmonic_dir), "--midi", str(song), "-o", str(out),
        "--sample-rate", "44100", "--tail", "0.5", "-q",
    ])
    # fmt: on
    assert code == 0
    audio, sr = sf.read(str(out), dtype="float32", always_2d=True)
    end = max(n.end for n in read_midi(song).notes)
    assert sr == 44100 and audio.shape == (round((end + 0.5) * 44100), 2)
    assert np.isfinite(audio).all() and np.abs(audio[: int(0.5 * sr)]).max() > 1e-3  # the notes sound


def test_render_midi_needs_an_instrument_plugin_and_notes(harmonic_dir, song, tmp_path, capsys):
    out = tmp_path / "x.wav"
    assert main(["render", "effect", "--midi", str(song), "-o", str(out), "-q"]) == 2
    assert "not a note-stream plugin" in capsys.readouterr().err
    empty = tmp_path / "empty.mid"
    write_midi(Score(notes=[]), empty)
    assert (
        main(["render", "generator", "--model", str(harmonic_dir), "--midi", str(empty), "-o", str(out)]) == 2
    )
    assert "no notes" in capsys.readouterr().err and not out.exists()
