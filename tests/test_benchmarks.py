"""The benchmark scripts still run (tiny sizes; no timing is asserted)."""

import math
import subprocess
import sys
from pathlib import Path

import pytest
import torch

import cwrnn_audio_samples

ROOT = Path(__file__).resolve().parent.parent


def test_stream_benchmark_prints_ratios_for_each_alternative():
    r = subprocess.run(
        [
            sys.executable,
            str(ROOT / "benchmarks" / "bench_stream_cpu.py"),
            "--seconds",
            "0.05",
            "--torch-samples",
            "80",
            "--configs",
            "S",
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert r.returncode == 0, r.stderr
    for alt in ("torch path", "LSTMCell", "nn.LSTM"):
        assert alt in r.stdout
    assert r.stdout.count("numba is") == 4  # torch path x2, LSTMCell, nn.LSTM


def run_script(name, *args):
    r = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / name), *args], capture_output=True, text=True, timeout=600
    )
    assert r.returncode == 0, r.stderr
    return r.stdout


def test_mulaw_sampling_benchmark_prints_ratios():
    out = run_script("bench_mulaw_sampling.py", "--seconds", "0.02", "--torch-steps", "50")
    assert out.count("numba is") == 3


def test_paper_benchmark_subset_prints_ratios():
    tiny = ["--skip-full", "--subset-runs", "2", "--subset-epochs", "2", "--sizes", "100"]
    lines = run_script("bench_paper.py", *tiny).splitlines()
    for method in ("srn", "lstm", "cwrnn"):
        for label in (f"{method} 100:", f"{method} all sizes:"):
            (line,) = [s for s in lines if s.startswith(label)]
            assert "M net-steps/s" in line and "torch vmapped" in line and "numba is" in line
            assert ("nn.LSTM batch 2 (ONE shared-weight net" in line) == (method == "lstm")
    assert any(s.startswith("projected full protocol") for s in lines)


def test_midi_benchmark_compares_cwrnn_and_lstm():
    out = run_script("bench_midi_nll.py", "--epochs", "1", "--seeds", "1", "--encodings", "melody")
    assert "cwrnn" in out and "lstm" in out and "NLL/event" in out


def test_plugin_benchmark_compares_with_lstm():
    out = run_script("bench_plugins.py", "--seconds", "0.05")
    assert "effect" in out and "nn.LSTM" in out and "faster" in out


@pytest.mark.skipif(torch.cuda.is_available(), reason="CUDA is available here")
def test_gpu_training_benchmark_without_a_gpu_says_so():
    out = run_script("bench_train_gpu.py")
    assert out.startswith("bench_train_gpu: no CUDA GPU") and out.count("\n") == 1
    out = run_script("probe_fused_warps.py")
    assert out.startswith("probe_fused_warps: no CUDA GPU") and out.count("\n") == 1


def test_gpu_training_benchmark_runs_its_code_on_the_cpu():
    # the GPU figures cannot be checked here, but every line that prints them runs
    clip = str(cwrnn_audio_samples.path("pluck_melody.wav"))
    tiny = ["--sizes", "2", "--batches", "2", "--steps", "8", "--min-seconds", "0"]
    paper = ["--paper-args", "--runs 1 --epochs 1 --sizes 100 --methods lstm"]
    out = run_script(
        "bench_train_gpu.py", "--device", "cpu", *tiny, *paper, "--train-clip", clip, "--train-epochs", "1"
    )
    for row in ("step loop", "cuDNN LSTM", "cuDNN RNN", "default / cuDNN LSTM", "s wall", "samples/s"):
        assert row in out


def _number(text: str) -> float:
    """A rate ("591.6k", "1.23M") or a ratio ("8.14x") from the training benchmark's tables."""
    scale = {"k": 1e3, "M": 1e6, "x": 1.0}.get(text[-1], 1.0)
    return float(text.rstrip("kMx")) * scale


def _positive_finite(fields) -> bool:
    return all(math.isfinite(v) and v > 0 for v in map(_number, fields))


@pytest.mark.slow
def test_cpu_training_benchmark_prints_kernels_end_to_end_and_profile():
    lines = run_script("bench_train_cpu.py", "--quick").splitlines()
    # kernels: config, batch, threads, 4 rates (Numba, step loop, nn.LSTM, nn.RNN), 3 ratios
    for batch in (16, 64):
        for threads in (1, 2):
            (row,) = [s.split() for s in lines if s.split()[:3] == ["8x16", str(batch), str(threads)]]
            assert len(row) == 10 and _positive_finite(row[3:]), row
    assert any(s.startswith("8x16: CW-RNN 9601 params; nn.LSTM H=48") for s in lines)
    (scaling,) = [s for s in lines if s.startswith("8x16 batch 64: Numba 2 threads / 1 thread = ")]
    assert _positive_finite([scaling.rsplit(" ", 1)[1]])
    # end to end: step loop and Numba rates, their ratio, epoch seconds, steps per epoch
    for run, unit in (("audio mulaw", "samples"), ("audio harmonic", "frames"), ("midi events", "events")):
        (row,) = [s.split() for s in lines if s.startswith(run + " ")]
        assert row[2] == unit and _positive_finite(row[3:6]), row
        assert float(row[6]) >= 0 and float(row[7]) >= 0 and int(row[8]) > 0, row
        assert any(s.startswith(f"  cwrnn-audio train {run.split()[0]} ") for s in lines)
    # profile: the Numba Function's forward and backward among the top rows
    start = [i for i, s in enumerate(lines) if s.startswith("3. Profile:")]
    # the Numba Function's backward: the recurrence alone, or with the one-output read-out fused in
    backward = ("CWRNNRecurrenceBackward", "CWRNNReadoutBackward")
    assert start and any(name in s for s in lines[start[0] :] for name in backward)


def test_export_benchmark_prints_the_host_the_file_in_python_and_the_plugin(cpp_host):
    out = run_script("bench_export.py", "--seconds", "0.2", "--host", str(cpp_host))
    for row in (
        "exported, C++ host",
        "exported, torch.jit (Py)",
        "Numba plugin (Python)",
        "C++ host / Numba plugin",
    ):
        assert out.count(row) == 2, out  # the effect and the instrument


def test_expression_benchmark_compares_envelopes_cwrnn_and_lstm():
    out = run_script("bench_expression.py", "--instruments", "flute", "--epochs", "1")
    for method in ("envelopes", "cwrnn expression", "lstm expression"):
        (row,) = [s for s in out.splitlines() if s.strip().startswith(method) and "loudness" in s]
        assert "x envelopes" in row and "spread" in row and "rests" in row
    assert out.count("spectral distance") == 2
