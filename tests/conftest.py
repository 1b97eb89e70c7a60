import os
import sys
import zlib

import numpy as np
import pytest

sys.path.insert(0, os.path.dirname(__file__))  # for reference.py


def random_config_kwargs(rng):
    """A random structure: sizes, nested or arbitrary increasing periods, any activation."""
    g = int(rng.integers(1, 7))
    sizes = [int(k) for k in rng.integers(1, 9, size=g)]
    if rng.random() < 0.5:
        periods = "exponential"
    else:
        periods = np.cumsum(rng.integers(1, 5, size=g)).tolist()
    return dict(
        input_size=int(rng.integers(0, 4)),
        output_size=int(rng.integers(1, 4)),
        module_sizes=sizes,
        periods=periods,
        output_activation=str(rng.choice(["linear", "tanh"])),
        init_std=float(rng.uniform(0.1, 0.4)),
    )


@pytest.fixture
def rng(request):
    # a distinct, reproducible stream per test
    return np.random.default_rng(zlib.crc32(request.node.nodeid.encode()))


def make_model(rng, **kw):
    """A CWRNN whose weights are drawn from ``rng``'s stream (reproducible per test)."""
    import torch

    from cwrnn_audio import CWRNN

    torch.manual_seed(int(rng.integers(2**31)))
    return CWRNN(**kw)


@pytest.fixture(scope="session")
def notes_to_events():
    """Turns notes ``(start, end, pitch, velocity)`` into the MIDI events ``(time, type, pitch, velocity)``
    that play them, in time order; at the same time a note-off comes before a note-on."""

    def events(*notes):
        ons = [(start, "note_on", pitch, velocity) for start, _, pitch, velocity in notes]
        offs = [(end, "note_off", pitch, 0) for _, end, pitch, _ in notes]
        return sorted(ons + offs, key=lambda e: (e[0], e[1] == "note_on"))

    return events


def play_midi(plugin, events, total, sizes):
    """``events`` ``(host frame, type, note, velocity)`` through ``plugin.process_midi`` in blocks of
    ``sizes`` (cycled) up to ``total`` frames: the output ``(channels, total)``."""
    out, pos, i = [], 0, 0
    while pos < total:
        n = min(sizes[i % len(sizes)], total - pos)
        i += 1
        out.append(
            plugin.process_midi([(t - pos, *rest) for t, *rest in events if pos <= t < pos + n], n).copy()
        )
        pos += n
    return np.concatenate(out, axis=1)


def run_interpreted(script, **env) -> dict:
    """Run a checks script under Triton's interpreter and return the JSON object it prints last.

    ``TRITON_INTERPRET=1`` only takes effect if set before triton is first imported, hence a
    subprocess; ``CWRNN_AUDIO_FUSED=1`` sends CPU tensors through the fused kernels.
    """
    import json
    import os
    import subprocess
    import sys

    env = {**os.environ, "TRITON_INTERPRET": "1", "CWRNN_AUDIO_FUSED": "1", **env}
    done = subprocess.run([sys.executable, *script], env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-4000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="session")
def cpp_host():
    """Path of the ``cwrnn-host`` executable built from host/ (cached between sessions); skipped
    where cmake or a C++ compiler is missing. ``$CWRNN_HOST`` names a ready one instead."""
    from pathlib import Path

    if os.environ.get("CWRNN_HOST"):
        return Path(os.environ["CWRNN_HOST"])
    pytest.importorskip("torch")
    from cwrnn_audio.export.host import build_host, missing_tools

    why = missing_tools()
    if why is not None:
        pytest.skip(f"cwrnn-host cannot be built here: {why}")
    return build_host(Path(__file__).resolve().parents[1] / "host")
