"""The harmonic codec: settings, pitch/loudness encoding of audio, the spectral training loss."""

import warnings

import numpy as np
import pytest
import torch

from cwrnn_audio import ParameterError
from cwrnn_audio.adapters.harmonic import HarmonicAdapter, f0_from_input, loudness_input
from cwrnn_audio.errors import ParameterTypeError
from cwrnn_audio.models.registry import codec_from_dict

SR = 16000


def small(**kw):
    return HarmonicAdapter(**{"sample_rate": SR, "frame_rate": 250, "n_harmonics": 8, "n_noise": 9, **kw})


def sine(hz, seconds, *, extra=0, amp=0.5):
    t = np.arange(int(seconds * SR) + extra) / SR
    return (amp * np.sin(2 * np.pi * hz * t)).astype(np.float32)[None]


@pytest.fixture(scope="module")
def encoded_sine():
    """A 1.5 s 330 Hz sine plus 10 samples (not a whole number of hops), encoded once (pYIN is slow)."""
    audio = sine(330.0, 1.5, extra=10)
    codec = small()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a steady sine is pitched throughout: no unvoiced warning
        inputs, targets = codec.encode(audio)
    return codec, audio, inputs, targets


# --- settings -------------------------------------------------------------------------------------


def test_settings_round_trip_through_the_codec_json():
    codec = HarmonicAdapter(sample_rate=22050, frame_rate=105, n_harmonics=12, n_noise=7)
    data = codec.to_dict()
    assert data == {
        "encoding": "harmonic",
        "sample_rate": 22050,
        "frame_rate": 105,
        "n_harmonics": 12,
        "n_noise": 7,
    }
    back = codec_from_dict(data)
    assert isinstance(back, HarmonicAdapter) and back.to_dict() == data
    assert back.hop == 22050 // 105 == 210
    assert back.step_rate == 105.0 and back.output_size == 1 + 12 + 7 and back.input_size == 2


def test_defaults_match_the_documented_sizes():
    codec = HarmonicAdapter()
    assert (codec.sample_rate, codec.frame_rate, codec.n_harmonics, codec.n_noise) == (16000, 250, 60, 65)
    assert codec.hop == 64 and codec.output_size == 126


@pytest.mark.parametrize(
    "kw, error, needle",
    [
        ({"frame_rate": 300}, ParameterError, "frame_rate"),  # 16000 / 300 is not whole
        ({"frame_rate": 32000}, ParameterError, "frame_rate"),  # above the sample rate
        ({"frame_rate": 0}, ParameterError, "frame_rate"),
        ({"frame_rate": 250.0}, ParameterTypeError, "frame_rate"),
        ({"frame_rate": "250"}, ParameterTypeError, "frame_rate"),
        ({"n_harmonics": 0}, ParameterError, "n_harmonics"),
        ({"n_harmonics": -3}, ParameterError, "n_harmonics"),
        ({"n_harmonics": "8"}, ParameterTypeError, "n_harmonics"),
        ({"n_harmonics": True}, ParameterTypeError, "n_harmonics"),
        ({"n_harmonics": 8.0}, ParameterTypeError, "n_harmonics"),
        ({"n_noise": 1}, ParameterError, "n_noise"),
        ({"n_noise": None}, ParameterTypeError, "n_noise"),
        ({"n_noise": [9]}, ParameterTypeError, "n_noise"),
    ],
)
def test_bad_settings_are_refused_naming_the_argument(kw, error, needle):
    with pytest.raises(error, match=needle) as info:
        small(**kw)
    assert repr(next(iter(kw.values()))) in str(info.value)  # the offending value is quoted


def test_numpy_integers_are_accepted():
    codec = small(frame_rate=np.int64(200), n_harmonics=np.int32(4), n_noise=np.int16(3))
    assert codec.to_dict()["frame_rate"] == 200 and type(codec.to_dict()["frame_rate"]) is int
    assert codec.hop == 80 and codec.output_size == 8


def test_bad_settings_in_json_are_refused_naming_the_argument():
    with pytest.raises(ParameterError, match="n_harmonics"):
        codec_from_dict({"encoding": "harmonic", "sample_rate": SR, "n_harmonics": "many"})
    with pytest.raises(ParameterError, match="frame_rate"):
        codec_from_dict({"encoding": "harmonic", "sample_rate": SR, "frame_rate": 7})


# --- encoding -------------------------------------------------------------------------------------


def test_encode_shapes_and_targets_are_the_audio(encoded_sine):
    codec, audio, inputs, targets = encoded_sine
    T = audio.shape[1] // codec.hop
    assert T == 375
    assert inputs.shape == (1, T, 2) and inputs.dtype == np.float32
    assert targets.shape == (1, T, codec.hop) and targets.dtype == np.float32
    np.testing.assert_array_equal(targets.reshape(1, -1), audio[:, : T * codec.hop])
    np.testing.assert_array_equal(codec.decode(targets), audio[:, : T * codec.hop])
    assert np.isfinite(inputs).all()


def test_encoded_pitch_is_the_sine_within_ten_cents(encoded_sine):
    _, _, inputs, _ = encoded_sine
    f0 = f0_from_input(inputs[0, :, 0].astype(np.float64))
    cents = 1200 * np.log2(f0 / 330.0)
    steady = cents[10:-10]  # away from the clip's edges
    assert np.abs(steady).max() < 10, np.abs(steady).max()


def test_encoded_loudness_is_steady_and_well_above_the_floor(encoded_sine):
    _, _, inputs, _ = encoded_sine
    loud = inputs[0, 10:-10, 1]
    assert (loud > loudness_input(-40.0)).all()  # a 0.5-amplitude sine is far from silence
    assert loud.max() - loud.min() < 0.05  # a steady tone: under 4 dB of variation


def test_playback_settings_give_the_pitch_range_of_sounding_frames(encoded_sine):
    codec, audio, inputs, targets = encoded_sine
    lo, hi = codec.playback_settings([(inputs[0], targets[0])])["pitch_range"]
    assert 320 < lo <= hi < 340
    # frames quieter than -60 dB do not count; none sounding -> no range
    quiet = codec.controls(np.full(20, 1000.0), np.full(20, -80.0))
    mixed = codec.controls(
        np.r_[np.full(20, 200.0), np.full(20, 5000.0)], np.r_[np.full(20, -20.0), np.full(20, -80.0)]
    )
    assert codec.playback_settings([(quiet, None)]) == {}
    lo, hi = codec.playback_settings([(mixed, None), (quiet, None)])["pitch_range"]
    assert lo == pytest.approx(200.0, abs=0.01) and hi == pytest.approx(200.0, abs=0.01)


def test_controls_scale_pitch_and_loudness():
    codec = small()
    x = codec.controls(np.array([440.0, 880.0, 110.0]), np.array([-80.0, 0.0, -40.0]))
    assert x.shape == (3, 2) and x.dtype == np.float32
    np.testing.assert_allclose(x[:, 0], [0.0, 0.25, -0.5])
    np.testing.assert_allclose(x[:, 1], [0.0, 1.0, 0.5])
    np.testing.assert_allclose(f0_from_input(x[:, 0]), [440.0, 880.0, 110.0], rtol=1e-6)


def test_silence_is_refused():
    with pytest.raises(ParameterError, match="silent"):
        small().encode(np.zeros((1, SR), np.float32))


def test_audio_shorter_than_a_hop_is_refused():
    with pytest.raises(ParameterError, match="hop"):
        small().encode(sine(330.0, 0.0, extra=10))


def test_unpitched_noise_warns_about_frames_without_pitch():
    noise = np.random.default_rng(0).uniform(-0.5, 0.5, (1, SR)).astype(np.float32)
    with pytest.warns(UserWarning, match=r"\d+% of the frames have no pitch") as record:
        small().encode(noise)
    (w,) = [w for w in record if "no pitch" in str(w.message)]
    assert int(str(w.message).split("%")[0]) > 50
    assert w.filename == __file__  # the warning points at the caller of encode


def test_harmonic_codec_does_not_generate_by_itself():
    with pytest.raises(ParameterError, match="render"):
        small().run(None, None, 10, np.random.default_rng(0))


# --- synthesis parameters and the loss -------------------------------------------------------------


def test_synth_params_are_positive_and_agree_between_numpy_and_torch(rng):
    codec = small()
    out = (3 * rng.standard_normal((4, 7, codec.output_size))).astype(np.float32)
    amp, harm, noise = codec.synth_params(out)
    assert amp.shape == (4, 7) and harm.shape == (4, 7, 8) and noise.shape == (4, 7, 9)
    for p in (amp, harm, noise):
        assert isinstance(p, np.ndarray) and (p > 0).all() and (p <= 2 + 1e-6).all()
    t_amp, t_harm, t_noise = codec.synth_params(torch.from_numpy(out))
    for a, b in ((amp, t_amp), (harm, t_harm), (noise, t_noise)):
        assert isinstance(b, torch.Tensor)
        np.testing.assert_allclose(b.numpy(), a, rtol=1e-5, atol=1e-9)
    # noise starts low: a zero logit gives far less noise than harmonic weight
    a0, h0, n0 = codec.synth_params(np.zeros(codec.output_size, np.float32))
    assert n0.max() < 1e-3 < h0.min()


def loss_batch(codec, seed, B=2, T=40):
    g = torch.Generator().manual_seed(seed)
    out = torch.randn(B, T, codec.output_size, generator=g)
    inputs = torch.stack([torch.full((B, T), 0.1), torch.full((B, T), 0.7)], -1)  # ~490 Hz, -24 dB
    t = torch.arange(T * codec.hop) / codec.sample_rate
    target = 0.3 * torch.sin(2 * np.pi * 490 * t) + 0.01 * torch.randn(B, T * codec.hop, generator=g)
    return out, target.reshape(B, T, codec.hop).float(), inputs


def test_loss_is_a_finite_scalar_with_gradients_to_every_output():
    codec = small()
    loss_fn = codec.loss_function()
    assert callable(loss_fn)
    out, target, inputs = loss_batch(codec, 0)
    out.requires_grad_(True)
    loss = loss_fn(out, target, inputs)
    assert isinstance(loss, torch.Tensor) and loss.shape == () and torch.isfinite(loss)
    loss.backward()
    g = out.grad
    assert g is not None and torch.isfinite(g).all()
    assert g[..., 0].abs().sum() > 0  # amplitude
    assert g[..., 1 : 1 + codec.n_harmonics].abs().sum() > 0  # harmonic weights
    assert g[..., 1 + codec.n_harmonics :].abs().sum() > 0  # noise bands


def test_the_same_batch_gives_the_same_loss_whatever_the_global_rng():
    codec = small()
    out, target, inputs = loss_batch(codec, 1)
    torch.manual_seed(123)
    first = codec.loss_function()(out, target, inputs)
    torch.manual_seed(456)
    torch.rand(1000)
    second = codec.loss_function()(out, target, inputs)
    assert first.item() == second.item()


def test_loss_does_not_change_its_arguments():
    codec = small()
    out, target, inputs = loss_batch(codec, 2)
    copies = [t.clone() for t in (out, target, inputs)]
    codec.loss_function()(out, target, inputs)
    for a, b in zip((out, target, inputs), copies):
        assert torch.equal(a, b)


def test_the_share_of_frames_without_pitch_is_reported_for_the_training_log():
    sr = 16000
    t = np.arange(sr) / sr
    half = np.concatenate([0.5 * np.sin(2 * np.pi * 330 * t), np.zeros(sr)]).astype(np.float32)
    codec = HarmonicAdapter(sample_rate=sr)
    codec.encode(half[None])
    ((frames, share),) = codec.unvoiced
    assert frames == 2 * sr // codec.hop and 0.4 < share < 0.6
    assert f"{share:.1%} of {frames} frames without a pitch" in codec.report()
