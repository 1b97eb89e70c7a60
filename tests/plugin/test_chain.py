import numpy as np
import pytest

from cwrnn_audio import ParameterError
from cwrnn_audio.plugin import Chain, get_plugin

pedalboard = pytest.importorskip("pedalboard")
SR = 48000


def test_chain_runs_project_and_pedalboard_plugins_block_by_block():
    rng = np.random.default_rng(0)
    audio = (0.3 * rng.standard_normal((2, 9000))).astype(np.float32)
    fx = get_plugin("effect")
    delay = pedalboard.Delay(delay_seconds=0.01, feedback=0.3, mix=0.5)  # state carried across blocks
    whole = delay(fx()(audio, SR, buffer_size=9000), SR, buffer_size=9000)
    chain = Chain([fx(), pedalboard.Delay(delay_seconds=0.01, feedback=0.3, mix=0.5)])
    blocked = chain(audio, SR, buffer_size=256)
    np.testing.assert_allclose(blocked, whole, atol=1e-5)
    again = chain(audio, SR, buffer_size=256)  # reset=True: the same again
    np.testing.assert_allclose(again, blocked, atol=1e-6)


def test_chain_refuses_other_objects_and_state():
    with pytest.raises(ParameterError, match="pedalboard plugins"):
        Chain([lambda a, sr: a])
    c = Chain([get_plugin("effect")()])
    c.prepare(SR, 64, 1)
    with pytest.raises(ParameterError, match="cannot be saved"):
        c.get_state()


def test_chain_reports_its_members_latency_and_lines_up_at_44k1():
    rng = np.random.default_rng(1)
    audio = (0.3 * rng.standard_normal((2, 5000))).astype(np.float32)
    fx = get_plugin("effect")
    chain = Chain([fx(), pedalboard.Gain(gain_db=-6.0), fx()])
    chain.prepare(44100, 512, 2)
    single = fx()
    single.prepare(44100, 512, 2)
    assert single.latency_samples > 0 and chain.latency_samples == 2 * single.latency_samples
    gain = Chain([fx(), pedalboard.Gain(gain_db=-6.0)])
    np.testing.assert_allclose(gain(audio, 44100), fx()(audio, 44100) * 10 ** (-6 / 20), atol=1e-6)
