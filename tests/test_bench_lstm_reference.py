"""benchmarks/bench_lstm_reference.py: the project's LSTM and torch.nn.LSTM, same setting, same excerpts."""

import importlib.util
import math
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from cwrnn_audio.experiments.excerpts import cut_excerpts
from cwrnn_audio.experiments.generation import GenerationConfig, make_population, train_one
from cwrnn_audio.experiments.tune import TuneConfig, run_tune
from cwrnn_audio.train.losses import loss_scale
from cwrnn_audio.train.networks import load_flat
from cwrnn_audio.train.optimizer import OptimizerConfig

HERE = Path(__file__).resolve().parent
SCRIPT = HERE.parent / "benchmarks" / "bench_lstm_reference.py"


def load(path: Path):
    """A module by path (benchmarks/ and tests/ are not packages); not registered in sys.modules."""
    spec = importlib.util.spec_from_file_location(f"_{path.stem}", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


bench = load(SCRIPT)
tune_tests = load(HERE / "experiments" / "test_tune.py")  # its cheap synthetic music
lstm_vs_torch = load(HERE / "kernels" / "test_lstm_vs_torch.py")  # the project -> torch.nn.LSTM map


@pytest.fixture(scope="module")
def tuned(tmp_path_factory):
    """(wav, tuned.json) of a real one-setting search on half a second of synthetic music."""
    d = tmp_path_factory.mktemp("bench_lstm")
    wav = tune_tests.write(d / "music.wav", tune_tests.music())
    grid = dict(optimizers=("adam",), lrs=(1e-3,), clips=(1.0,), forget_biases=(1.0,))
    cfg = TuneConfig(runs=2, epochs=3, sizes=(100,), methods=("lstm",), seed=1, **grid)
    run_tune(wav, d / "tune", cfg, progress=False, log=lambda s: None)
    return wav, d / "tune" / "tuned.json"


def run(*args):
    return subprocess.run(
        [sys.executable, str(SCRIPT), *map(str, args)], capture_output=True, text=True, timeout=300
    )


def test_prints_the_project_and_torch_rows_for_both_settings(tuned):
    wav, settings = tuned
    r = run(settings, wav, "--runs", "2", "--epochs", "3", "--size", "100", "-q")
    assert r.returncode == 0, r.stderr
    num = r"(\S+) ± (\S+) \(median (\S+)\)"
    for setting in (r"paper \(sgd lr 3e-5 clip 10 fb 5\)", r"tuned \(adam lr 1e-3 clip 1 fb 1\)"):
        row = rf"LSTM 100 params, {setting}: project {num} \| torch\.nn\.LSTM {num} over 2 runs"
        m = re.search(row, r.stdout)
        assert m, r.stdout
        assert all(math.isfinite(float(v)) for v in m.groups())


def test_usage_errors_exit_2_without_a_traceback(tuned, tmp_path):
    wav, settings = tuned
    for args, message in [
        ((settings, tmp_path / "missing.wav", "--size", "100"), "no such audio file"),
        ((tmp_path / "missing.json", wav, "--size", "100"), "no such settings file"),
        ((settings, wav, "--size", "250"), "no tuned setting for method 'lstm' at size 250"),
    ]:
        r = run(*args, "--runs", "1", "--epochs", "1", "-q")
        assert r.returncode == 2 and message in r.stderr and "Traceback" not in r.stderr, r.stderr


@pytest.mark.parametrize("one_bias", [False, True], ids=["two_biases", "one_bias"])
@pytest.mark.parametrize("opt", [OptimizerConfig("sgd", lr=1e-3, clip=1.0), OptimizerConfig("adam", lr=3e-3)])
def test_torch_trainer_starts_from_the_projects_loss_for_the_same_weights(opt, one_bias):
    """Epoch 0: the project's population's loss. Then, with --one-bias (the project's form), the
    project's trajectory (same optimiser, clip, loss); with torch's two trained biases, another."""
    cfg = GenerationConfig(runs=6, epochs=10, sizes=(100,), methods=("lstm",), lstm_forget_bias=1.0)
    targets = cut_excerpts(tune_tests.music(), seed=2)  # 5 excerpts: run 5 wraps to excerpt 0
    template, theta = make_population("lstm", 100, cfg)
    project = train_one("lstm", 100, cfg, targets, opt=opt, progress=False)[2]
    H, scale = template.config.hidden_size, loss_scale(cfg.loss, 320, 1)
    for r in range(cfg.runs):
        load_flat(template, theta[r])
        p = {k: getattr(template, k).detach() for k in lstm_vs_torch.NAMES}
        lstm, lin = bench.torch_network(H, 0.0, 1.0, seed=r, one_bias=one_bias)  # then set from p
        with torch.no_grad():  # the map of test_lstm_vs_torch: W_h, b (+ 0), W_O, b_O; input weights moot
            for dst, src in zip(
                (lstm.weight_hh_l0, lstm.bias_ih_l0, lin.weight, lin.bias), ("W_h", "b", "W_O", "b_O")
            ):
                dst.copy_(p[src])
            lstm.bias_hh_l0.zero_()
        losses, _ = bench.train_torch(lstm, lin, targets[r % 5], opt, cfg.epochs, scale)
        np.testing.assert_allclose(losses[0], project[r, 0], rtol=1e-4)
        moved = project[r] - project[r, 0]  # about 1 here; float32 rounding leaves ~2e-5 of it
        err = np.abs(losses - losses[0] - moved).max() / np.abs(moved).max()
        assert (err < 1e-3) == one_bias, err
