import json
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import soundfile as sf
import torch

import cwrnn_audio_samples
from cwrnn_audio import ParameterError
from cwrnn_audio.experiments.excerpts import cut_excerpts, load_music
from cwrnn_audio.experiments.generation import (
    HIDDEN,
    GenerationConfig,
    format_table,
    make_network,
    run_generation,
)

PIANO = cwrnn_audio_samples.path("piano_phrase.wav")
CLI = [sys.executable, "-m", "cwrnn_audio", "paper", "generation"]


def generation(*args):
    """``cwrnn-audio paper generation ARGS`` in a fresh interpreter, its output captured as text."""
    return subprocess.run([*CLI, *args], capture_output=True, text=True)


def test_load_music_resamples_to_44k_mono(tmp_path):
    sr = 22050
    t = np.arange(sr) / sr
    stereo = np.stack([0.5 * np.sin(2 * np.pi * 1000 * t), 0.5 * np.sin(2 * np.pi * 1000 * t)], 1)
    sf.write(tmp_path / "tone.flac", stereo, sr)
    y = load_music(tmp_path / "tone.flac")
    assert y.dtype == np.float32 and y.ndim == 1 and abs(y.size - 44100) <= 1
    spectrum = np.abs(np.fft.rfft(y))
    assert abs(np.argmax(spectrum) * 44100 / y.size - 1000) < 2  # the tone kept its pitch


def test_excerpts_are_deterministic_non_silent_and_span_minus_one_to_one():
    audio = np.concatenate([np.zeros(20000), np.sin(np.arange(5000) / 7.0), np.zeros(20000)]).astype(
        np.float32
    )
    a = cut_excerpts(audio, seed=3)
    b = cut_excerpts(audio, seed=3)
    np.testing.assert_array_equal(a, b)
    assert a.shape == (5, 320)
    np.testing.assert_allclose(a.min(1), -1, atol=1e-6)
    np.testing.assert_allclose(a.max(1), 1, atol=1e-6)
    # only the sounding part is eligible: every excerpt is a scaled piece of the sine
    for ex in a:
        assert np.std(np.diff(ex)) > 0.01


def test_excerpts_refuse_silence_and_short_audio():
    with pytest.raises(ParameterError, match="non-silent"):
        cut_excerpts(np.zeros(44100, np.float32), source="quiet.wav")
    with pytest.raises(ParameterError, match="shorter than one excerpt"):
        cut_excerpts(np.ones(100, np.float32))


@pytest.mark.parametrize("size", sorted(HIDDEN))
def test_networks_have_the_papers_parameter_budgets(size):
    cfg = GenerationConfig()
    for method in ("srn", "lstm", "cwrnn"):
        net = make_network(method, size, cfg)
        count = net.num_parameters + (net.config.num_periods if method == "cwrnn" else 0)
        assert abs(count - size) <= 0.2 * size, (method, count)
    cw = make_network("cwrnn", size, cfg)
    assert cw.config.periods == (1, 2, 4, 8, 16, 32, 64, 128, 256)
    assert list(cw.config.module_sizes) == sorted(cw.config.module_sizes, reverse=True)
    lstm = make_network("lstm", size, cfg)
    H = lstm.config.hidden_size
    assert (lstm.b[H : 2 * H] == 5.0).all()


def test_small_run_writes_results_and_cwrnn_wins(tmp_path):
    cfg = GenerationConfig(runs=10, sizes=(1000,), epochs=300, seed=1)
    res = run_generation(PIANO, tmp_path, cfg, progress=False, log=lambda s: None)
    on_disk = json.loads((tmp_path / "results.json").read_text())
    assert on_disk["nmse"] == res["nmse"]
    assert set(on_disk["nmse"]) == {"srn", "lstm", "cwrnn"}
    scores = {m: np.array(on_disk["nmse"][m]["1000"]) for m in ("srn", "lstm", "cwrnn")}
    assert all(len(v) == 10 for v in scores.values())
    med = {m: np.median(v) for m, v in scores.items()}
    assert med["cwrnn"] < med["lstm"] < med["srn"], med
    # the best run's NMSE, recomputed from the saved output and target
    out = np.load(tmp_path / "outputs.npz")
    y, tgt = out["cwrnn-1000"], out["targets"][int(out["cwrnn-1000-excerpt"])]
    assert np.mean((y - tgt) ** 2) / np.var(tgt) == pytest.approx(np.nanmin(scores["cwrnn"]), rel=1e-4)
    assert "CW-RNN" in format_table(on_disk["nmse"], (1000,), ("srn", "lstm", "cwrnn"))


def test_interrupted_experiment_resumes_to_the_same_numbers(tmp_path, monkeypatch):
    cfg = GenerationConfig(runs=4, sizes=(100,), methods=("srn", "cwrnn"), epochs=60, seed=2)
    whole = run_generation(PIANO, tmp_path / "whole", cfg, progress=False, log=lambda s: None)

    import cwrnn_audio.train.engine_numba as engine

    real, calls = engine.run_epochs, []

    def dies(*a, **k):
        calls.append(1)
        if len(calls) == 25:  # srn done (20 chunks), cwrnn part-way
            raise KeyboardInterrupt
        return real(*a, **k)

    monkeypatch.setattr(engine, "run_epochs", dies)
    with pytest.raises(KeyboardInterrupt):
        run_generation(PIANO, tmp_path / "cut", cfg, progress=False, log=lambda s: None)
    monkeypatch.setattr(engine, "run_epochs", real)
    partial = json.loads((tmp_path / "cut" / "results.json").read_text())
    assert list(partial["nmse"]) == ["srn"]
    with pytest.raises(ParameterError, match="already holds an experiment"):
        run_generation(PIANO, tmp_path / "cut", cfg, progress=False)
    resumed_calls = []

    def counted(*a, **k):
        resumed_calls.append(1)
        return real(*a, **k)

    monkeypatch.setattr(engine, "run_epochs", counted)
    again = run_generation(PIANO, tmp_path / "cut", cfg, resume=True, progress=False, log=lambda s: None)
    assert again["nmse"] == whole["nmse"]
    assert len(resumed_calls) == 16  # srn kept; cwrnn went on from its 4th chunk of 20


def test_cli_run_killed_with_sigkill_resumes_to_the_same_results(tmp_path):
    args = [str(PIANO), *"--runs 4 --epochs 400 --sizes 100 --methods lstm,cwrnn -q".split()]
    subprocess.run([*CLI, *args, "--out", str(tmp_path / "whole")], check=True, capture_output=True)
    victim = subprocess.Popen(
        [*CLI, *args, "--out", str(tmp_path / "cut")], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    pointer = tmp_path / "cut" / "checkpoints" / "lstm-100" / "latest"
    deadline = time.monotonic() + 120
    while not pointer.exists() and victim.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    victim.send_signal(signal.SIGKILL)
    victim.wait()
    r = generation(*args, "--out", str(tmp_path / "cut"), "--resume")
    assert r.returncode == 0, r.stderr
    whole = json.loads((tmp_path / "whole" / "results.json").read_text())["nmse"]
    assert json.loads((tmp_path / "cut" / "results.json").read_text())["nmse"] == whole


def test_cli_runs_the_experiment_and_draws_the_figures(tmp_path):
    options = "--runs 5 --epochs 20 --sizes 100 --methods srn,cwrnn -q".split()
    r = generation(str(PIANO), "--out", str(tmp_path / "o"), *options)
    assert r.returncode == 0, r.stderr
    assert "SRN" in r.stdout and "CW-RNN" in r.stdout and "±" in r.stdout
    for name in ("results.json", "nmse_boxplots.png", "best_outputs_100.png"):
        assert (tmp_path / "o" / name).stat().st_size > 0
    bad = generation(str(tmp_path / "nope.wav"), "--out", str(tmp_path))
    assert (
        bad.returncode == 2 and "nope.wav: no such audio file" in bad.stderr and "Traceback" not in bad.stderr
    )
    bad = generation(str(PIANO), "--out", str(tmp_path), "--sizes", "123")
    assert bad.returncode == 2 and "sizes must be among" in bad.stderr


@pytest.mark.parametrize("method", ["lstm", "cwrnn"])
def test_free_run_outputs_of_a_population_equal_each_network_run_alone(method):
    """network_outputs (LSTMs vmapped over the population) against each network's own forward."""
    from cwrnn_audio.experiments.generation import make_population, network_outputs
    from cwrnn_audio.nn.placement import to_numpy, zeros_like_params
    from cwrnn_audio.train.networks import load_flat

    template, theta = make_population(method, 100, GenerationConfig(runs=5))
    theta = theta + np.random.default_rng(1).normal(0, 0.3, theta.shape).astype(np.float32)
    out = network_outputs(template, theta, 50)
    for p in range(5):
        load_flat(template, theta[p])
        with torch.no_grad():
            alone = to_numpy(template(zeros_like_params(template, 1, 50, 0))[0][0, :, 0])
        np.testing.assert_allclose(out[p], alone, rtol=1e-5, atol=1e-6)
    assert np.abs(out[0] - out[1]).max() > 1e-3  # the networks differ, so a mix-up would show
