"""Exported models outside Python (issue 27): real-time factors of the TorchScript files in the project's
C++ libtorch host, beside the same file in Python (torch.jit.load) and the Numba plugin it was made from.

Usage: python benchmarks/bench_export.py [--seconds 4] [--block 512] [--rate 48000] [--host PATH]

The exported files are timed after one untimed pass over the input (``--warmup 1`` in the host):
TorchScript's profiling executor optimises a method over its first calls, so the first pass (also
printed) holds blocks of tens of ms that a running host never sees again. One thread everywhere (``--threads 1`` in the host, ``torch.set_num_threads(1)``, the plugins' Numba
kernels single-threaded). Real-time factor = seconds of audio / seconds spent processing it. Targets:
effect >= 10x, instrument >= 20x real time in the C++ host at 48 kHz, blocks of 512. The host is built
from ``host/`` (CMake, the torch wheel's libtorch) unless ``--host`` names one; without cmake or a C++
compiler its rows say so.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
NOTES = [(0.1, 0.9, 72, 100), (0.9, 1.6, 74, 80), (1.8, 2.6, 76, 110), (2.7, 3.6, 79, 60)]  # s, s, note, vel


def effect_input(seconds: float, rate: int) -> np.ndarray:
    rng = np.random.default_rng(0)
    t = np.arange(int(seconds * rate)) / rate
    return (0.5 * np.sin(2 * np.pi * 220 * t) + 0.05 * rng.standard_normal(t.size)).astype(np.float32)[None]


def instrument_input(seconds: float, rate: int) -> np.ndarray:
    F = int(seconds * rate)
    pitch, velocity = np.full(F, 72.0, np.float32), np.zeros(F, np.float32)
    for start, end, note, vel in NOTES:
        a, b = int(start * seconds / 4 * rate), int(end * seconds / 4 * rate)
        pitch[a:] = note
        velocity[a:b] = vel / 127
    return np.stack([pitch, velocity])


def in_host(host, ts, x, block, rate, warmup) -> dict:
    """The host's JSON report: ``realtime`` and ``worst_us_per_block`` of the pass after ``warmup``."""
    with tempfile.TemporaryDirectory() as d:
        x.tofile(Path(d) / "in.f32")
        cmd = [str(host), str(ts), "--input", str(Path(d) / "in.f32"), "--output", str(Path(d) / "out.f32")]
        cmd += ["--block", str(block), "--sample-rate", str(rate), "--threads", "1", "--warmup", str(warmup)]
        done = subprocess.run(cmd, capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def in_python(ts, x, block, rate) -> float:
    import torch

    torch.set_num_threads(1)
    m = torch.jit.load(str(ts))
    m.set_sample_rate(rate)
    t = torch.from_numpy(x)[None]
    with torch.inference_mode():
        for i in range(0, t.shape[2], block):  # a pass for the JIT to optimise in: a host's prepare
            m(t[:, :, i : i + block])
        m.reset()
        start = time.perf_counter()
        for i in range(0, t.shape[2], block):
            m(t[:, :, i : i + block])
    return x.shape[1] / rate / (time.perf_counter() - start)


def plugin_effect(x, block, rate) -> float:
    from cwrnn_audio.plugin import get_plugin

    plug = get_plugin("effect")("effect_drive")
    plug.prepare(rate, block, 1)
    start = time.perf_counter()
    for i in range(0, x.shape[1], block):
        plug.process(x[:, i : i + block])
    return x.shape[1] / rate / (time.perf_counter() - start)


def plugin_instrument(ctrl, block, rate) -> float:
    from cwrnn_audio.plugin import get_plugin

    plug = get_plugin("generator")("flute_harmonic", polyphony=1)
    plug.prepare(rate, block, 1)
    F = ctrl.shape[1]
    blocks = []
    for a in range(0, F, block):  # the notes as MIDI events (made before timing)
        ev = []
        for j in range(a, min(a + block, F)):
            (p0, v0), (p, v) = (ctrl[:, j - 1] if j else (0.0, 0.0)), ctrl[:, j]
            if v0 > 0 and (v == 0 or p != p0):
                ev.append((j - a, "note_off", int(p0), 0))
            if v > 0 and (v0 == 0 or p != p0):
                ev.append((j - a, "note_on", int(p), int(round(v * 127))))
        blocks.append((ev, min(block, F - a)))
    start = time.perf_counter()
    for ev, n in blocks:
        plug.process_midi(ev, n)
    return F / rate / (time.perf_counter() - start)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=float, default=4.0)
    ap.add_argument("--block", type=int, default=512)
    ap.add_argument("--rate", type=int, default=48000)
    ap.add_argument("--host", help="a built cwrnn-host (default: build host/ into the cache)")
    args = ap.parse_args()
    import numba

    numba.set_num_threads(1)
    from cwrnn_audio.export import export_model
    from cwrnn_audio.export.host import build_host, missing_tools

    host, why = args.host, None
    if host is None:
        why = missing_tools()
        host = None if why else build_host(ROOT / "host")
    print(
        f"real-time factors, one thread, {args.rate} Hz, blocks of {args.block}, {args.seconds:g} s of audio"
    )
    with tempfile.TemporaryDirectory() as d:
        for name, model, x, plugin in (
            ("effect (effect_drive, 8 x 16)", "effect_drive", effect_input(args.seconds, args.rate), plugin_effect),
            ("instrument (flute_harmonic)", "flute_harmonic", instrument_input(args.seconds, args.rate), plugin_instrument),
        ):  # fmt: skip
            ts = export_model(model, Path(d) / f"{model}.ts")
            numba_rt = plugin(x, args.block, args.rate)
            py_rt = in_python(ts, x, args.block, args.rate)
            print(f"{name}:")
            if host is not None:
                cold, warm = (in_host(host, ts, x, args.block, args.rate, w) for w in (0, 1))
                host_rt = warm["realtime"]
                print(
                    f"  exported, C++ host        {host_rt:8.1f}x real time after a warm-up pass, worst block "
                    f"{warm['worst_us_per_block'] / 1000:.2f} ms (first pass: {cold['realtime']:.1f}x, worst "
                    f"{cold['worst_us_per_block'] / 1000:.0f} ms; a block lasts {args.block / args.rate * 1000:.1f} ms)"
                )
            else:
                host_rt = None
                print(f"  exported, C++ host        not built: {why}")
            print(f"  exported, torch.jit (Py)  {py_rt:8.1f}x real time")
            print(f"  Numba plugin (Python)     {numba_rt:8.1f}x real time")
            if host_rt is not None:
                print(f"  C++ host / Numba plugin   {host_rt / numba_rt:8.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
