"""Training folders under kills, races and second runs: resume, locks, leftovers, validation, threads."""

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from cwrnn_audio.audio.effect import EffectTrainConfig, train_effect_arrays
from cwrnn_audio.errors import ParameterError
from cwrnn_audio.train import folder as folder_mod
from cwrnn_audio.train.checkpoint import load_checkpoint, save_checkpoint
from cwrnn_audio.train.folder import LOCK, claim, differences, publish
from cwrnn_audio.train.loop import refuse_nonempty
from cwrnn_audio.train.sequence import ChunkBatches, LoopConfig, _chunks, _index

TINY = dict(num_modules=2, module_size=2, window=16, chunk_windows=2, batch=2, sample_rate=8000)


def pairs(n=1, frames=400, seed=0):
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        dry = rng.uniform(-0.5, 0.5, frames).astype(np.float32)
        out.append((dry, np.tanh(3 * dry)))
    return out


def train(out, epochs=2, data=None, resume=False, logs=None, **kw):
    cfg = EffectTrainConfig(**{**TINY, "epochs": epochs, "patience": 50, **kw})
    log = logs.append if logs is not None else (lambda s: None)
    return train_effect_arrays(data or pairs(), out, cfg, resume=resume, progress=False, log=log)


# D19: the pointer names a folder inside the checkpoint folder, nothing else


@pytest.mark.parametrize("pointer", ["../../other/ckpt-000001", "/tmp/ckpt-000001", "ckpt-1/../x", ""])
def test_a_pointer_out_of_the_checkpoint_folder_is_refused(tmp_path, pointer):
    other = tmp_path / "other"
    save_checkpoint(other, 1, {"w": np.zeros(2, np.float32)}, {"settings": {}})
    ckpt = tmp_path / "a" / "b"
    ckpt.mkdir(parents=True)
    (ckpt / "latest").write_text(pointer)
    with pytest.raises(ParameterError, match="must name a checkpoint folder") as err:
        load_checkpoint(ckpt)
    assert repr(pointer) in str(err.value)


# D5: a complete checkpoint whose pointer was never written


def test_a_complete_checkpoint_without_its_pointer_is_resumed(tmp_path):
    ckpt = tmp_path / "checkpoint"
    save_checkpoint(ckpt, 1, {"w": np.ones(2, np.float32)}, {"settings": {}})
    (ckpt / "latest").unlink()  # killed between the folder's rename and the pointer
    arrays, info = load_checkpoint(ckpt)
    assert info["epoch"] == 1 and arrays["w"].tolist() == [1, 1]
    refuse_nonempty(tmp_path, resume=True)  # was: "not empty; use --resume" with --resume given


def test_the_newest_complete_checkpoint_wins_over_an_older_pointer(tmp_path):
    save_checkpoint(tmp_path, 1, {"w": np.ones(1, np.float32)}, {})
    (tmp_path / "latest").write_text("ckpt-000001")
    save_checkpoint(tmp_path, 2, {"w": np.full(1, 2, np.float32)}, {})
    (tmp_path / "latest").write_text("ckpt-000001")  # the pointer for epoch 2 never landed
    (tmp_path / "ckpt-000001").mkdir()  # (and the old folder not yet removed, empty)
    assert load_checkpoint(tmp_path)[1]["epoch"] == 2


def test_training_killed_before_its_first_pointer_resumes(tmp_path):
    out = tmp_path / "m"
    first = train(out, epochs=1)
    (out / "checkpoint" / "latest").unlink()
    again = train(out, epochs=3, resume=True)
    assert again["train_loss"][0] == first["train_loss"][0] and len(again["train_loss"]) == 3


# D18: leftovers, the model pair, unwritable folders


def test_leftovers_of_killed_saves_are_removed_at_the_next_start(tmp_path):
    out = tmp_path / "m"
    train(out, epochs=1)
    junk = [
        out / ".history.json.abc123.tmp.json",
        out / ".metrics.csv.x.tmp.csv",
        out / "checkpoint" / ".latest.k2j3.tmp",
    ]
    for f in junk:
        f.write_text("half")
    (out / "checkpoint" / ".ckpt-000002.zz").mkdir()
    mine = out / "notes.txt.tmp"  # not a name a training writes: kept
    mine.write_text("x")
    train(out, epochs=2, resume=True)
    assert not any(f.exists() for f in junk) and not (out / "checkpoint" / ".ckpt-000002.zz").exists()
    assert mine.exists()


def fake_checkpoint(out):
    save_checkpoint(out / "checkpoint", 1, {"w": np.zeros(1, np.float32)}, {"settings": {}})


def test_the_model_files_are_published_together(tmp_path, monkeypatch):
    out = tmp_path / "m"
    fake_checkpoint(out)

    def write(epoch):
        def files(d):
            (d / "model.safetensors").write_text(f"weights {epoch}")
            (d / "config.json").write_text(json.dumps({"epoch": epoch}))

        return files

    publish(out, write(1))
    moves, real = [], os.replace

    def dies_after_one(src, dst):
        if moves:
            raise KeyboardInterrupt  # a kill between the two files
        moves.append(dst)
        real(src, dst)

    monkeypatch.setattr(folder_mod.os, "replace", dies_after_one)
    with pytest.raises(KeyboardInterrupt):
        publish(out, write(2))
    monkeypatch.undo()
    with claim(out, resume=True):  # the next run finishes what was complete
        pass
    weights = (out / "model.safetensors").read_text()
    assert weights == f"weights {json.loads((out / 'config.json').read_text())['epoch']}" == "weights 2"
    assert not (out / folder_mod.STAGING).exists()


def test_a_kill_between_weights_and_config_leaves_a_matching_pair(tmp_path, monkeypatch):
    from cwrnn_audio.models import folder as model_folder

    real, weights = model_folder.write_json, []

    def killed_at_the_second_config(path, data):
        if path.name == "config.json":
            weights.append((path.parent / "model.safetensors").read_bytes())  # written just before
            if len(weights) == 2:
                raise KeyboardInterrupt  # epoch 2's weights are written, its config is not
        return real(path, data)

    monkeypatch.setattr(model_folder, "write_json", killed_at_the_second_config)
    out = tmp_path / "m"
    with pytest.raises(KeyboardInterrupt):
        train(out, epochs=2, data=pairs(1, frames=800))
    assert json.loads((out / "config.json").read_text())["training"]["best_epoch"] == 1
    assert weights[0] != weights[1] and (out / "model.safetensors").read_bytes() == weights[0]


def test_an_incomplete_publication_is_dropped(tmp_path):
    out = tmp_path / "m"
    fake_checkpoint(out)
    (out / folder_mod.STAGING).mkdir()
    (out / folder_mod.STAGING / "model.safetensors").write_text("half")
    with claim(out, resume=True):
        pass
    assert not (out / folder_mod.STAGING).exists() and not (out / "model.safetensors").exists()


def test_an_unwritable_folder_is_refused_before_any_epoch(tmp_path, monkeypatch):
    real = os.open

    def read_only(path, *a, **k):
        if str(path).endswith(LOCK):
            raise PermissionError(13, "Permission denied", str(path))
        return real(path, *a, **k)

    monkeypatch.setattr(folder_mod.os, "open", read_only)
    logs = []
    with pytest.raises(ParameterError, match="cannot write to this folder") as err:
        train(tmp_path / "ro", logs=logs)
    assert str(tmp_path / "ro") in str(err.value) and not any(s.startswith("epoch") for s in logs)


# D12: one training per folder


def test_a_folder_held_by_a_live_training_is_refused_naming_it_and_the_pid(tmp_path):
    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        out = tmp_path / "m"
        out.mkdir()
        (out / LOCK).write_text(f"{other.pid}\n")
        with pytest.raises(ParameterError, match=f"another training \\(PID {other.pid}\\)") as err:
            train(out)
        assert str(out) in str(err.value) and (out / LOCK).read_text().strip() == str(other.pid)
    finally:
        other.kill()
        other.wait()


def test_a_lock_of_a_dead_process_is_taken_over_and_released(tmp_path):
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    out = tmp_path / "m"
    out.mkdir()
    (out / LOCK).write_text(f"{dead.pid}\n")
    with claim(out, resume=False):
        assert (out / LOCK).read_text().strip() == str(os.getpid())
    assert not (out / LOCK).exists()
    train(out)  # and a training there finishes, lock released
    assert (out / "model.safetensors").is_file() and not (out / LOCK).exists()


# D24: resume with more epochs, other settings, other data


def test_more_epochs_resume_and_other_settings_are_named(tmp_path):
    out = tmp_path / "m"
    first = train(out, epochs=2)
    more = train(out, epochs=4, resume=True)
    assert more["train_loss"][:2] == first["train_loss"] and len(more["train_loss"]) == 4
    with pytest.raises(ParameterError) as err:
        train(out, epochs=4, resume=True, lr=0.5)
    msg = str(err.value)
    assert "lr 0.003 (checkpoint) vs 0.5 (now)" in msg and "window" not in msg


def test_resume_on_other_data_is_refused_naming_it(tmp_path):
    out = tmp_path / "m"
    train(out, data=pairs(2))
    with pytest.raises(ParameterError, match="training data not in the checkpoint: stream 1"):
        train(out, data=[pairs(2)[0], pairs(1, seed=7)[0]], resume=True)
    old = {"data": [["a.mid", "1"], ["b.mid", "2"]], "lr": 1}
    new = {"data": [["A/a.mid", "1"], ["c.mid", "3"]], "lr": 1}  # a.mid moved: the same data
    assert differences(old, new) == [
        "training data not in the checkpoint: c.mid",
        "training data in the checkpoint but not given now: b.mid",
    ]


def test_fit_refuses_to_resume_on_other_targets(tmp_path):
    from cwrnn_audio import CWRNN
    from cwrnn_audio.train import fit

    net = CWRNN(input_size=0, output_size=1, num_modules=2, module_size=2)
    target = np.sin(np.linspace(0, 6, 40))[:, None].astype(np.float32)
    kw = dict(epochs=3, checkpoint_dir=tmp_path / "ck", checkpoint_every=3, progress=False, seed=0)
    fit(net, target, **kw)
    assert fit(net, target, **{**kw, "epochs": 5}, resume=True).resumed_from == 3  # epochs may grow
    with pytest.raises(ParameterError, match="training data not in the checkpoint: targets"):
        fit(net, -target, **kw, resume=True)


# D23: validation that is what it says, and every sample of every chunk


def test_short_streams_hold_out_whole_streams_for_validation():
    cfg = LoopConfig(window=16, chunk_windows=2, batch=2, val_fraction=0.1)
    streams = [(np.full((40, 1), i, np.float32), np.full(40, i)) for i in range(10)]
    logs = []
    train, val = _chunks(streams, cfg, logs.append)
    assert [int(x[0, 0]) for x, _ in val] == [9] and len(val[0][0]) == 40
    assert {int(x[0, 0]) for x, _ in train} == set(range(9))
    assert "1 of 10 streams held out whole" in logs[0]


def test_one_short_stream_says_there_is_no_validation_set(tmp_path):
    logs = []
    res = train(tmp_path / "m", data=pairs(1, frames=40), logs=logs)
    assert any(s.startswith("no validation set") for s in logs)
    epochs = [s for s in logs if s.startswith("epoch")]
    assert epochs and all(s.endswith("(no validation set)") and ", validation" not in s for s in epochs)
    assert res["val_loss_is"] == "training loss (no validation set)"


def test_every_sample_of_every_chunk_trains_each_epoch():
    cfg = LoopConfig(window=4, chunk_windows=3, batch=3, seed=1)
    lengths = [12, 4, 12, 8, 12, 4, 12, 8, 12]  # full chunks and streams' shorter last chunks
    chunks = [(np.full((n, 1), i, np.float32), np.full(n, i)) for i, n in enumerate(lengths)]
    batches = ChunkBatches(chunks, cfg, torch.device("cpu"))
    for epoch in range(2):
        seen = {}
        for xs, ys, count in batches.epoch(epoch):
            assert xs.shape[0] == count <= 3 and ys.shape[:2] == xs.shape[:2]
            for row in xs[:, :, 0]:
                assert (row == row[0]).all()
                seen[int(row[0])] = seen.get(int(row[0]), 0) + len(row)
        assert seen == dict(enumerate(lengths))


def test_a_resumed_shuffle_continues_the_same_sequence():
    cfg = LoopConfig(window=4, chunk_windows=2, batch=2, seed=3)
    chunks = [(np.full((n, 1), i, np.float32), np.full(n, i)) for i, n in enumerate([8, 4, 8, 4, 8])]

    def order(b, epoch):
        return [tuple(int(v) for v in xs[:, 0, 0]) for xs, _, _ in b.epoch(epoch)]

    whole = ChunkBatches(chunks, cfg, torch.device("cpu"))
    runs = [order(whole, e) for e in range(3)]
    resumed = ChunkBatches(chunks, cfg, torch.device("cpu"))
    resumed.skip(2)
    assert order(resumed, 2) == runs[2]


# D25: a small corpus under several processes


class Stream:
    def __init__(self, steps):
        self.steps = steps

    def __call__(self, k):
        x = np.zeros((self.steps, 1), np.float32)
        return [(x, np.zeros(self.steps))], {"file": k}


def test_a_small_corpus_trains_in_smaller_batches_said_once():
    from cwrnn_audio.train.loop import SINGLE

    cfg = LoopConfig(window=4, chunk_windows=2, batch=8, val_fraction=0.0)
    logs = []
    *_, steps, batch = _index(list(range(5)), Stream(16), cfg, SINGLE, 4, logs.append)
    assert (steps, batch) == (1, 8) and logs == []  # 10 chunks: the default batch fits
    *_, steps, batch = _index(list(range(2)), Stream(16), cfg, SINGLE, 4, logs.append)
    assert (steps, batch) == (1, 4) and len(logs) == 1 and "batches of 4" in logs[0]


def test_files_shorter_than_a_chunk_train_in_shorter_chunks():
    from cwrnn_audio.train.loop import SINGLE

    cfg = LoopConfig(window=4, chunk_windows=3, batch=2, val_fraction=0.0)
    logs = []
    ds, *_, steps, batch = _index(list(range(3)), Stream(9), cfg, SINGLE, 4, logs.append)
    assert ds.chunk_windows == 2 and (steps, batch) == (1, 2) and "chunks of 2 window(s)" in logs[0]
    it = iter(ds)  # (cycles through the files for ever)
    assert [next(it)[0].shape for _ in range(3)] == [(8, 1)] * 3
    with pytest.raises(ParameterError, match="too short for one window of 4 steps"):
        _index(list(range(3)), Stream(3), cfg, SINGLE, 4, logs.append)


def test_a_shared_error_is_shown_by_rank_0_only(monkeypatch, capsys):
    from cwrnn_audio.cli import main
    from cwrnn_audio.cli import train as cli_train
    from cwrnn_audio.train.distributed import SharedError

    def fails(args):
        raise SharedError("need more chunks")

    monkeypatch.setattr(cli_train, "run_midi", fails)
    for rank, shown in (("1", False), ("0", True)):
        monkeypatch.setenv("RANK", rank)
        assert main.main(["train", "midi", "x.mid", "--out", "o", "--threads", "1"]) == 2
        assert ("need more chunks" in capsys.readouterr().err) == shown


# D22: one thread count for both pools


def test_threads_size_torch_and_numba_together(monkeypatch):
    import numba

    from cwrnn_audio.train.threads import DEFAULT, ENV, thread_count, use_threads

    before = torch.get_num_threads(), numba.get_num_threads()
    try:
        monkeypatch.setenv(ENV, "2")
        assert thread_count() == 2 and thread_count(1) == 1
        use_threads(None)
        assert torch.get_num_threads() == 2
        assert numba.get_num_threads() == min(2, numba.config.NUMBA_NUM_THREADS)
        use_threads(1)
        assert (torch.get_num_threads(), numba.get_num_threads()) == (1, 1)
        monkeypatch.setenv(ENV, "many")
        with pytest.raises(
            ParameterError, match="CWRNN_AUDIO_THREADS must be a positive integer; got 'many'"
        ):
            thread_count()
        monkeypatch.delenv(ENV)
        assert thread_count() == DEFAULT
    finally:
        torch.set_num_threads(before[0])
        numba.set_num_threads(before[1])


# D29: list options, checks before analysis, defaults in --help


def test_sizes_take_spaces_or_commas():
    from cwrnn_audio.cli.main import build_parser

    args = build_parser().parse_args(
        ["paper", "generation", "a.wav", "--out", "o", "--sizes", "100", "1000,250"]
    )
    assert args.sizes == (100, 1000, 250) and args.audio == "a.wav"


def test_a_used_folder_is_refused_before_the_audio_is_read(tmp_path, monkeypatch):
    import soundfile as sf

    from cwrnn_audio.audio import fit as audio_fit

    wav = tmp_path / "a.wav"
    sf.write(wav, np.zeros(4000, np.float32) + 0.1, 8000)
    out = tmp_path / "m"
    out.mkdir()
    (out / "mine.txt").write_text("x")

    def never(*a, **k):
        raise AssertionError("the audio was read before the folder was checked")

    monkeypatch.setattr(audio_fit, "load_corpus", never)
    with pytest.raises(ParameterError, match="is not empty"):
        audio_fit.train_audio([wav], out, audio_fit.AudioTrainConfig(encoding="raw"), progress=False)


def test_train_help_shows_the_defaults(capsys):
    from cwrnn_audio.cli.main import build_parser

    with pytest.raises(SystemExit):
        build_parser().parse_args(["train", "midi", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    for shown in ("(default: 20)", "(default: 0.003)", "(default: melody)", "(default: 0.1)", "(default: 5)"):
        assert shown in text


def _race_for(out, barrier, wins):
    barrier.wait()
    try:
        folder_mod._lock(Path(out))
        wins.put(1)
        time.sleep(0.2)  # hold it while the others try
    except ParameterError:
        wins.put(0)


@pytest.mark.skipif(sys.platform == "win32", reason="fork")
def test_runs_starting_together_on_a_dead_runs_lock_leave_one_owner(tmp_path):
    """Before the folder was serialised, 8 rounds in 20 gave the folder to two or more runs."""
    import multiprocessing as mp

    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    ctx = mp.get_context("fork")
    for r in range(10):
        out = tmp_path / f"r{r}"
        out.mkdir()
        (out / LOCK).write_text(f"{dead.pid}\n")
        barrier, wins = ctx.Barrier(6), ctx.Queue()
        runs = [ctx.Process(target=_race_for, args=(str(out), barrier, wins)) for _ in range(6)]
        for p in runs:
            p.start()
        for p in runs:
            p.join()
        assert sum(wins.get() for _ in runs) == 1, f"round {r}"
