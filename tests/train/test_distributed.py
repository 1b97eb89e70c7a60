"""DDP training under torchrun: 2 CPU processes on gloo, on the bundled MIDI tunes."""

import hashlib
import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
from safetensors.numpy import load_file

import cwrnn_audio_samples
from cwrnn_audio.cli.main import main
from cwrnn_audio.midi.fit import MidiTrainConfig, train_midi

MIDI = str(cwrnn_audio_samples.path("midi"))
SMALL = ["--epochs", "5", "--batch", "2", "--window", "8", "--chunk-windows", "2", "--patience", "10"]


def torchrun(out, *extra, nproc=2, wait=True):
    cmd = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        f"--nproc-per-node={nproc}",
        "-m",
        "cwrnn_audio",
        "train",
        "midi",
        MIDI,
        "--out",
        str(out),
        "--distributed",
        *SMALL,
        "-q",
        *extra,
    ]
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT")
    }
    proc = subprocess.Popen(
        cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env, start_new_session=True
    )
    if not wait:
        return proc
    output, _ = proc.communicate(timeout=300)
    assert proc.returncode == 0, output
    return output


def digest_of_checkpoint(out):
    """The trainer's digest recomputed here from rank 0's checkpoint file, in state_dict order."""
    ckpt = out / "checkpoint"
    arrays = load_file(str(ckpt / (ckpt / "latest").read_text().strip() / "state.safetensors"))
    order = MidiTrainConfig().model(MidiTrainConfig().encoding_obj()).state_dict().keys()
    h = hashlib.sha256()
    for k in order:
        h.update(arrays[f"model.{k}"].tobytes())
    return h.hexdigest(), arrays


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory):
    out = tmp_path_factory.mktemp("ddp") / "model"
    log = torchrun(out)
    return out, log


def test_two_ranks_hold_identical_weights_and_the_loss_goes_down(uninterrupted):
    out, log = uninterrupted
    history = json.loads((out / "history.json").read_text())
    assert history["processes"] == 2 and len(history["train_loss"]) == 5
    for per_rank in history["weights_digests"]:
        assert len(per_rank) == 2 and per_rank[0] == per_rank[1]
    assert history["weights_digests"][-1][0] == digest_of_checkpoint(out)[0]
    assert history["train_loss"][-1] < 0.8 * history["train_loss"][0]
    assert "samples/s on 2 process(es)" in log
    csv = (out / "metrics.csv").read_text().splitlines()
    assert csv[0] == "epoch,train_loss,val_loss,seconds,samples_per_s" and len(csv) == 6


def test_the_model_folder_is_the_one_single_process_training_writes(uninterrupted, tmp_path):
    out, _ = uninterrupted
    single = tmp_path / "single"
    train_midi(
        [MIDI],
        single,
        MidiTrainConfig(epochs=1, batch=2, window=8, chunk_windows=2),
        progress=False,
        log=lambda *a: None,
    )
    assert sorted(p.name for p in out.iterdir()) == sorted(p.name for p in single.iterdir())
    assert main(["generate", str(out), "--out", str(tmp_path / "gen.mid"), "--bars", "2", "--seed", "1"]) == 0


def test_killed_and_resumed_gives_the_weights_of_an_uninterrupted_run(uninterrupted, tmp_path):
    reference, _ = uninterrupted
    out = tmp_path / "model"
    proc = torchrun(out, wait=False)
    latest = out / "checkpoint" / "latest"
    deadline = time.monotonic() + 240
    while not (latest.is_file() and latest.read_text().strip() == "ckpt-000002"):
        assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()[0]
        time.sleep(0.005)
    os.killpg(proc.pid, signal.SIGKILL)  # the launcher and both ranks, mid-epoch
    proc.wait()
    done = json.loads((out / "checkpoint" / latest.read_text().strip() / "trainer.json").read_text())["epoch"]
    assert done < 5, "the run finished before it could be killed"
    torchrun(out, "--resume")
    _, resumed = digest_of_checkpoint(out)
    _, whole = digest_of_checkpoint(reference)
    assert resumed.keys() == whole.keys()
    for k in whole:
        np.testing.assert_array_equal(resumed[k], whole[k], err_msg=k)
    for name in ("train_loss", "val_loss"):
        assert (
            json.loads((out / "history.json").read_text())[name]
            == json.loads((reference / "history.json").read_text())[name]
        )


def test_distributed_outside_torchrun_is_a_usage_error(tmp_path, monkeypatch, capsys):
    for k in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT"):
        monkeypatch.delenv(k, raising=False)
    assert main(["train", "midi", MIDI, "--out", str(tmp_path / "m"), "--distributed", "-q"]) == 2
    assert "torchrun" in capsys.readouterr().err
