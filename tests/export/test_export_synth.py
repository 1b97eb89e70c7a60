"""The TorchScript synthesizer (what exported instruments play) against the Numba kernel it ports."""

import io
import json

import numpy as np
import pytest
import torch

import cwrnn_audio_samples
from cwrnn_audio.errors import ParameterError, ParameterTypeError
from cwrnn_audio.export.synth import TorchSynth, sines
from cwrnn_audio.kernels.harmonic import HarmonicSynth

TOL = 2e-5


def flute_sizes():
    """(sample_rate, hop, n_harmonics, n_noise) of the bundled instrument's codec."""
    with open(cwrnn_audio_samples.path("models") / "flute_harmonic" / "adapter.json") as f:
        codec = json.load(f)
    rate, frame_rate = codec["sample_rate"], codec["frame_rate"]
    assert rate % frame_rate == 0
    return rate, rate // frame_rate, codec["n_harmonics"], codec["n_noise"]


SIZES = {
    "small": (16000, 64, 20, 17),
    "odd": (8000, 7, 5, 3),  # hop below the noise FIR and not a power of 2
    "long_hop": (8000, 100, 8, 3),  # a frame's convolution longer than its FFT's spare room
    "flute": flute_sizes(),
}


@pytest.fixture(params=sorted(SIZES))
def sizes(request):
    return SIZES[request.param]


def random_inputs(rng, V, T, sizes, f0_high=False):
    """Frames whose f0 sweeps across the range where the upper harmonics cross Nyquist (and, with
    ``f0_high``, past Nyquist itself, where no harmonic is left)."""
    rate, hop, N, K = sizes
    nyquist = rate / 2
    f0 = rng.uniform(nyquist / N / 2, nyquist / 3, size=(V, T))
    f0[:, T // 2 :] = rng.uniform(30.0, nyquist * (1.5 if f0_high else 0.9), size=(V, T - T // 2))
    f0[0, 3] = nyquist / 4  # harmonic 4 exactly at Nyquist: dropped
    return dict(
        f0=f0.astype(np.float32),
        amplitude=rng.uniform(0.0, 1.0, size=(V, T)).astype(np.float32),
        harmonics=(rng.uniform(0.0, 1.0, size=(V, T, N)) ** 3).astype(np.float32),
        noise=rng.uniform(0.0, 0.3, size=(V, T, K)).astype(np.float32),
        u=rng.uniform(-1.0, 1.0, size=(V, T * hop)).astype(np.float32),
    )


def scripted(sizes, voices):
    synth = torch.jit.script(TorchSynth(*sizes))
    synth.reset_voices(voices)
    return synth


def run(synth, x, calls):
    """``x``'s frames through the scripted ``synth`` in calls of ``calls`` frames (then the rest)."""
    T = x["f0"].shape[1]
    hop = x["u"].shape[1] // max(T, 1)
    cuts = np.minimum(np.cumsum([0, *calls, T]), T)
    parts = []
    for a, b in zip(cuts[:-1], cuts[1:]):
        frames = [
            torch.from_numpy(np.ascontiguousarray(x[k][:, a:b]))
            for k in ("f0", "amplitude", "harmonics", "noise")
        ]
        u = torch.from_numpy(np.ascontiguousarray(x["u"][:, a * hop : b * hop]))
        out = synth.process(*frames, u)
        assert out.dtype == torch.float32 and out.shape == (x["f0"].shape[0], (b - a) * hop)
        parts.append(out.numpy())
    return np.concatenate(parts, 1)


def kernel(sizes, x):
    ref = HarmonicSynth(*sizes, voices=x["f0"].shape[0])
    return ref.process(x["f0"], x["amplitude"], x["harmonics"], x["noise"], x["u"]), ref.state


@pytest.mark.parametrize("calls", [[1, 0, 7, 1, 0], [13], [2, 3, 5, 8]])
def test_matches_kernel_across_calls(rng, sizes, calls):
    x = random_inputs(rng, 3, 30, sizes, f0_high=True)
    expected, state = kernel(sizes, x)
    synth = scripted(sizes, 3)
    got = run(synth, x, calls)
    assert np.abs(expected).max() > 0.1
    np.testing.assert_allclose(got, expected, rtol=0, atol=TOL)
    # the state left for the next call is the kernel's
    np.testing.assert_allclose(synth.phase.numpy(), state.phase, rtol=0, atol=1e-9)
    np.testing.assert_allclose(synth.tail.numpy(), state.tail, rtol=0, atol=1e-9)
    N = sizes[2]
    np.testing.assert_allclose(synth.prev_c.numpy(), state.prev_c[:, :N], rtol=0, atol=1e-6)


def test_noise_only(rng, sizes):
    x = random_inputs(rng, 2, 20, sizes)
    x["amplitude"][:] = 0
    expected, _ = kernel(sizes, x)
    got = run(scripted(sizes, 2), x, [1, 4])
    assert np.abs(expected).max() > 1e-3  # the noise alone is audible
    np.testing.assert_allclose(got, expected, rtol=0, atol=TOL)


def test_all_harmonics_above_nyquist_leave_noise_only(rng):
    sizes = SIZES["small"]
    x = random_inputs(rng, 2, 12, sizes)
    x["f0"][:] = sizes[0] / 2 * 1.01  # even the fundamental is above Nyquist
    expected, _ = kernel(sizes, x)
    got = run(scripted(sizes, 2), x, [5])
    np.testing.assert_allclose(got, expected, rtol=0, atol=TOL)
    x["amplitude"][:] = 0
    np.testing.assert_allclose(got, run(scripted(sizes, 2), x, [5]), rtol=0, atol=1e-6)


def test_saved_file_keeps_state_and_reset_voices_starts_over(rng):
    sizes = SIZES["small"]
    x = random_inputs(rng, 2, 16, sizes)
    expected, _ = kernel(sizes, x)
    hop = sizes[1]
    first = {k: v[:, :6] for k, v in x.items() if k != "u"}
    rest = {k: v[:, 6:] for k, v in x.items() if k != "u"}
    first["u"], rest["u"] = x["u"][:, : 6 * hop], x["u"][:, 6 * hop :]
    synth = scripted(sizes, 2)
    head = run(synth, first, [])
    buffer = io.BytesIO()
    torch.jit.save(synth, buffer)
    buffer.seek(0)
    loaded = torch.jit.load(buffer)
    got = np.concatenate([head, run(loaded, rest, [])], 1)
    np.testing.assert_allclose(got, expected, rtol=0, atol=TOL)
    loaded.reset_voices(2)
    np.testing.assert_allclose(run(loaded, x, [3]), expected, rtol=0, atol=TOL)


def test_sines_by_doubling_match_sin():
    x = torch.linspace(0, 2 * np.pi, 1001, dtype=torch.float64).reshape(7, 11, 13)
    for n in (1, 2, 5, 60, 64):
        k = torch.arange(1, n + 1, dtype=torch.float64).reshape(n, 1, 1, 1)
        torch.testing.assert_close(sines(x, n), torch.sin(k * x), rtol=0, atol=1e-12)


def test_wrong_shapes_are_refused():
    synth = scripted(SIZES["small"], 2)
    f0 = torch.full((2, 3), 200.0)
    ok = dict(
        amplitude=torch.ones(2, 3),
        harmonics=torch.ones(2, 3, 20),
        noise=torch.ones(2, 3, 17),
        u=torch.zeros(2, 192),
    )
    with pytest.raises(torch.jit.Error, match=r"f0 must have shape \[2, frames\]; got \[3, 3\]"):
        synth.process(torch.full((3, 3), 200.0), **ok)
    with pytest.raises(torch.jit.Error, match=r"harmonics must have shape \[2, 3, 20\]; got \[2, 3, 19\]"):
        synth.process(f0, **{**ok, "harmonics": torch.ones(2, 3, 19)})
    with pytest.raises(torch.jit.Error, match=r"u must have shape \[2, 192\]"):
        synth.process(f0, **{**ok, "u": torch.zeros(2, 191)})


def test_constructor_checks_its_sizes():
    with pytest.raises(ParameterError, match="n_noise must be an integer >= 2; got 1"):
        TorchSynth(16000, 64, 20, 1)
    with pytest.raises(ParameterTypeError, match="hop must be an integer >= 1; got 64.0"):
        TorchSynth(16000, 64.0, 20, 17)
