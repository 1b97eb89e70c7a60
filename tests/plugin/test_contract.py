"""The contract every plugin keeps (DEFECTS.md items 3, 4, 8, 11, 20, 26; issue 25 item 4):
non-finite audio is silence, malformed events and states are refused before anything changes,
one instance per thread, bundled models by name, priming from the model's own folder."""

import threading

import numpy as np
import pytest
from conftest import make_model

from cwrnn_audio import ParameterError
from cwrnn_audio.errors import ParameterTypeError
from cwrnn_audio.plugin import Plugin, get_plugin

SR = 48000


def tiny_folder(path, seed, *, codec="raw", module_size=4):
    """A small model folder: an effect (raw audio, 48 kHz) or a mu-law sampler (16 kHz)."""
    from cwrnn_audio.models.folder import save_model_dir
    from cwrnn_audio.models.registry import codec_from_dict

    spec = {
        "raw": {"encoding": "raw", "sample_rate": 48000},
        "mulaw": {"encoding": "mulaw", "sample_rate": 16000},
    }
    c = codec_from_dict(spec[codec], source="test", domain="audio")
    model = make_model(
        np.random.default_rng(seed),
        input_size=c.input_size,
        output_size=c.output_size,
        num_modules=3,
        module_size=module_size,
    )
    return save_model_dir(path, model, c)


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    root = tmp_path_factory.mktemp("models")
    return {
        "a": tiny_folder(root / "a", 1),
        "a_other": tiny_folder(root / "a_other", 2),  # same size, other weights
        "big": tiny_folder(root / "big", 3, module_size=8),
        "mulaw": tiny_folder(root / "mulaw", 4, codec="mulaw"),
    }


@pytest.fixture(scope="module")
def Effect():
    return get_plugin("effect")


@pytest.fixture(scope="module")
def Generator():
    return get_plugin("generator")


def prepared(plugin, block=64, channels=1):
    plugin.prepare(SR, block, channels)
    return plugin


def noise(rng, n, channels=1):
    return (0.3 * rng.standard_normal((channels, n))).astype(np.float32)


# -- D3: non-finite audio is silence; the plugin recovers -------------------------------------
@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_samples_are_silence_and_the_effect_recovers(Effect, folders, rng, bad):
    blocks = [noise(rng, 64, 2) for _ in range(4)]
    hit = [b.copy() for b in blocks]
    hit[1][0, 10] = bad
    hit[1][1, 3:7] = bad
    clean = [b.copy() for b in blocks]
    clean[1][0, 10] = 0.0
    clean[1][1, 3:7] = 0.0
    fx, twin = prepared(Effect(folders["a"], mix=0.5), 64, 2), prepared(Effect(folders["a"], mix=0.5), 64, 2)
    got = [fx.process(b).copy() for b in hit]
    want = [twin.process(b).copy() for b in clean]
    assert all(np.isfinite(g).all() for g in got)
    np.testing.assert_array_equal(np.concatenate(got, 1), np.concatenate(want, 1))
    assert np.isfinite(fx._voices.h).all()


def test_the_whole_buffer_call_treats_nan_as_silence(Effect, folders, rng):
    x = noise(rng, 300)
    y = x.copy()
    x[0, 100] = np.nan
    y[0, 100] = 0.0
    np.testing.assert_array_equal(
        Effect(folders["a"])(x, SR, buffer_size=64), Effect(folders["a"])(y, SR, buffer_size=64)
    )


@pytest.mark.parametrize("velocity", [1_000_000_000, -1, 128, float("nan"), 60.5, "loud", True])
def test_the_generator_refuses_velocities_outside_midi(Generator, velocity):
    g, twin = prepared(Generator(polyphony=2)), prepared(Generator(polyphony=2))
    with pytest.raises(ParameterError, match="velocity") as err:
        g.process_midi([(0, "note_on", 60, 100), (3, "note_on", 64, velocity)], 64)
    assert "MidiEvent(offset=3" in str(err.value)  # the event is named
    # refused before anything was played: the instance goes on as one that never saw the block
    events = [(0, "note_on", 60, 100)]
    np.testing.assert_array_equal(g.process_midi(events, 64), twin.process_midi(events, 64))


# -- D4: every note-taking plugin validates at the call ---------------------------------------
BAD_EVENTS = [
    ([(0, "note_on", 1000, 100)], "note"),
    ([(0, "note_on", -1, 100)], "note"),
    ([(0, "note_on", 60, 300)], "velocity"),
    ([(0, "note_on", 60.0, 100)], "note"),
    ([(64, "note_on", 60, 100)], "outside the block"),
    ([(-1, "note_on", 60, 100)], "offset"),
    ([(0, "control_change", 64, 127)], "type"),
    ([(0, 144, 64, 127)], "type"),
    ([(0, "note_on")], r"\(offset, type, note, velocity\)"),
    ([(0, "note_on", 60, 100, 5)], r"\(offset, type, note, velocity\)"),
    (["note_on"], r"\(offset, type, note, velocity\)"),
    ("note_on", "events"),
]


@pytest.mark.parametrize("name", ["generator", "continuator"])
@pytest.mark.parametrize("events, match", BAD_EVENTS)
def test_malformed_events_are_refused(name, events, match):
    plugin = prepared(get_plugin(name)())
    with pytest.raises(ParameterError, match=match):
        plugin.process_midi(events, 64)


@pytest.mark.parametrize("name", ["generator", "continuator"])
@pytest.mark.parametrize("frames", [-1, 65, 10**9, 64.0, "64"])
def test_num_frames_outside_the_block_is_refused(name, frames):
    plugin = prepared(get_plugin(name)())
    with pytest.raises(ParameterError, match="num_frames"):
        plugin.process_midi([], frames)


def test_the_continuator_keeps_running_after_a_refused_note():
    c = prepared(get_plugin("continuator")(wait_s=0.1))
    with pytest.raises(ParameterError, match="note"):
        c.process_midi([(0, "note_on", 1000, 100)], 64)
    c.process_midi([(0, "note_on", 60, 100), (30, "note_off", 60, 0)], 64)
    for _ in range(int(0.15 * SR) // 64):  # past wait_s: it answers, no IndexError on any block
        c.process_midi([], 64)
    assert c._now == 64 * (1 + int(0.15 * SR) // 64)


# -- D8: set_state checks everything before changing anything ---------------------------------
def _state_with(state: bytes, **changes) -> bytes:
    """``state`` with arrays replaced (None: dropped), same metadata."""
    from safetensors.numpy import load, save

    from cwrnn_audio.plugin.base import _metadata

    arrays = {**load(state), **changes}
    return save({k: v for k, v in arrays.items() if v is not None}, metadata=_metadata(state))


@pytest.fixture
def effect_pair(Effect, folders, rng):
    """A running effect at mix 0.8 and its untouched twin, to check a refused state changed nothing."""
    fx, twin = prepared(Effect(folders["a"], mix=0.8)), prepared(Effect(folders["a"], mix=0.8))
    x = noise(rng, 64)
    fx.process(x)
    twin.process(x)
    return fx, twin


def _unchanged(fx, twin, rng):
    assert fx["mix"] == twin["mix"] == 0.8
    x = noise(rng, 64)
    np.testing.assert_array_equal(fx.process(x), twin.process(x))


def _donor(Effect, folder, x=None):
    d = prepared(Effect(folder, mix=0.3))
    d.process(np.full((1, 64), 0.5, np.float32) if x is None else x)
    return d.get_state()


def test_a_state_from_another_model_size_is_refused_and_changes_nothing(Effect, folders, effect_pair, rng):
    fx, twin = effect_pair
    with pytest.raises(ParameterError, match="another model"):
        fx.set_state(_donor(Effect, folders["big"]))
    _unchanged(fx, twin, rng)


def test_a_state_from_another_model_of_the_same_size_is_refused(Effect, folders, effect_pair, rng):
    fx, twin = effect_pair
    with pytest.raises(ParameterError, match="another model"):
        fx.set_state(_donor(Effect, folders["a_other"]))
    _unchanged(fx, twin, rng)


@pytest.mark.parametrize(
    "change, match",
    [
        (dict(h=None), r"lacks arrays \['h'\]"),
        (dict(extra=np.zeros(3, np.float32)), "unknown arrays"),
        (dict(h=np.full((1, 12), np.nan, np.float32)), "'h' holds NaN"),
        (dict(h=np.zeros((1, 13), np.float32)), r"'h' is float32 \(1, 13\)"),
        (dict(h=np.zeros((1, 12), np.float64)), "'h' is float64"),
        (dict(t=np.array([-5], np.int64)), "'t' holds negative"),
    ],
)
def test_a_malformed_state_is_refused_and_changes_nothing(Effect, folders, effect_pair, rng, change, match):
    fx, twin = effect_pair
    with pytest.raises(ParameterError, match=match):
        fx.set_state(_state_with(_donor(Effect, folders["a"]), **change))
    _unchanged(fx, twin, rng)


@pytest.mark.parametrize("params", ['{"mix": NaN, "output_gain_db": 0.0}', '{"mix": 0.5}', "[1, 2]"])
def test_state_parameters_are_checked(Effect, folders, effect_pair, rng, params):
    from safetensors.numpy import load, save

    from cwrnn_audio.plugin.base import _metadata

    state = _donor(Effect, folders["a"])
    bad = save(load(state), metadata={**_metadata(state), "parameters": params})
    fx, twin = effect_pair
    with pytest.raises(ParameterError):
        fx.set_state(bad)
    _unchanged(fx, twin, rng)


def test_a_good_state_still_restores_exactly(Effect, folders, rng):
    x = noise(rng, 64)
    state = _donor(Effect, folders["a"], x)
    fx = prepared(Effect(folders["a"]))
    fx.set_state(state)
    assert fx["mix"] == 0.3
    d = prepared(Effect(folders["a"]))
    d.set_state(state)
    np.testing.assert_array_equal(fx.process(x), d.process(x))


def test_continuator_states_out_of_midi_range_are_refused():
    c = prepared(get_plugin("continuator")())
    c.process_midi([(0, "note_on", 60, 100), (5, "note_off", 60, 0)], 64)
    state = c.get_state()
    with pytest.raises(ParameterError, match="'history'"):
        c.set_state(_state_with(state, history=np.array([[0, 5, 1000, 100]], np.int64)))
    c.set_state(state)  # the real one still loads
    assert c._history == [(0, 5, 60, 100)]


# -- D11: rates, dtypes, order of calls -------------------------------------------------------
@pytest.mark.parametrize("rate", [float("nan"), float("inf"), -float("inf")])
def test_non_finite_sample_rates_are_refused(Effect, folders, rate):
    fx = Effect(folders["a"])
    with pytest.raises(ParameterError, match="sample_rate"):
        fx.prepare(rate, 64, 1)
    with pytest.raises(ParameterError, match="sample_rate"):
        fx(np.zeros((1, 64), np.float32), rate)


def test_get_state_before_prepare_is_refused(Effect, folders):
    with pytest.raises(ParameterError, match=r"prepare\("):
        Effect(folders["a"]).get_state()


@pytest.mark.parametrize("dtype", [np.int16, np.int32, np.complex64, np.float16, bool])
def test_the_whole_buffer_call_refuses_what_process_refuses(Effect, folders, dtype):
    with pytest.raises(ParameterTypeError, match=np.dtype(dtype).name):
        Effect(folders["a"])(np.zeros((1, 100), dtype), SR)


def test_plugin_names_of_the_wrong_type_are_refused():
    with pytest.raises(ParameterTypeError, match="plugin name"):
        get_plugin(["effect"])


def test_the_whole_buffer_call_takes_float64_as_pedalboard_does(Effect, folders, rng):
    x = noise(rng, 200)
    np.testing.assert_array_equal(Effect(folders["a"])(x.astype(np.float64), SR), Effect(folders["a"])(x, SR))


# -- D20: one instance per thread ------------------------------------------------------------
class Gate(Plugin):
    """A pass-through that holds ``process`` until told to go, so two threads surely overlap."""

    name = "gate"
    kind = "instrument"

    def __init__(self):
        super().__init__()
        self.inside, self.go = threading.Event(), threading.Event()

    def _prepare(self, sample_rate, max_block_size, num_channels):
        pass

    def _process(self, audio):
        self.inside.set()
        assert self.go.wait(10)
        return audio

    def _process_midi(self, events, num_frames):
        return self._process(np.zeros((1, num_frames), np.float32))

    def _reset(self):
        pass

    def _state_arrays(self):
        return {}

    def _load_state_arrays(self, arrays):
        pass


@pytest.mark.parametrize("call", ["process", "process_midi", "set_state", "get_state", "reset", "__call__"])
def test_a_second_thread_entering_an_instance_in_use_is_refused(call):
    g = prepared(Gate())
    state = Gate.get_state(g)
    worker = threading.Thread(target=g.process, args=(np.zeros((1, 8), np.float32),))
    worker.start()
    assert g.inside.wait(10)
    audio = np.zeros((1, 8), np.float32)
    args = {"process": (audio,), "process_midi": ([], 8), "set_state": (state,), "__call__": (audio, SR)}
    try:
        with pytest.raises(ParameterError, match="in use by another thread"):
            getattr(g, call)(*args.get(call, ()))
    finally:
        g.go.set()
        worker.join(10)
    g.process(np.zeros((1, 8), np.float32))  # free again once the first thread is out
    g.set_state(state)


def test_two_threads_on_one_effect_never_interleave_silently(Effect, folders, rng):
    fx = prepared(Effect(folders["a"]), 4096)
    x = noise(rng, 4096)
    refused, done = [], []

    def hammer():
        for _ in range(200):
            try:
                fx.process(x)
                done.append(1)
            except ParameterError as exc:
                refused.append(str(exc))

    threads = [threading.Thread(target=hammer) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(done) + len(refused) == 400
    assert all("another thread" in m for m in refused)


# -- D26: bundled models by name, from any folder --------------------------------------------
def test_bundled_models_resolve_by_name_from_any_folder(Generator, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for name in ("samples/models/flute_harmonic", "flute_harmonic", "models/flute_harmonic"):
        g = Generator(name, polyphony=1)
        assert g._harmonic is not None, name
    assert get_plugin("effect")("effect_drive").adapter.sample_rate == 48000


def test_a_missing_model_folder_is_named(Effect, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ParameterError, match=r"'no/such/model' does not exist"):
        Effect("no/such/model")
    with pytest.raises(ParameterTypeError, match="model"):
        Effect(42)


def test_a_local_folder_wins_over_a_bundled_name(Effect, folders, tmp_path, monkeypatch):
    import shutil

    shutil.copytree(folders["a"], tmp_path / "effect_drive")
    monkeypatch.chdir(tmp_path)
    assert Effect("effect_drive").model_fingerprint == Effect(folders["a"]).model_fingerprint


# -- I25.4: the generator primes from the model's own folder ----------------------------------
def _expected_prime(folder, clip):
    """The state after the model reads 0.25 s of ``clip``, computed with the model's own stream."""
    from cwrnn_audio.models.folder import load_model_dir

    model, codec, _ = load_model_dir(folder, domain="audio")
    x, _ = codec.encode(clip[:1, : codec.sample_rate // 4])
    s = model.stream()
    s.process(x[0])
    return s.state.h[0]


def _sine(seconds=0.5, sr=16000):
    t = np.arange(int(seconds * sr)) / sr
    return (0.5 * np.sin(2 * np.pi * 330 * t)).astype(np.float32)[None]


def test_the_generator_primes_from_the_model_folder(Generator, folders, tmp_path):
    import shutil

    from cwrnn_audio.io.audio_file import write_audio

    folder = shutil.copytree(folders["mulaw"], tmp_path / "mine")
    write_audio(folder / "prime.wav", _sine(), 16000)
    g = Generator(folder, polyphony=1)
    assert g.prime_source == folder / "prime.wav"
    np.testing.assert_allclose(g._prime_state[0], _expected_prime(folder, _sine()), atol=1e-5)


def test_the_prime_is_settable(Generator, folders, tmp_path):
    from cwrnn_audio.io.audio_file import write_audio

    path = write_audio(tmp_path / "mine.wav", _sine(), 16000)
    g = Generator(folders["mulaw"], polyphony=1, prime=path)
    np.testing.assert_allclose(g._prime_state[0], _expected_prime(folders["mulaw"], _sine()), atol=1e-5)
    with pytest.raises(ParameterError, match="no such audio file"):
        Generator(folders["mulaw"], prime=tmp_path / "missing.wav")
    with pytest.raises(ParameterError, match="primed=False"):
        Generator(folders["mulaw"], primed=False, prime=path)


def test_a_folder_without_priming_material_primes_from_its_own_free_run(Generator, folders):
    import cwrnn_audio_samples

    g = Generator(folders["mulaw"], polyphony=1)
    assert g.prime_source == "free run"
    bach = Generator(
        folders["mulaw"], polyphony=1, prime=cwrnn_audio_samples.path("bach_prelude_fluidr3.flac")
    )
    assert not np.allclose(g._prime_state[0], bach._prime_state[0])  # not the bundled Bach recording
    np.testing.assert_array_equal(g._prime_state[0], Generator(folders["mulaw"], polyphony=1)._prime_state[0])
    assert Generator().prime_source.name == "bach_prelude_fluidr3.flac"  # the bundled model's own material
