import sys
import tracemalloc
from pathlib import Path

import numpy as np
import pytest

from cwrnn_audio import ParameterError
from cwrnn_audio.plugin import get_plugin

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "samples"))
from train_sample_models import effect_material, overdrive  # noqa: E402

SR = 48000


@pytest.fixture(scope="module")
def Effect():
    return get_plugin("effect")


@pytest.fixture
def stereo():
    x = effect_material(seconds=0.5, seed=9)
    return np.stack([x, 0.5 * x[::-1]]).astype(np.float32)


def test_the_bundled_effect_learned_the_overdrive(Effect, stereo):
    y = Effect()(stereo, SR)
    target = overdrive(stereo[0])
    rel = np.sqrt(np.mean((y[0] - target) ** 2) / np.mean(target**2))
    dry = np.sqrt(np.mean((0.7 * stereo[0] - target) ** 2) / np.mean(target**2))
    assert rel < 0.25 and rel < dry / 2


def test_any_block_sizes_give_identical_output(Effect, stereo, rng):
    whole = Effect()(stereo, SR, buffer_size=stereo.shape[1])
    fx = Effect()
    fx.prepare(SR, 4096, 2)
    out, i = [], 0
    while i < stereo.shape[1]:
        n = int(rng.integers(1, 4097))
        out.append(fx.process(np.ascontiguousarray(stereo[:, i : i + n])).copy())
        i += n
    np.testing.assert_array_equal(np.concatenate(out, axis=1), whole)
    fx.reset()
    np.testing.assert_array_equal(fx.process(np.ascontiguousarray(stereo[:, :100])), whole[:, :100])


def test_state_restored_mid_stream_continues_exactly(Effect, stereo):
    fx = Effect(mix=0.7)
    fx.prepare(SR, 512, 2)
    fx.process(np.ascontiguousarray(stereo[:, :300]))
    state = fx.get_state()
    assert isinstance(state, bytes) and b"pickle" not in state
    first = fx.process(np.ascontiguousarray(stereo[:, 300:700])).copy()
    other = Effect()
    other.prepare(SR, 512, 2)
    other.set_state(state)
    assert other["mix"] == 0.7
    np.testing.assert_array_equal(other.process(np.ascontiguousarray(stereo[:, 300:700])), first)


def test_process_allocates_nothing_that_grows_with_the_block(Effect, stereo):
    fx = Effect()
    fx.prepare(SR, 4096, 2)
    small, big = np.ascontiguousarray(stereo[:, :16]), np.ascontiguousarray(stereo[:, :4096])
    fx.process(small), fx.process(big)

    def peak(block):
        tracemalloc.start()
        fx.process(block)
        _, top = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        return top

    assert peak(big) <= peak(small) + 512  # views only: no buffers per call
    assert peak(big) < 8192


def test_parameters_and_format_are_checked(Effect):
    with pytest.raises(ParameterError, match=r"'mix' must be in \[0.0, 1.0\]; got 2"):
        Effect(mix=2)
    with pytest.raises(ParameterError, match="no parameter 'drive'"):
        Effect()["drive"] = 1
    fx = Effect()
    with pytest.raises(ParameterError, match="prepare"):
        fx.process(np.zeros((2, 10), np.float32))
    with pytest.raises(
        ParameterError,
        match="effect: sample_rate must be a whole number of Hz from 22050 to 192000; got 16000",
    ):
        fx.prepare(16000, 512, 2)
    with pytest.raises(ParameterError, match="from 22050 to 192000; got 44100.5"):
        fx.prepare(44100.5, 512, 2)
    fx.prepare(SR, 64, 2)
    with pytest.raises(ParameterError, match=r"float32 \(2, frames <= 64\)"):
        fx.process(np.zeros((2, 65), np.float32))
    with pytest.raises(ParameterError, match="prepared as"):
        other = Effect()
        other.prepare(SR, 128, 2)
        other.set_state(fx.get_state())


def test_mix_and_gain(Effect, stereo):
    wet = Effect()(stereo, SR)
    np.testing.assert_allclose(Effect(mix=0.0)(stereo, SR), stereo, atol=1e-7)
    np.testing.assert_allclose(
        Effect(output_gain_db=-6.0)(stereo, SR), wet * 10 ** (-6 / 20), rtol=1e-5, atol=1e-7
    )


def test_cli_lists_plugins_and_renders_a_file_in_blocks(tmp_path, stereo):
    import subprocess

    import soundfile as sf

    r = subprocess.run([sys.executable, "-m", "cwrnn_audio", "plugins"], capture_output=True, text=True)
    assert r.returncode == 0 and "effect" in r.stdout and "mix [0..1]" in r.stdout
    sf.write(tmp_path / "in.wav", stereo.T, SR, subtype="FLOAT")
    r = subprocess.run(
        [
            sys.executable,
            "-m",
            "cwrnn_audio",
            "render",
            "effect",
            "-i",
            str(tmp_path / "in.wav"),
            "-o",
            str(tmp_path / "out.wav"),
            "--block",
            "333",
            "--param",
            "mix=0.5",
            "-q",
        ],
        capture_output=True,
        text=True,
    )
    assert r.returncode == 0, r.stderr
    out, sr = sf.read(str(tmp_path / "out.wav"), dtype="float32")
    expect = get_plugin("effect")(mix=0.5)(stereo, SR, buffer_size=333)
    assert sr == SR and out.shape == stereo.T.shape
    np.testing.assert_allclose(out.T, expect, atol=1.5 / 32768)  # default 16-bit output
    bad = subprocess.run(
        [
            sys.executable,
            "-m",
            "cwrnn_audio",
            "render",
            "nope",
            "-i",
            str(tmp_path / "in.wav"),
            "-o",
            str(tmp_path / "x.wav"),
        ],
        capture_output=True,
        text=True,
    )
    assert bad.returncode == 2 and "no plugin named 'nope'" in bad.stderr and "Traceback" not in bad.stderr
    assert not (tmp_path / "x.wav").exists()


def test_train_an_effect_from_file_pairs_and_render_with_it(tmp_path):
    import subprocess

    import soundfile as sf

    rng = np.random.default_rng(1)
    dry = (0.5 * rng.standard_normal(24000)).clip(-1, 1).astype(np.float32)
    sf.write(tmp_path / "dry.wav", dry, 24000, subtype="FLOAT")
    sf.write(tmp_path / "wet.wav", np.tanh(3 * dry) * 0.6, 24000, subtype="FLOAT")
    run = lambda *a: subprocess.run([sys.executable, "-m", "cwrnn_audio", *a], capture_output=True, text=True)  # noqa: E731

    def train(wet, out, *options):  # an effect from dry.wav and the processed files ``wet``, into ``out``
        return run(
            "train",
            "effect",
            "--dry",
            str(tmp_path / "dry.wav"),
            "--wet",
            *wet,
            "--out",
            str(tmp_path / out),
            *options,
        )

    r = train(
        [str(tmp_path / "wet.wav")],
        "fx",
        "--sample-rate",
        "24000",
        "--modules",
        "3",
        "--module-size",
        "8",
        "--epochs",
        "15",
        "--window",
        "64",
        "--batch",
        "4",
        "--lr",
        "1e-2",
        "-q",
    )
    assert r.returncode == 0, r.stderr
    fx = get_plugin("effect")(str(tmp_path / "fx"))
    y = fx(dry[None], 24000)[0]
    wet = np.tanh(3 * dry) * 0.6
    assert np.mean((y - wet) ** 2) < 0.2 * np.mean((dry - wet) ** 2)  # far closer than the dry signal
    r = train([str(tmp_path / "dry.wav"), str(tmp_path / "wet.wav")], "fx2")
    assert r.returncode == 2 and "as many processed files as dry ones" in r.stderr


def test_render_streams_in_constant_memory(tmp_path):
    import soundfile as sf

    from cwrnn_audio.cli.main import main

    seconds = 20
    sf.write(
        tmp_path / "long.wav",
        (0.3 * np.sin(np.arange(SR * seconds) / 9.0))[:, None].repeat(2, 1),
        SR,
        subtype="PCM_16",
    )
    main(
        ["render", "effect", "-i", str(tmp_path / "long.wav"), "-o", str(tmp_path / "o.wav"), "-q"]
    )  # compile, warm
    tracemalloc.start()
    assert (
        main(["render", "effect", "-i", str(tmp_path / "long.wav"), "-o", str(tmp_path / "o.wav"), "-q"]) == 0
    )
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    whole = SR * seconds * 2 * 4  # the file as float32
    assert peak < whole / 20, (peak, whole)
    assert sf.info(str(tmp_path / "o.wav")).frames == SR * seconds
