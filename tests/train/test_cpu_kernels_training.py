"""Every trainer runs its network through the CPU kernels and ends where the step loop ends.

On CPU tensors the CW-RNN's recurrence runs in the Numba ``torch.autograd.Function``
(``nn/numba_function.py``) and ``LSTMNet`` in torch's fused LSTM (``nn/lstm.py: _fused``);
``CWRNN_AUDIO_CPU_KERNELS=0`` forces the step loops, which are the independent reference here.
Each test trains the same way twice, switch on and switch off, and checks (a) through spies that
the kernels ran and no window fell back to the loop (and the reverse with the switch off), and
(b) that the results agree.

Tolerances (float32 training):

- ``fit`` (full-sequence BPTT, SGD or Adam): losses to 1e-5 relative and weights to 1e-5
  absolute. The kernels' float32 tanh is a rational approximation (2.8e-7 relative) and their
  sums run in another order, so the gradients agree to ~1e-7 relative; measured after 30 epochs:
  losses 1e-7 to 5e-7 relative, weights at most 7.5e-7 apart.
- The sequence trainers (truncated BPTT with Adam): loss histories to 1e-5 relative, and weights
  by :func:`assert_weights_close`: every entry within a tenth of the learning rate, and at most
  1% of the entries more than 1e-5 apart. Adam divides each gradient by its own running RMS, so
  an entry whose first non-zero gradient is near Adam's eps (1e-8) moves by a fraction of ``lr``
  that depends on its last bits: with one-hot MIDI events, W_H[57, 62] gets a gradient of
  1.46e-8 (kernels) vs 1.34e-8 (loop) at step 3, both within 4e-8 of the largest gradient entry
  (0.03), and its weights end 9.4e-5 apart (lr = 3e-3). Measured otherwise: in-memory mu-law
  audio 1.4e-7 apart at most; the DDP run below (2 ranks, melody, 2 epochs) 2.6e-5 at most, with
  37 of 34,402 entries more than 1e-5 apart (0.11%). A wrong gradient entry would move its weight
  by up to ``lr`` per step, far past a tenth of ``lr`` after the hundreds of steps run here.
- A resumed run against an uninterrupted one, both with the kernels: bit-identical (for a given
  thread count the kernels compute every number in the same order).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter

import numpy as np
import pytest
import torch
from safetensors.numpy import load_file

import cwrnn_audio.nn.functional as functional
import cwrnn_audio.nn.lstm as lstm
import cwrnn_audio.nn.numba_function as numba_function
import cwrnn_audio_samples
from cwrnn_audio import CWRNN
from cwrnn_audio.cli.main import main
from cwrnn_audio.train import OptimizerConfig, fit
from cwrnn_audio.train.networks import flatten

ENV = numba_function.ENV_SWITCH
PLUCK = str(cwrnn_audio_samples.path("pluck_melody.wav"))  # 2 s at 22.05 kHz
MIDI = str(cwrnn_audio_samples.path("midi"))
LR = 3e-3  # the sequence trainers' default Adam learning rate
AUDIO = ["train", "audio", PLUCK, "--encoding", "mulaw", "--sample-rate", "8000", "--modules", "4"]
AUDIO += ["--module-size", "8", "--window", "32", "--chunk-windows", "2", "--batch", "8", "--epochs", "3"]
# tests/train/test_distributed.py's SMALL, with fewer epochs
MIDI_SMALL = ["--epochs", "2", "--batch", "2", "--window", "8", "--chunk-windows", "2", "--patience", "10"]
EVENTS = ["train", "midi", MIDI, "--encoding", "events", *MIDI_SMALL]


@pytest.fixture(autouse=True)
def _default_switches(monkeypatch):
    # the kernels by default, never the fused (Triton) path, whatever the shell says
    monkeypatch.delenv(ENV, raising=False)
    monkeypatch.delenv("CWRNN_AUDIO_FUSED", raising=False)


class Spies(Counter):
    """Calls of the CW-RNN's and the LSTM's kernels and step loops, as their callers look them up;
    ``die_at``: the kernel call (counted from 1) that raises KeyboardInterrupt instead."""

    die_at: int | None = None


@pytest.fixture
def calls(monkeypatch):
    spies = Spies()

    def spy(module, name, key):
        original = getattr(module, name)

        def counted(*args, **kwargs):
            spies[key] += 1
            if key == "cwrnn_kernels" and spies[key] == spies.die_at:
                raise KeyboardInterrupt
            return original(*args, **kwargs)

        monkeypatch.setattr(module, name, counted)

    spy(numba_function, "numba_forward", "cwrnn_kernels")
    spy(numba_function, "numba_readout", "cwrnn_kernels")  # the module's narrow read-outs
    spy(functional, "_step_loop", "cwrnn_loop")
    spy(lstm, "_fused", "lstm_fused")
    spy(lstm, "_step_loop", "lstm_loop")
    return spies


def switched(monkeypatch, calls, kernels: bool, run):
    """``run()`` with the kernels on or off; returns its result and the calls it made."""
    if kernels:
        monkeypatch.delenv(ENV, raising=False)
    else:
        monkeypatch.setenv(ENV, "0")
    calls.clear()
    result = run()
    return result, {k: v for k, v in calls.items() if v}


def assert_weights_close(a: dict, b: dict, lr: float = LR) -> None:
    """Weights trained with Adam, kernels vs loop; see the module docstring for the tolerance."""
    assert a.keys() == b.keys()
    apart = total = 0
    for k in b:
        d = np.abs(a[k].astype(np.float64) - b[k].astype(np.float64))
        assert d.max() <= 0.1 * lr, f"{k}: {d.max():.3g} apart"
        apart += int((d > 1e-5).sum())
        total += d.size
    assert apart <= 1e-2 * total, f"{apart} of {total} entries more than 1e-5 apart"


def history(out) -> dict:
    return json.loads((out / "history.json").read_text())


def latest_state(out) -> dict:
    ckpt = out / "checkpoint"
    return load_file(str(ckpt / (ckpt / "latest").read_text().strip() / "state.safetensors"))


def cli_both(monkeypatch, calls, tmp_path, args):
    """Train with ``main(args)`` into ``tmp_path/on`` and ``tmp_path/off``; returns the folders and calls."""
    runs = {}
    for name, kernels in (("on", True), ("off", False)):
        out = tmp_path / name
        rc, used = switched(
            monkeypatch, calls, kernels, lambda out=out: main([*args, "--out", str(out), "-q"])
        )
        assert rc == 0
        runs[name] = (out, used)
    return runs


def assert_same_training(runs) -> None:
    (on, _), (off, _) = runs["on"], runs["off"]
    for key in ("train_loss", "val_loss"):
        np.testing.assert_allclose(history(on)[key], history(off)[key], rtol=1e-5, err_msg=key)
    assert history(on)["best_epoch"] == history(off)["best_epoch"]
    assert_weights_close(load_file(str(on / "model.safetensors")), load_file(str(off / "model.safetensors")))
    ckpt_on, ckpt_off = latest_state(on), latest_state(off)  # the last epoch's weights and Adam moments
    assert_weights_close(
        {k: v for k, v in ckpt_on.items() if k.startswith("model.")},
        {k: v for k, v in ckpt_off.items() if k.startswith("model.")},
    )


# ---------------------------------------------------------------------------------------- fit


def _generator():
    torch.manual_seed(0)
    return CWRNN(input_size=0, hidden_size=19, num_modules=9)


def _with_inputs():
    torch.manual_seed(1)
    return CWRNN(input_size=2, module_sizes=[5, 4, 3], periods=[1, 2, 4])


def _fit_problem(kind):
    if kind == "generator":
        target = (0.8 * np.sin(np.linspace(0, 10, 120)))[:, None].astype(np.float32)
        return _generator, target, None, "sgd"
    x = np.random.default_rng(0).uniform(-1, 1, (3, 60, 2)).astype(np.float32)
    return _with_inputs, np.tanh(2 * x[..., :1]), x, OptimizerConfig(name="adam", lr=1e-2)


@pytest.mark.parametrize("kind", ["generator", "inputs"])
def test_fit_torch_runs_a_single_network_through_the_kernels(monkeypatch, calls, kind):
    make, target, inputs, opt = _fit_problem(kind)
    epochs = 30

    def train():
        model = make()
        r = fit(model, target, inputs, epochs=epochs, optimizer=opt, backend="torch", progress=False)
        assert r.backend == "torch"
        return r.losses, flatten(model)

    (losses_on, w_on), used_on = switched(monkeypatch, calls, True, train)
    (losses_off, w_off), used_off = switched(monkeypatch, calls, False, train)
    # one call per epoch (all sequences share the clock), never the loop; the reverse when off
    assert used_on == {"cwrnn_kernels": epochs}
    assert used_off == {"cwrnn_loop": epochs}
    assert losses_on[-1] < 0.95 * losses_on[0]  # it trains
    np.testing.assert_allclose(losses_on, losses_off, rtol=1e-5)
    np.testing.assert_allclose(w_on, w_off, rtol=0, atol=1e-5)


# ------------------------------------------------------------------------ sequence trainers


@pytest.mark.parametrize("args", [AUDIO, EVENTS], ids=["audio-mulaw", "midi-events"])
def test_sequence_trainer_in_memory_runs_the_kernels(monkeypatch, calls, tmp_path, args):
    runs = cli_both(monkeypatch, calls, tmp_path, args)
    used_on, used_off = runs["on"][1], runs["off"][1]
    assert set(used_on) == {"cwrnn_kernels"} and set(used_off) == {"cwrnn_loop"}
    # every window of every epoch, plus the validation passes, in one call each
    assert used_on["cwrnn_kernels"] == used_off["cwrnn_loop"] > 50
    assert "samples_per_s" not in history(runs["on"][0])  # the in-memory trainer
    assert_same_training(runs)


@pytest.fixture
def one_process_group(tmp_path):
    """A gloo group of one, as torchrun would make it: the streamed trainer joins it (the
    caller's group) and leaves it standing."""
    dist = torch.distributed
    store = dist.FileStore(str(tmp_path / "store"), 1)
    dist.init_process_group("gloo", store=store, rank=0, world_size=1)
    yield
    dist.destroy_process_group()


@pytest.mark.parametrize("args", [AUDIO, EVENTS], ids=["audio-mulaw", "midi-events"])
def test_streamed_trainer_runs_the_kernels(monkeypatch, calls, tmp_path, one_process_group, args):
    # --distributed selects train_model_dir_streamed: files read window by window
    runs = cli_both(monkeypatch, calls, tmp_path, [*args, "--distributed"])
    used_on, used_off = runs["on"][1], runs["off"][1]
    assert set(used_on) == {"cwrnn_kernels"} and set(used_off) == {"cwrnn_loop"}
    assert used_on["cwrnn_kernels"] == used_off["cwrnn_loop"] > 50
    h = history(runs["on"][0])
    assert h["processes"] == 1 and len(h["samples_per_s"]) == len(h["train_loss"])  # streamed
    assert_same_training(runs)


def test_lstm_architecture_runs_torchs_fused_lstm(monkeypatch, calls, tmp_path):
    runs = cli_both(monkeypatch, calls, tmp_path, [*EVENTS, "--architecture", "lstm"])
    used_on, used_off = runs["on"][1], runs["off"][1]
    assert set(used_on) == {"lstm_fused"} and set(used_off) == {"lstm_loop"}
    assert used_on["lstm_fused"] == used_off["lstm_loop"] > 50
    assert "W_h" in load_file(str(runs["on"][0] / "model.safetensors"))  # an LSTM was trained
    assert_same_training(runs)


# ------------------------------------------------------------------------------------ resume


def test_killed_mid_epoch_and_resumed_with_the_kernels_is_bit_identical(monkeypatch, calls, tmp_path):
    # batch 32 on 2 threads, blocks of any size: two blocks of lanes on the kernels' thread pool
    monkeypatch.setattr(numba_function, "MIN_BLOCK_WORK", 0)
    split, blocks = [], numba_function._blocks
    monkeypatch.setattr(numba_function, "_blocks", lambda *a: split.append(len(blocks(*a))) or blocks(*a))
    args = [*AUDIO[:-4], "--batch", "32", "--epochs", "4", "--input-noise", "0.01", "--threads", "2", "-q"]
    threads = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        whole, cut = tmp_path / "whole", tmp_path / "cut"
        assert main([*args, "--out", str(whole)]) == 0
        per_epoch = calls["cwrnn_kernels"] // 4
        assert calls["cwrnn_kernels"] == 4 * per_epoch and calls["cwrnn_loop"] == 0
        calls.clear()
        calls.die_at = 2 * per_epoch + per_epoch // 2  # in the middle of epoch 3
        assert main([*args, "--out", str(cut)]) == 1  # "interrupted"
        assert (cut / "checkpoint" / "latest").read_text().strip() == "ckpt-000002"
        calls.die_at = None
        calls.clear()
        assert main([*args, "--out", str(cut), "--resume"]) == 0
        assert calls["cwrnn_kernels"] == 2 * per_epoch and calls["cwrnn_loop"] == 0
    finally:
        torch.set_num_threads(threads)
    assert max(split) == 2  # the batches did run as two blocks
    for key in ("train_loss", "val_loss"):
        assert history(cut)[key] == history(whole)[key]
    for a, b in (
        (latest_state(cut), latest_state(whole)),
        (load_file(str(cut / "model.safetensors")), load_file(str(whole / "model.safetensors"))),
    ):
        assert a.keys() == b.keys()
        for k in b:
            np.testing.assert_array_equal(a[k], b[k], err_msg=k)


# --------------------------------------------------------------------------------------- DDP

LAUNCHER = """
import json, os, sys
import torch
import cwrnn_audio.nn.functional as functional
import cwrnn_audio.nn.numba_function as numba_function
from cwrnn_audio.cli.main import main

calls = {"cwrnn_kernels": 0, "cwrnn_loop": 0}
def spy(module, name, key):
    original = getattr(module, name)
    def counted(*args, **kwargs):
        calls[key] += 1
        return original(*args, **kwargs)
    setattr(module, name, counted)
spy(numba_function, "numba_forward", "cwrnn_kernels")
spy(numba_function, "numba_readout", "cwrnn_kernels")
spy(functional, "_step_loop", "cwrnn_loop")
rc = main(sys.argv[1:])
calls["threads"] = torch.get_num_threads()
with open(os.path.join(os.environ["CALLS_DIR"], "rank" + os.environ["RANK"] + ".json"), "w") as f:
    json.dump(calls, f)
sys.exit(rc)
"""


def torchrun_counted(tmp_path, name, kernels: bool):
    """``train midi --distributed`` (the default CW-RNN, melody) on 2 gloo ranks, each counting its calls."""
    launcher = tmp_path / "launch.py"
    launcher.write_text(LAUNCHER)
    out, counts = tmp_path / name, tmp_path / f"{name}-calls"
    counts.mkdir()
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT", "OMP_NUM_THREADS", ENV)
    }
    env.update(CALLS_DIR=str(counts), **({} if kernels else {ENV: "0"}))
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node=2", str(launcher)]
    cmd += ["train", "midi", MIDI, "--out", str(out), "--distributed", *MIDI_SMALL, "-q"]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return out, [json.loads((counts / f"rank{r}.json").read_text()) for r in range(2)]


@pytest.mark.slow
def test_ddp_ranks_run_the_kernels_and_match_the_loop(tmp_path):
    on, ranks_on = torchrun_counted(tmp_path, "on", True)
    off, ranks_off = torchrun_counted(tmp_path, "off", False)
    for rank_on, rank_off in zip(ranks_on, ranks_off):
        assert rank_on["threads"] == 1  # torchrun's OMP_NUM_THREADS=1: one block of lanes
        assert rank_on["cwrnn_kernels"] > 20 and rank_on["cwrnn_loop"] == 0
        assert rank_off["cwrnn_loop"] == rank_on["cwrnn_kernels"] and rank_off["cwrnn_kernels"] == 0
    for per_rank in history(on)["weights_digests"]:
        assert len(per_rank) == 2 and per_rank[0] == per_rank[1]
    assert_same_training({"on": (on, None), "off": (off, None)})
