"""Every built-in plugin at the rates hosts run: block-size invariance, exact state restore,
latency, agreement with the model's own rate, and no compilation inside ``process``."""

import subprocess
import sys

import numpy as np
import pytest

import cwrnn_audio_samples
from cwrnn_audio import ParameterError
from cwrnn_audio.plugin import get_plugin

RATES = (44100, 48000, 96000)
SIZES = (1, 64, 4096)


def music(rate, seconds=0.25, channels=2):
    """The same band-limited multi-tone piece evaluated at any rate (no resampler involved)."""
    rng = np.random.default_rng(3)
    freqs, amps, phases = rng.uniform(60, 8000, 24), rng.uniform(0.01, 0.08, 24), rng.uniform(0, 6.3, 24)
    t = np.arange(int(rate * seconds)) / rate
    x = (0.5 + 0.5 * np.sin(2 * np.pi * 1.5 * t)) * np.sum(
        amps[:, None] * np.sin(2 * np.pi * freqs[:, None] * t + phases[:, None]), 0
    )
    return np.stack([x, 0.5 * x[::-1]][:channels]).astype(np.float32)


def run_effect(rate, size, x, fx=None):
    fx = fx or get_plugin("effect")(mix=0.7)
    fx.prepare(rate, size, x.shape[0])
    return np.concatenate(
        [fx.process(np.ascontiguousarray(x[:, i : i + size])).copy() for i in range(0, x.shape[1], size)], 1
    )


@pytest.fixture(scope="module")
def run_generator(notes_to_events):
    """Three overlapping notes, in seconds, through a generator at ``rate`` in blocks of ``size``."""
    score = notes_to_events((0.002, 0.05, 60, 100), (0.02, 0.09, 64, 80), (0.07, 0.1, 67, 127))

    def run(rate, size, frames, g=None):
        g = g or get_plugin("generator")(polyphony=3, release_ms=20.0)
        g.prepare(rate, size, 2)
        events = [(int(s * rate), *rest) for s, *rest in score]
        out = []
        for i in range(0, frames, size):
            n = min(size, frames - i)
            out.append(g.process_midi([(t - i, *r) for t, *r in events if i <= t < i + n], n).copy())
        return np.concatenate(out, 1)

    return run


PLAYED = [
    (0.0, "note_on", 60, 90),
    (0.3, "note_off", 60, 0),
    (0.3, "note_on", 64, 90),
    (0.6, "note_off", 64, 0),
]


def run_continuator(rate, size, seconds=1.5):
    c = get_plugin("continuator")(wait_s=0.1, bars=1)
    c.prepare(rate, size, 1)
    events = [(int(s * rate), *rest) for s, *rest in PLAYED]
    out, total = [], int(seconds * rate)
    for i in range(0, total, size):
        n = min(size, total - i)
        got = c.process_midi([(t - i, *r) for t, *r in events if i <= t < i + n], n)
        out += [(i + e.offset, e.type, e.note, e.velocity) for e in got]
    return out


@pytest.mark.parametrize("rate", RATES)
def test_effect_block_sizes_give_identical_output_at_every_rate(rate):
    x = music(rate, 0.1)
    outs = [run_effect(rate, n, x) for n in SIZES]
    for o in outs[1:]:
        np.testing.assert_array_equal(o, outs[0])
    assert np.sqrt(np.mean(outs[0] ** 2)) > 0.05


@pytest.mark.parametrize("rate", RATES)
def test_generator_block_sizes_give_identical_output_at_every_rate(rate, run_generator):
    frames = int(0.15 * rate)
    outs = [run_generator(rate, n, frames) for n in SIZES]
    for o in outs[1:]:
        np.testing.assert_array_equal(o, outs[0])
    assert np.sqrt(np.mean(outs[0][0] ** 2)) > 0.01


def test_continuator_block_sizes_give_identical_answers_at_every_rate():
    in_seconds = set()
    for rate in RATES:
        answers = [run_continuator(rate, n) for n in SIZES]
        assert answers[0] and all(a == answers[0] for a in answers[1:])
        assert min(t for t, *_ in answers[0]) >= int(0.7 * rate)  # wait_s after the last note-off
        in_seconds.add(tuple((round(t / rate, 3), *rest) for t, *rest in answers[0]))
    assert len(in_seconds) == 1  # its clock runs in seconds: the same answer at every rate


def test_effect_at_44k1_and_96k_matches_its_48k_output_resampled():
    """The model runs at 48 kHz inside; soxr (an independent resampler) brings the 48 kHz
    output to the host rate. Stated tolerance: 2% RMS at 44.1 kHz, 1% at 96 kHz (measured
    0.9% and 0.15%: the model hears its input on a grid offset by a fraction of a sample)."""
    import soxr

    ref48 = get_plugin("effect")()(music(48000, 1.0, 1), 48000)[0]
    for rate, tol in ((44100, 0.02), (96000, 0.01)):
        fx = get_plugin("effect")()
        y = fx(music(rate, 1.0, 1), rate)[0]  # whole-buffer call: latency compensated
        assert fx.latency_samples > 0
        ref = soxr.resample(ref48, 48000, rate, quality="VHQ")
        n, edge = min(ref.size, y.size), int(0.05 * rate)
        err = y[edge : n - edge] - ref[edge : n - edge]
        assert np.sqrt(np.mean(err**2) / np.mean(ref[edge : n - edge] ** 2)) < tol, rate


@pytest.mark.parametrize("name", ["effect", "generator"])
def test_state_restored_mid_stream_at_44k1_continues_exactly(name):
    rate, x = 44100, music(44100, 0.1)

    def make():
        p = get_plugin(name)(polyphony=3) if name == "generator" else get_plugin(name)(mix=0.6)
        p.prepare(rate, 512, 2)
        return p

    def step(p, i):  # 300 frames: three note-ons for the generator, the piece for the effect
        if name == "generator":
            return p.process_midi([(0, "note_on", 60 + i, 100)] if i < 3 else [], 300)
        return p.process(np.ascontiguousarray(x[:, i * 300 : (i + 1) * 300]))

    p = make()
    for i in range(5):
        step(p, i)
    state = p.get_state()
    first = [step(p, i).copy() for i in range(5, 9)]
    q = make()
    q.set_state(state)
    for i, f in zip(range(5, 9), first):
        np.testing.assert_array_equal(step(q, i), f)
    assert np.abs(np.concatenate(first, 1)).max() > 0.01


def test_continuator_state_restored_mid_stream_at_44k1():
    rate = 44100
    c = get_plugin("continuator")(wait_s=0.1, bars=1)
    c.prepare(rate, 4410, 1)
    events = [(int(s * rate), *rest) for s, *rest in PLAYED]
    for i in range(0, int(0.65 * rate), 4410):
        c.process_midi([(t - i, *r) for t, *r in events if i <= t < i + 4410], 4410)
    state = c.get_state()
    rest = [c.process_midi([], 4410) for _ in range(10)]
    d = get_plugin("continuator")(wait_s=0.1, bars=1)
    d.prepare(rate, 4410, 1)
    d.set_state(state)
    assert [d.process_midi([], 4410) for _ in range(10)] == rest and any(rest)


def test_whole_buffer_call_compensates_latency_and_streaming_does_not():
    rate, x = 44100, music(44100, 0.1)
    fx = get_plugin("effect")()
    whole = fx(x, rate, buffer_size=256)
    lat = fx.latency_samples
    fx.reset()
    streamed = fx(x, rate, buffer_size=256, reset=False)  # a host's view: delayed by the latency
    assert whole.shape == x.shape and lat > 0
    np.testing.assert_array_equal(whole[:, : x.shape[1] - lat], streamed[:, lat:])


def test_rate_changes_between_prepare_calls():
    fx = get_plugin("effect")(mix=0.7)
    x48, x44 = music(48000, 0.05), music(44100, 0.05)
    run_effect(48000, 128, x48, fx)
    np.testing.assert_array_equal(run_effect(44100, 128, x44, fx), run_effect(44100, 128, x44))
    assert fx.latency_samples > 0
    run_effect(48000, 128, x48, fx)
    assert fx.latency_samples == 0
    fx.prepare(88200.0, 64, 2)  # hosts pass floats
    assert fx.prepared == (88200, 64, 2)


@pytest.mark.parametrize("name", ["effect", "generator"])
def test_process_never_compiles(name):
    from cwrnn_audio.kernels import forward, resample, sample

    kernels = [
        forward.forward_kernel,
        resample.resample_kernel,
        sample.sample_voices_kernel,
        sample.mix_voices_kernel,
    ]
    p = get_plugin(name)()
    p.prepare(44100, 700, 2)
    before = [len(k.signatures) for k in kernels]
    for n in (0, 1, 2, 699, 700, 37):
        p.process(np.full((2, n), 0.1, np.float32))
    assert [len(k.signatures) for k in kernels] == before


@pytest.mark.parametrize("name", ["effect", "generator", "continuator"])
def test_a_rate_outside_the_range_is_refused_naming_it_and_the_range(name):
    p = get_plugin(name)()
    for bad in (8000, 384000):
        with pytest.raises(
            ParameterError,
            match=rf"{name}: sample_rate must be a whole number of Hz from 22050 to 192000; got {bad}",
        ):
            p.prepare(bad, 512, 1)


def test_render_cli_takes_a_44k1_flac_and_writes_it_at_44k1_aligned(tmp_path):
    import soundfile as sf

    clip, rate = sf.read(
        str(cwrnn_audio_samples.path("bach_prelude_fluidr3.flac")), dtype="float32", frames=44100
    )
    assert rate == 44100
    sf.write(tmp_path / "in.flac", clip, rate, subtype="PCM_16")
    r = subprocess.run(
        [
            sys.executable,
            "-W",
            "error",
            "-m",
            "cwrnn_audio",
            "render",
            "effect",
            "-i",
            str(tmp_path / "in.flac"),
            "-o",
            str(tmp_path / "out.flac"),
            "--block",
            "333",
            "-q",
        ],
        capture_output=True,
        text=True,
    )
    assert r.returncode == 0 and not r.stderr, r.stderr  # no warning noise about the rate
    out, out_rate = sf.read(str(tmp_path / "out.flac"), dtype="float32")
    x, _ = sf.read(str(tmp_path / "in.flac"), dtype="float32")
    assert out_rate == 44100 and out.shape == x.shape
    # the whole-buffer call, whose alignment the 48 kHz comparison above checks independently
    expect = get_plugin("effect")()(x[None], 44100, buffer_size=333)[0]
    np.testing.assert_allclose(out, expect, atol=1.5 / 32768)
