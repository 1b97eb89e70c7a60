"""The benchmark scripts still run (tiny sizes; no timing is asserted)."""
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_stream_benchmark_prints_ratios_for_each_alternative():
    r = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "bench_stream_cpu.py"), "--seconds", "0.05",
         "--torch-samples", "80", "--configs", "S"],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    for alt in ("torch path", "LSTMCell", "nn.LSTM"):
        assert alt in r.stdout
    assert r.stdout.count("numba is") == 4  # torch path x2, LSTMCell, nn.LSTM
