"""``paper generation --settings``: the paper's and the tuned settings side by side on scored excerpts."""

import json

import numpy as np
import pytest
import soundfile as sf

from cwrnn_audio.cli.main import main
from cwrnn_audio.experiments.generation import GenerationConfig, run_generation
from cwrnn_audio.experiments.tune import TuneConfig, load_settings, run_tune, split_excerpts

SR = 44_100
TINY = dict(runs=2, epochs=3, sizes=(100,), methods=("srn", "lstm", "cwrnn"), seed=1)


def tone(seconds, hz):
    t = np.arange(int(seconds * SR)) / SR
    return (0.5 * np.sin(2 * np.pi * hz * t) * (1 + 0.5 * np.sin(2 * np.pi * 3 * t))).astype(np.float32)


@pytest.fixture(scope="module")
def tuned(tmp_path_factory):
    root = tmp_path_factory.mktemp("tuned")
    wav = root / "music.wav"
    sf.write(wav, tone(0.5, 220), SR)
    cfg = TuneConfig(
        **TINY, optimizers=("sgd", "adam"), lrs=(1e-4, 1e-3), clips=(None,), forget_biases=(5.0,)
    )
    run_tune(wav, root / "search", cfg, progress=False, log=lambda s: None)
    return wav, root / "search" / "tuned.json"


def test_both_settings_train_on_excerpts_from_the_half_the_search_never_saw(tuned, tmp_path, capsys):
    wav, settings = tuned
    out = tmp_path / "gen"
    argv = ["paper", "generation", str(wav), "--out", str(out), "--runs", "2", "--epochs", "3"]
    argv += ["--sizes", "100", "--seed", "1", "--settings", str(settings), "-q"]
    assert main(argv) == 0
    printed = capsys.readouterr().out
    assert "paper" in printed and "tuned" in printed and "LSTM/CW-RNN" in printed and "SRN/CW-RNN" in printed
    res = json.loads((out / "results.json").read_text())
    for key in ("nmse", "tuned"):
        for m in ("srn", "lstm", "cwrnn"):
            assert len(res[key][m]["100"]) == 2
    # the scored excerpts come from the second half only
    music, _ = sf.read(str(wav), dtype="float32")
    targets = np.load(out / "outputs.npz")["targets"]
    _, second = split_excerpts(music, count=5, length=320, seed=1)
    for row in targets:
        windows = np.lib.stride_tricks.sliding_window_view(second, 320)
        scaled = (windows - windows.min(1, keepdims=True)) / np.ptp(windows, axis=1, keepdims=True) * 2 - 1
        assert np.abs(scaled - row).max(axis=1).min() < 1e-4
    assert (out / "nmse_boxplots.png").read_bytes()[:4] == b"\x89PNG"


def test_a_tuned_run_differs_from_the_paper_run_only_by_its_optimiser(tuned, tmp_path):
    wav, settings = tuned
    data = load_settings(settings)
    cfg = GenerationConfig(runs=2, epochs=3, sizes=(100,), methods=("srn",), seed=1)
    res = run_generation(wav, tmp_path / "g", cfg, settings=data, progress=False, log=lambda s: None)
    chosen = data["chosen"]["srn"]["100"]
    paper_like = chosen["optimizer"] == "sgd" and chosen["lr"] == 3e-4 and chosen["clip"] == 10.0
    assert (res["tuned"]["srn"]["100"] == res["nmse"]["srn"]["100"]) == paper_like


def test_settings_missing_a_size_or_from_another_file_are_refused(tuned, tmp_path, capsys):
    wav, settings = tuned
    base = ["paper", "generation", str(wav), "--runs", "2", "--epochs", "3", "--seed", "1", "-q"]
    assert main([*base, "--out", str(tmp_path / "a"), "--sizes", "250", "--settings", str(settings)]) == 2
    assert "no tuned setting for method 'srn' at size 250" in capsys.readouterr().err
    other = tmp_path / "other.wav"
    sf.write(other, tone(0.5, 330), SR)
    argv = ["paper", "generation", str(other), "--runs", "2", "--epochs", "3", "--seed", "1", "-q"]
    assert main([*argv, "--out", str(tmp_path / "b"), "--sizes", "100", "--settings", str(settings)]) == 2
    assert "tuned on other development excerpts" in capsys.readouterr().err
