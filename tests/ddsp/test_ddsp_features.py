"""DDSP frame features: pitch, voicing and A-weighted loudness of synthetic signals with known answers."""

import numpy as np
import pytest

from cwrnn_audio.ddsp.features import UNVOICED_F0_HZ, frame_features
from cwrnn_audio.errors import ParameterError, ParameterTypeError

SR = 16000
# pYIN's cost grows with frames x pitch bins: a narrow range and 100 frames/s keep the tests quick
FAST = dict(sample_rate=SR, frame_rate=100, fmin=80.0, fmax=1200.0)


def tone(freq, seconds=2.0, amp=0.5):
    t = np.arange(int(SR * seconds)) / SR
    return (amp * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def cents(a, b):
    return 1200 * np.log2(a / b)


def steady(x):
    """Frames away from the edges, where the window sees only the tone."""
    return x[10:-10]


@pytest.fixture(scope="module")
def a440():
    return frame_features(tone(440), **FAST)


@pytest.mark.parametrize("freq", [220.0, 440.0])
def test_pitch_of_a_sine(freq, a440):
    feats = a440 if freq == 440.0 else frame_features(tone(freq), **FAST)
    assert feats.voiced.mean() >= 0.9
    assert feats.unvoiced_share == pytest.approx(1 - feats.voiced.mean())
    assert abs(cents(np.median(feats.f0_hz[feats.voiced]), freq)) < 10
    for a in (feats.f0_hz, feats.voiced_prob, feats.loudness_db):
        assert a.dtype == np.float32 and a.shape == (feats.frames,)
    assert feats.voiced.dtype == bool


def test_halving_amplitude_lowers_loudness_6db(a440):
    half = frame_features(tone(440, amp=0.25), **FAST)
    drop = steady(a440.loudness_db) - steady(half.loudness_db)
    assert np.allclose(drop, 20 * np.log10(2), atol=0.1)


def test_loudness_is_a_weighted():
    import librosa

    hi = frame_features(tone(1000), **FAST)
    lo = frame_features(tone(100), **FAST)
    want = float(np.diff(librosa.A_weighting(np.array([100.0, 1000.0])))[0])  # ~19.1 dB
    got = np.median(steady(hi.loudness_db)) - np.median(steady(lo.loudness_db))
    assert got == pytest.approx(want, abs=1.0)
    # level: the A-weighted mean square, so a 1 kHz sine of amplitude 0.5 reads 20 log10(0.5 / sqrt 2)
    assert np.median(steady(hi.loudness_db)) == pytest.approx(20 * np.log10(0.5 / np.sqrt(2)), abs=0.1)


def test_half_silence_half_tone():
    x = tone(440)
    x[:SR] = 0
    feats = frame_features(x, **FAST)
    assert feats.unvoiced_share == pytest.approx(0.5, abs=0.05)
    assert np.isfinite(feats.f0_hz).all()
    # the silent half holds the first voiced frame's f0: no jump, no zero
    first = np.flatnonzero(feats.voiced)[0]
    assert np.all(feats.f0_hz[:first] == feats.f0_hz[first])
    assert abs(cents(np.median(feats.f0_hz), 440)) < 10
    assert np.abs(np.diff(cents(feats.f0_hz[1:], feats.f0_hz[:-1]))).max() < 100  # continuous
    assert feats.loudness_db[: first - 10].max() == -100.0  # silent frames at the floor


def test_gaps_are_interpolated():
    x = np.concatenate([tone(200, 0.5), np.zeros(SR // 2, np.float32), tone(400, 0.5)])
    feats = frame_features(x, **FAST)
    gap = np.flatnonzero(~feats.voiced)
    inside = gap[(gap > np.flatnonzero(feats.voiced)[0]) & (gap < np.flatnonzero(feats.voiced)[-1])]
    assert inside.size > 20
    lo, hi = feats.f0_hz[inside[0] - 1], feats.f0_hz[inside[-1] + 1]
    assert np.all(np.diff(feats.f0_hz[inside[0] - 1 : inside[-1] + 2]) > 0)  # a ramp between the two
    assert abs(cents(lo, 200)) < 50 and abs(cents(hi, 400)) < 50


@pytest.mark.parametrize("length", [1, 159, 160, 161, 1600, 1601])
def test_frame_count_covers_the_audio(length):
    x = tone(300, seconds=1.0)[:length] if length > 1 else np.array([0.5], np.float32)
    feats = frame_features(x, **FAST)
    hop = SR // 100
    assert feats.hop == hop and feats.sample_rate == SR
    assert feats.frames == -(-length // hop)  # ceil: frames * hop >= length > (frames - 1) * hop
    assert feats.frames * hop >= length > (feats.frames - 1) * hop


def test_frame_i_is_centred_on_the_synthesizers_sample():
    # frame i is centred on sample (i + 1) * hop - 1; an impulse there is loudest in frame i, and
    # the Hann window weighs it equally one frame before and after
    hop = SR // 100
    x = np.zeros(SR // 4, np.float32)
    x[5 * hop - 1] = 0.5
    loud = frame_features(x, **FAST).loudness_db
    assert np.argmax(loud) == 4
    assert loud[3] == pytest.approx(loud[5], abs=1e-3) and loud[3] < loud[4]


def test_default_frame_rate_and_shapes():
    feats = frame_features(tone(300, seconds=0.1)[None, :], sample_rate=SR)  # (1, F) accepted
    assert feats.hop == 64 and feats.frames == 25


def test_no_voiced_frame_gets_the_constant():
    rng = np.random.default_rng(0)
    x = (0.3 * rng.standard_normal(SR // 2)).astype(np.float32)
    feats = frame_features(x, **FAST)
    if not feats.voiced.any():
        assert np.all(feats.f0_hz == UNVOICED_F0_HZ) and feats.unvoiced_share == 1.0
    else:  # pYIN may call a stretch of noise voiced; the fill must still be finite
        assert np.isfinite(feats.f0_hz).all()


def test_errors():
    x = tone(440, seconds=0.1)
    with pytest.raises(ParameterError, match="mono.*2 channels"):
        frame_features(np.stack([x, x]), **FAST)
    with pytest.raises(ParameterError, match="frame_rate must divide.*16000.*300"):
        frame_features(x, sample_rate=SR, frame_rate=300)
    with pytest.raises(ParameterError, match="silent"):
        frame_features(np.zeros(SR, np.float32), **FAST)
    with pytest.raises(ParameterError, match="silent"):
        frame_features(np.full(SR, 1e-6, np.float32), **FAST)
    with pytest.raises(ParameterError, match="fmax"):
        frame_features(x, sample_rate=SR, fmax=9000.0)
    with pytest.raises(ParameterError, match="no samples"):
        frame_features(np.zeros(0, np.float32), **FAST)
    with pytest.raises(ParameterError, match="NaN"):
        frame_features(np.full(100, np.nan, np.float32), **FAST)
    with pytest.raises(ParameterTypeError, match="floating"):
        frame_features((x * 1000).astype(np.int16), **FAST)
    with pytest.raises(ParameterTypeError, match="sample_rate"):
        frame_features(x, sample_rate="16000")
