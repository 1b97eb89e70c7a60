"""Training folders and runs: kills, second runs, resume, validation, threads, torchrun
(DEFECTS.md 5, 12, 18, 19, 22, 23, 24, 25, 29)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time

from harness import HERE, case, cli, no_traceback, python

ROOT = HERE.parent.parent
MIDI = ROOT / "samples" / "midi"
TINY = ("--module-size", "2", "--modules", "2", "-q")
TORCHRUN = (sys.executable, "-m", "torch.distributed.run")


def _train(out, *extra, files=(MIDI,), epochs=1):
    return cli("train", "midi", *map(str, files), "--out", out, "--epochs", epochs, *TINY, *extra)


def _ok(r):
    assert r.returncode == 0, f"exit {r.returncode}: {r.stderr[-800:]}"


@case("D5 --resume after a kill before the first checkpoint pointer")
def resume_without_pointer(tmp_path):
    out = tmp_path / "m"
    _ok(_train(out))
    (out / "checkpoint" / "latest").unlink()  # the kill came between the folder's rename and the pointer
    r = _train(out, "--resume", epochs=2)
    assert r.returncode == 0, f"--resume refused: {r.stderr[-500:]}"
    assert "epoch 2:" in r.stdout and "epoch 1:" not in r.stdout, r.stdout[-500:]


@case("D12 a second training into a busy folder exits 2 naming it and the PID")
def second_training(tmp_path):
    out = tmp_path / "m"
    first = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "cwrnn_audio",
            "train",
            "midi",
            str(MIDI),
            "--out",
            str(out),
            "--epochs",
            "500",
        ]
        + list(TINY),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        for _ in range(600):
            if (out / ".lock").is_file() or first.poll() is not None:
                break
            time.sleep(0.1)
        assert (out / ".lock").is_file(), "the first training took no lock on its folder"
        r = _train(out)
        no_traceback(r, code=2)
        assert str(first.pid) in r.stderr and str(out) in r.stderr, r.stderr[-500:]
    finally:
        first.kill()
        first.wait()
    r = _train(out, "--resume", epochs=1)  # the killed run's lock is stale: taken over
    assert "another training" not in r.stderr, r.stderr[-500:]


@case("D18 leftovers of killed saves are cleaned at the next start")
def leftovers(tmp_path):
    out = tmp_path / "m"
    _ok(_train(out))
    junk = [out / ".history.json.k1.tmp.json", out / "checkpoint" / ".latest.k2.tmp"]
    for f in junk:
        f.write_text("half")
    _ok(_train(out, "--resume"))
    left = [f.name for f in junk if f.exists()]
    assert not left, f"still there: {left}"


@case("D18 a kill between model.safetensors and config.json")
def model_pair(tmp_path):
    code = f"""
import numpy as np
from cwrnn_audio.audio.effect import EffectTrainConfig, train_effect_arrays
from cwrnn_audio.models import folder
real, weights = folder.write_json, []
def killed(path, data):
    if path.name == "config.json":
        weights.append((path.parent / "model.safetensors").read_bytes())
        if len(weights) == 2:
            raise KeyboardInterrupt
    return real(path, data)
folder.write_json = killed
dry = np.random.default_rng(0).uniform(-0.5, 0.5, 800).astype(np.float32)
cfg = EffectTrainConfig(num_modules=2, module_size=2, window=16, chunk_windows=2, batch=2, sample_rate=8000,
                        epochs=2, patience=50)
try:
    train_effect_arrays([(dry, np.tanh(3 * dry))], {str(tmp_path / "m")!r}, cfg, progress=False, log=lambda s: None)
except KeyboardInterrupt:
    pass
out = __import__("pathlib").Path({str(tmp_path / "m")!r})
print(len(weights), (out / "model.safetensors").read_bytes() == weights[0])
"""
    r = python(code)
    assert r.returncode == 0, r.stderr[-800:]
    count, same = r.stdout.split()
    assert count == "2" and same == "True", f"the weights are epoch 2's, the config epoch 1's ({r.stdout})"


@case("D18 a folder that cannot be written is refused before the first epoch")
def unwritable(tmp_path):
    r = _train("/sys/cwrnn_audio_train_probe", epochs=3)
    no_traceback(r, code=2)
    assert "epoch 1" not in r.stdout and "/sys/cwrnn_audio_train_probe" in r.stderr, r.stderr[-500:]


@case("D19 a checkpoint pointer out of the checkpoint folder is refused")
def pointer(tmp_path):
    other, out = tmp_path / "other", tmp_path / "m"
    _ok(_train(other))
    _ok(_train(out))
    shutil.rmtree(out / "checkpoint" / "ckpt-000001")
    (out / "checkpoint" / "latest").write_text("../../other/checkpoint/ckpt-000001")
    r = _train(out, "--resume")
    no_traceback(r, code=2)
    assert "../../other" in r.stderr, r.stderr[-500:]


@case("D22 --threads and CWRNN_AUDIO_THREADS size torch's and Numba's pools")
def threads(tmp_path):
    code = f"""
import numba, torch
from cwrnn_audio.cli.main import main
main(["train", "midi", {str(MIDI)!r}, "--out", {str(tmp_path / "a")!r}, "--epochs", "1", "-q",
      "--modules", "2", "--module-size", "2", "--threads", "1"])
print(torch.get_num_threads(), numba.get_num_threads())
"""
    r = python(code, env={**os.environ, "CWRNN_AUDIO_THREADS": "2"})
    assert r.returncode == 0, r.stderr[-800:]
    assert r.stdout.split()[-2:] == ["1", "1"], f"threads (torch, numba) after --threads 1: {r.stdout[-200:]}"
    r = python(
        code.replace(', "--threads", "1"', "").replace("/a", "/b"),
        env={**os.environ, "CWRNN_AUDIO_THREADS": "2"},
    )
    assert r.returncode == 0, r.stderr[-800:]
    assert r.stdout.split()[-2:] == ["2", "2"], f"threads with CWRNN_AUDIO_THREADS=2: {r.stdout[-200:]}"


@case("D23 the README's train midi command does not call the training loss validation")
def validation(tmp_path):
    r = cli(
        "train",
        "midi",
        MIDI,
        "--encoding",
        "melody",
        "--out",
        tmp_path / "t",
        "--epochs",
        "2",
        "--periods-beats",
        "0.25",
        "8",
        "-q",
    )
    _ok(r)
    for line in r.stdout.splitlines():
        if line.startswith("epoch"):
            nums = [w.strip(",") for w in line.split()]
            if "validation" in nums and not line.endswith("(no validation set)"):
                train, val = float(nums[nums.index("train") + 1]), float(nums[nums.index("validation") + 1])
                assert train != val, f"'validation' is the training loss: {line}"


@case("D23 every sample of every chunk trains each epoch")
def chunk_samples(tmp_path):
    code = """
import numpy as np, torch
from cwrnn_audio.train.sequence import ChunkBatches, LoopConfig
lengths = [512, 256, 512, 512, 256, 512, 128]
chunks = [(np.zeros((n, 1), np.float32), np.zeros(n)) for n in lengths]
b = ChunkBatches(chunks, LoopConfig(window=128, chunk_windows=4, batch=4), torch.device("cpu"))
print(sum(xs.shape[0] * xs.shape[1] for xs, _, _ in b.epoch(0)), sum(lengths))
"""
    r = python(code)
    assert r.returncode == 0, r.stderr[-800:]
    seen, total = r.stdout.split()
    assert seen == total, f"an epoch trained {seen} of {total} samples"


@case("D24 --resume with more epochs continues")
def more_epochs(tmp_path):
    out = tmp_path / "m"
    _ok(_train(out))
    r = _train(out, "--resume", epochs=2)
    assert r.returncode == 0 and "epoch 2:" in r.stdout, r.stderr[-800:]


@case("D24 --resume with other settings names the keys that differ")
def other_settings(tmp_path):
    out = tmp_path / "m"
    _ok(_train(out))
    r = _train(out, "--resume", "--lr", "0.5")
    no_traceback(r, code=2)
    assert "lr 0.003 (checkpoint) vs 0.5 (now)" in r.stderr and "window" not in r.stderr, r.stderr[-800:]


@case("D24 --resume with another training file is refused naming it")
def other_file(tmp_path):
    a, b = tmp_path / "a.mid", tmp_path / "b.mid"
    shutil.copy(MIDI / "tune_0.mid", a)
    shutil.copy(MIDI / "tune_1.mid", b)
    out = tmp_path / "m"
    _ok(_train(out, files=(a,)))
    r = _train(out, "--resume", files=(b,))
    no_traceback(r, code=2)
    assert str(b) in r.stderr, r.stderr[-800:]


@case("D24 fit(resume=True) on another target does not return the old model")
def fit_target(tmp_path):
    code = f"""
import numpy as np
from cwrnn_audio import CWRNN, ParameterError
from cwrnn_audio.train import fit
net = CWRNN(input_size=0, output_size=1, num_modules=2, module_size=2)
t = np.sin(np.linspace(0, 6, 40))[:, None].astype(np.float32)
kw = dict(epochs=3, checkpoint_dir={str(tmp_path / "ck")!r}, progress=False, seed=0)
fit(net, t, **kw)
try:
    r = fit(net, t * 0 + 0.5, resume=True, **kw)
    print("resumed_from", r.resumed_from)
except ParameterError as e:
    print("refused", e)
"""
    r = python(code)
    assert r.returncode == 0, r.stderr[-800:]
    assert (
        r.stdout.startswith("refused") and "targets" in r.stdout or r.stdout.startswith("resumed_from 0")
    ), f"the old model came back for a new target: {r.stdout[-300:]}"


def _long_midi(folder, n):
    code = f"""
import sys
sys.path.insert(0, {str(ROOT / "samples")!r})
from make_midi import tune
from cwrnn_audio.midi import Score, write_midi
for k in range({n}):
    parts = [tune(10 * k + j) for j in range(5)]
    notes = [n._replace(start=n.start + 19.2 * j, end=n.end + 19.2 * j) for j, p in enumerate(parts) for n in p.notes]
    write_midi(Score(notes=notes, tempos=parts[0].tempos, time_signatures=parts[0].time_signatures),
               {str(folder)!r} + f"/song_{{k}}.mid")
"""
    r = python(code)
    assert r.returncode == 0, r.stderr[-800:]


@case("D25 the README's torchrun train midi --distributed works on five files with its defaults")
def torchrun_small(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    _long_midi(data, 5)
    r = subprocess.run(
        [
            *TORCHRUN,
            "--standalone",
            "--nproc-per-node",
            "2",
            "-m",
            "cwrnn_audio",
            "train",
            "midi",
            str(data),
            "--out",
            str(tmp_path / "m"),
            "--distributed",
            "--epochs",
            "1",
            "-q",
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    text = r.stdout + r.stderr
    assert r.returncode == 0, f"exit {r.returncode}: {text[-1500:]}"


@case("D25 a failure under torchrun is said once, by rank 0")
def torchrun_once(tmp_path):
    r = subprocess.run(
        [
            *TORCHRUN,
            "--standalone",
            "--nproc-per-node",
            "2",
            "-m",
            "cwrnn_audio",
            "train",
            "midi",
            str(MIDI),
            "--out",
            str(tmp_path / "m"),
            "--distributed",
            "--epochs",
            "1",
            "--window",
            "1000",
            "-q",
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    text = r.stdout + r.stderr
    said = text.count("cwrnn-audio train: error:")
    assert r.returncode != 0 and said == 1, f"said {said} times: {text[-1500:]}"
    assert "exitcode  : 2" in text, text[-1500:]


@case("D29 --sizes 100 1000 is two sizes")
def sizes(tmp_path):
    code = """
from cwrnn_audio.cli.main import build_parser
a = build_parser().parse_args(["paper", "generation", "--out", "o", "--sizes", "100", "1000"])
print(a.sizes, a.audio.endswith(".flac"))
"""
    r = python(code)
    assert r.returncode == 0 and r.stdout.strip() == "(100, 1000) True", (r.stdout + r.stderr)[-500:]


@case("D29 a used folder is refused before the audio is analysed")
def checks_first(tmp_path):
    out = tmp_path / "m"
    out.mkdir()
    (out / "x.txt").write_text("mine")
    code = f"""
from cwrnn_audio.audio import fit
def never(*a, **k):
    raise SystemExit("analysed first")
fit.load_corpus = never
from cwrnn_audio.cli.main import main
raise SystemExit(main(["train", "audio", {str(ROOT / "samples" / "instruments" / "flute_train.flac")!r},
                       "--encoding", "harmonic", "--out", {str(out)!r}, "-q"]))
"""
    r = python(code)
    no_traceback(r, code=2)
    assert "not empty" in r.stderr, r.stderr[-500:]


@case("D29 train --help shows the defaults")
def help_defaults(tmp_path):
    r = cli("train", "audio", "--help")
    text = " ".join(r.stdout.split())
    missing = [
        d for d in ("(default: 20)", "(default: mulaw)", "(default: 0.003)", "(default: 5)") if d not in text
    ]
    assert r.returncode == 0 and not missing, f"no {missing} in --help"
