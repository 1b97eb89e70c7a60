import json
import subprocess
import sys

import numpy as np
import pytest
import soundfile as sf
import torch

import cwrnn_audio_samples
from cwrnn_audio import ParameterError
from cwrnn_audio.adapters import MelAdapter, RawAdapter
from cwrnn_audio.audio.dataset import load_corpus
from cwrnn_audio.audio.fit import AudioTrainConfig, train_audio
from cwrnn_audio.audio.generate import generate
from cwrnn_audio.models.folder import load_model_dir
from cwrnn_audio.train.networks import flatten

PLUCK = cwrnn_audio_samples.path("pluck_melody.wav")
SMALL = dict(sample_rate=8000, num_modules=4, module_size=8, window=64, chunk_windows=4, batch=8, seed=0)


@pytest.fixture
def corpus(tmp_path):
    d = tmp_path / "corpus"
    (d / "sub").mkdir(parents=True)
    rng = np.random.default_rng(0)
    sf.write(d / "good.wav", (0.4 * np.sin(np.arange(8000) / 5.0)).astype(np.float32), 8000)
    sf.write(d / "sub" / "good2.flac", 0.3 * rng.standard_normal((8000, 2)).clip(-1, 1), 16000)
    sf.write(d / "sub" / "good3.ogg", (0.3 * np.sin(np.arange(6000) / 9.0)).astype(np.float32), 12000)
    (d / "corrupt.wav").write_bytes(b"RIFF....WAVEfmt garbage")
    sf.write(d / "silent.wav", np.zeros(4000, np.float32), 8000)
    sf.write(d / "empty.wav", np.zeros(0, np.float32), 8000)
    nan = np.zeros(4000, np.float32)
    nan[100] = np.nan
    sf.write(d / "nan.wav", nan, 8000, subtype="FLOAT")
    (d / "notes.txt").write_text("not audio, not even looked at")
    return d


def test_bad_files_are_skipped_and_named(corpus):
    clips, skipped = load_corpus(corpus, 8000)
    assert sorted(p.name for p, _ in clips) == ["good.wav", "good2.flac", "good3.ogg"]
    assert all(a.shape[0] == 1 and a.dtype == np.float32 for _, a in clips)  # mixed to mono
    reasons = {p.name: r for p, r in skipped}
    assert set(reasons) == {"corrupt.wav", "silent.wav", "empty.wav", "nan.wav"}
    assert "not a readable audio file" in reasons["corrupt.wav"] and "silent" in reasons["silent.wav"]
    assert "no audio frames" in reasons["empty.wav"] and "NaN" in reasons["nan.wav"]
    with pytest.raises(ParameterError, match="no usable audio"):
        load_corpus([corpus / "silent.wav", corpus / "corrupt.wav"], 8000)


def test_resampling_keeps_duration(corpus):
    clips, _ = load_corpus(corpus / "sub", 8000)
    assert clips[0][1].shape[1] == 4000  # 0.5 s at 16 kHz -> 0.5 s at 8 kHz
    assert clips[1][1].shape[1] == 4000  # 0.5 s of OGG at 12 kHz
    kept, _ = load_corpus(corpus / "sub", 8000, channels="keep")
    assert kept[0][1].shape == (2, 4000)


def test_training_learns_and_writes_a_model_folder(tmp_path):
    res = train_audio(
        [PLUCK], tmp_path / "m", AudioTrainConfig(epochs=3, **SMALL), progress=False, log=lambda s: None
    )
    assert res["train_loss"][-1] < res["train_loss"][0]
    assert res["val_loss"][-1] < np.log(256)  # better than guessing among 256 classes
    for name in ("model.safetensors", "config.json", "adapter.json", "history.json", "loss_curve.png"):
        assert (tmp_path / "m" / name).is_file()
    model, adapter, _ = load_model_dir(tmp_path / "m", domain="audio")
    assert adapter.name == "mulaw" and adapter.sample_rate == 8000 and model.config.output_size == 256
    assert (
        json.loads((tmp_path / "m" / "config.json").read_text())["training"]["best_epoch"]
        == res["best_epoch"]
    )


def test_interrupted_training_resumes_to_the_same_model(tmp_path):
    cfg = AudioTrainConfig(epochs=3, encoding="raw", **SMALL)
    train_audio([PLUCK], tmp_path / "whole", cfg, progress=False, log=lambda s: None)

    def dies_after_epoch_2(msg):
        if msg.startswith("epoch 2:"):
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        train_audio([PLUCK], tmp_path / "cut", cfg, progress=False, log=dies_after_epoch_2)
    with pytest.raises(ParameterError, match="--resume"):
        train_audio([PLUCK], tmp_path / "cut", cfg, progress=False, log=lambda s: None)
    res = train_audio([PLUCK], tmp_path / "cut", cfg, resume=True, progress=False, log=lambda s: None)
    whole = json.loads((tmp_path / "whole" / "history.json").read_text())
    assert res["train_loss"] == whole["train_loss"]
    a = load_model_dir(tmp_path / "whole", domain="audio").model
    b = load_model_dir(tmp_path / "cut", domain="audio").model
    np.testing.assert_array_equal(flatten(a), flatten(b))


@pytest.fixture(scope="module")
def mulaw_model(tmp_path_factory):
    d = tmp_path_factory.mktemp("mulaw")
    train_audio([PLUCK], d, AudioTrainConfig(epochs=1, **SMALL), progress=False, log=lambda s: None)
    return load_model_dir(d, domain="audio")[:2]


def test_sampling_is_seeded_and_the_same_on_both_engines(mulaw_model):
    model, adapter = mulaw_model
    a = generate(model, adapter, 0.05, seed=3, temperature=0.9, top_k=40)
    b = generate(model, adapter, 0.05, seed=3, temperature=0.9, top_k=40)
    c = generate(model, adapter, 0.05, seed=3, temperature=0.9, top_k=40, backend="torch")
    np.testing.assert_array_equal(a, b)
    assert np.mean(a == c) > 0.98  # a logit at a class boundary may round the other way
    assert a.shape == (1, 400) and np.abs(a).max() <= 1
    v = generate(model, adapter, 0.05, seed=3, voices=3)
    assert v.shape == (3, 400) and not np.array_equal(v[0], v[1])


def test_priming_continues_from_the_clip(mulaw_model):
    model, adapter = mulaw_model
    clip = (0.5 * np.sin(np.arange(2000) / 4.0)).astype(np.float32)[None]
    free = generate(model, adapter, 0.02, seed=1)
    primed = generate(model, adapter, 0.02, seed=1, prime=clip)
    assert not np.array_equal(free, primed)
    # priming = teacher-forcing the clip: the state equals running the stream over it
    s = model.stream()
    s.process(adapter.encode(clip)[0][0])
    s2 = model.stream()
    s2.process(adapter.encode(clip)[0][0][:1000])
    s2.process(adapter.encode(clip)[0][0][1000:])
    np.testing.assert_array_equal(s.state.h, s2.state.h)


def test_regression_and_frame_models_free_run():
    torch.manual_seed(0)
    from cwrnn_audio import CWRNN

    raw = RawAdapter(sample_rate=8000)
    m = CWRNN(input_size=1, output_size=1, num_modules=3, module_size=4, output_activation="tanh")
    quiet = generate(m, raw, 0.01, seed=0)
    noisy = generate(m, raw, 0.01, seed=0, noise=0.1)
    assert quiet.shape == noisy.shape == (1, 80) and not np.allclose(quiet, noisy)
    assert np.abs(noisy).max() <= 1.0
    np.testing.assert_allclose(generate(m, raw, 0.01, noise=0.1, seed=0, backend="torch"), noisy, atol=1e-5)
    mel = MelAdapter(sample_rate=8000, n_fft=256, hop_length=64, n_mels=16)
    mm = CWRNN(input_size=16, output_size=16, num_modules=2, module_size=8)
    y = generate(mm, mel, 0.2, seed=0)
    assert y.ndim == 2 and abs(y.shape[1] - 1600) <= 64


def test_no_input_models_free_run():
    torch.manual_seed(0)
    from cwrnn_audio import CWRNN

    gen = CWRNN(input_size=0, hidden_size=40, num_modules=9, output_activation="tanh")
    y = generate(gen, RawAdapter(sample_rate=8000), 0.04, seed=0)
    np.testing.assert_array_equal(y, gen.run(steps=320).T)


def test_frame_model_trains_at_the_users_hop(tmp_path):
    cfg = AudioTrainConfig(
        encoding="mel",
        hop_length=128,
        n_fft=512,
        n_mels=20,
        epochs=1,
        sample_rate=8000,
        num_modules=2,
        module_size=4,
        window=8,
        chunk_windows=2,
        batch=2,
    )
    train_audio([PLUCK], tmp_path, cfg, progress=False, log=lambda s: None)
    model, adapter, _ = load_model_dir(tmp_path, domain="audio")
    assert adapter.settings() == {"sample_rate": 8000, "n_fft": 512, "hop_length": 128, "n_mels": 20}
    assert adapter.step_rate == 62.5 and model.config.input_size == 20


def test_generation_argument_errors(mulaw_model):
    model, adapter = mulaw_model
    for kw, needle in (
        (dict(temperature=0), "temperature"),
        (dict(top_k=-1), "top_k"),
        (dict(noise=-1), "noise"),
    ):
        with pytest.raises(ParameterError, match=needle):
            generate(model, adapter, 0.01, **kw)
    with pytest.raises(ParameterError, match="seconds"):
        generate(model, adapter, 0)


def test_cli_trains_on_a_folder_and_generates(corpus, tmp_path):
    run = lambda *a: subprocess.run([sys.executable, "-m", "cwrnn_audio", *a], capture_output=True, text=True)  # noqa: E731
    r = run(
        "train",
        "audio",
        str(corpus),
        "--out",
        str(tmp_path / "m"),
        "--epochs",
        "1",
        "--sample-rate",
        "8000",
        "--modules",
        "3",
        "--module-size",
        "4",
        "--window",
        "64",
        "-q",
    )
    assert r.returncode == 0, r.stderr
    assert "skipped 4 file(s)" in r.stdout and "corrupt.wav" in r.stdout
    r = run(
        "generate",
        str(tmp_path / "m"),
        "--seconds",
        "0.25",
        "--prime",
        str(PLUCK),
        "--with-prime",
        "--seed",
        "1",
        "-o",
        str(tmp_path / "g.flac"),
    )
    assert r.returncode == 0, r.stderr
    audio, sr = sf.read(str(tmp_path / "g.flac"))
    assert sr == 8000 and abs(audio.shape[0] - (2000 + sf.info(str(PLUCK)).duration * 8000)) <= 2
    r = run("generate", str(tmp_path), "--seconds", "1", "-o", str(tmp_path / "x.wav"))
    assert r.returncode == 2 and "not a model folder" in r.stderr and "Traceback" not in r.stderr
    r = run("train", "audio", str(corpus), "--out", str(tmp_path / "m2"), "--sample-rate", "500")
    assert (
        r.returncode == 2
        and "sample_rate must be a whole number of Hz from 1000 to 384000; got 500" in r.stderr
    )
    r = run("train", "audio", str(corpus / "silent.wav"), "--out", str(tmp_path / "m3"))
    assert r.returncode == 2 and "silent.wav: the audio is silent" in r.stderr
