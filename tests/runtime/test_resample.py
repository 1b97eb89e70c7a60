"""The streaming resampler against signals whose resampled values are known exactly."""

import numpy as np
import pytest

from cwrnn_audio import ParameterError
from cwrnn_audio.runtime.resample import StreamResampler, host_to_model, model_to_host, valid_rate

PAIRS = [(44100, 48000), (48000, 44100), (96000, 48000), (48000, 96000), (22050, 48000), (16000, 44100)]


def tone(freq, rate, n, delay=0.0):
    return (0.5 * np.sin(2 * np.pi * freq * (np.arange(n) - delay) / rate)).astype(np.float32)


def stream(r, x, sizes):
    """Feed ``x`` (C, n) in blocks of ``sizes`` (cycled), collecting every ready output."""
    out, pos, i = [], 0, 0
    buf = np.zeros((x.shape[0], r.max_out(r.max_in)), np.float32)
    while pos < x.shape[1]:
        n = min(sizes[i % len(sizes)], x.shape[1] - pos)
        k = r.ready(r.n_in + n) - r.n_out
        out.append(r.process(np.ascontiguousarray(x[:, pos : pos + n]), n, buf, k).copy())
        pos, i = pos + n, i + 1
    return np.concatenate(out, axis=1)


@pytest.mark.parametrize("fin,fout", PAIRS)
def test_a_tone_in_the_pass_band_comes_out_as_the_same_tone_delayed_by_the_stated_delay(fin, fout):
    f = 0.3 * min(fin, fout)  # well inside the pass band
    r = StreamResampler(fin, fout, 1, 4096)
    y = stream(r, tone(f, fin, fin)[None], [4096])[0]
    delay = r.delay / (r.fine_rate / fout)  # output samples, may be fractional
    expect = tone(f, fout, y.size, delay)
    settle = int(2 * delay) + 8
    assert np.max(np.abs(y[settle:] - expect[settle:])) < 2e-4


@pytest.mark.parametrize("fin,fout", [(48000, 44100), (96000, 48000)])
def test_a_tone_above_the_lower_nyquist_is_removed(fin, fout):
    f = 0.5 * min(fin, fout) + 1000.0  # would alias into the audible band
    r = StreamResampler(fin, fout, 1, 8192)
    y = stream(r, tone(f, fin, fin)[None], [8192])[0]
    assert np.sqrt(np.mean(y[2000:] ** 2)) < 0.5 * 10 ** (-70 / 20)  # 70 dB down


@pytest.mark.parametrize("fin,fout", PAIRS[:3])
def test_any_split_into_blocks_gives_the_same_samples(fin, fout, rng):
    x = rng.standard_normal((2, 5000)).astype(np.float32)
    whole = stream(StreamResampler(fin, fout, 2, 5000), x, [5000])
    for sizes in ([1], [64], rng.integers(1, 700, 50).tolist()):
        np.testing.assert_array_equal(stream(StreamResampler(fin, fout, 2, 5000), x, sizes), whole)


def test_state_round_trip_continues_exactly(rng):
    x = rng.standard_normal((1, 3000)).astype(np.float32)
    a = StreamResampler(44100, 48000, 1, 3000)
    stream(a, x[:, :1234], [100])
    state = a.state_arrays("r.")
    rest = stream(a, x[:, 1234:], [77])
    b = StreamResampler(44100, 48000, 1, 3000)
    b.load_state_arrays({k: v.copy() for k, v in state.items()}, "r.")
    np.testing.assert_array_equal(stream(b, x[:, 1234:], [500]), rest)


@pytest.mark.parametrize("host", [22050, 44100, 48000, 88200, 96000, 192000])
def test_round_trip_latency_is_exact_in_host_samples(host):
    into, back, latency = host_to_model(host, 48000, 1, 1024)
    x = tone(0.15 * host if host < 48000 else 3000.0, host, host // 2)[None]
    mid = np.zeros((1, into.max_out(1024)), np.float32)
    out = np.zeros((1, 1024), np.float32)
    y = []
    for i in range(0, x.shape[1], 1024):
        n = min(1024, x.shape[1] - i)
        k = into.ready(into.n_in + n) - into.n_out
        into.process(np.ascontiguousarray(x[:, i : i + n]), n, mid, k)
        y.append(back.process(mid, k, out, n).copy())  # exactly n host frames per block
    y = np.concatenate(y, axis=1)[0]
    expect = np.concatenate([np.zeros(latency, np.float32), x[0, : x.shape[1] - latency]])
    settle = 3 * latency + 8
    assert np.max(np.abs(y[settle:] - expect[settle:])) < 3e-4
    if host == 48000:
        assert latency == 0 and into.identity


def test_model_to_host_latency_is_whole_frames_and_exact():
    back, latency = model_to_host(16000, 44100, 1, 16000)
    x = tone(1000.0, 16000, 16000)[None]
    need = ((44100 - 1) * back.M + back.advance) // back.L + 1  # the model samples 44100 frames read
    assert need <= 16000
    y = back.process(x, need, np.zeros((1, 44100), np.float32), 44100)[0]
    expect = tone(1000.0, 44100, 44100, latency)
    assert np.max(np.abs(y[400:] - expect[400:])) < 2e-4


def test_rates_are_checked():
    assert valid_rate(44100.0) == 44100
    for bad in (16000, 400000, 44100.5, "44100", True, None):
        with pytest.raises(ParameterError, match="sample_rate"):
            valid_rate(bad)
