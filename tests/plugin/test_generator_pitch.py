"""The generator with a harmonic model: notes set pitch and loudness (issue 15, item 4)."""

import numpy as np
import pytest
from conftest import make_model, play_midi

from cwrnn_audio.ddsp.render import FLOOR_DB, Envelope, render_notes
from cwrnn_audio.midi import Note
from cwrnn_audio.plugin import get_plugin

SR = 48000


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    from cwrnn_audio.adapters.harmonic import HarmonicAdapter
    from cwrnn_audio.models.folder import save_model_dir

    codec = HarmonicAdapter(sample_rate=16000, n_harmonics=16, n_noise=17)
    model = make_model(
        np.random.default_rng(15), input_size=2, output_size=codec.output_size, num_modules=4, module_size=8
    )
    return save_model_dir(tmp_path_factory.mktemp("harmonic") / "model", model, codec)


@pytest.fixture(scope="module")
def Generator():
    return get_plugin("generator")


play = play_midi  # events at absolute host frames, in blocks of sizes (cycled)


@pytest.mark.parametrize("host", [48000, 44100])
def test_one_note_plays_as_render_notes(folder, Generator, host):
    from cwrnn_audio.models.folder import load_model_dir
    from cwrnn_audio.runtime.resample import model_to_host

    model, codec, _ = load_model_dir(folder, domain="audio")
    note = Note(57, 100, 0.0, 0.2)  # 220 Hz; ends on frame boundary 50 (at 250 frames/s)
    ref = render_notes(model, codec, [note], envelope=Envelope(attack=0.03, release=0.12))
    g = Generator(folder, polyphony=1)
    g.prepare(host, 512, 2)
    total = int(0.45 * host)
    out = play(g, [(0, "note_on", 57, 100), (int(0.2 * host), "note_off", 57, 0)], total, [512, 77])
    # the offline rendering through the same resampler the plugin uses
    back, latency = model_to_host(codec.sample_rate, host, 1, ref.shape[1])
    assert latency == g.latency_samples
    want = np.zeros((1, total), np.float32)
    back.process(np.ascontiguousarray(ref), ref.shape[1], want, total)
    assert np.sqrt(np.mean(want**2)) > 1e-3
    np.testing.assert_allclose(out[0], want[0], atol=1e-4)
    np.testing.assert_array_equal(out[0], out[1])
    assert g._harmonic.synth.state.prev_f0[0] == np.float32(220.0)  # the voice keeps its pitch


def test_octave_apart_notes_set_the_pitch(folder, Generator):
    g = Generator(folder, polyphony=2)
    g.prepare(SR, 256, 1)
    g.process_midi([(0, "note_on", 60, 90), (100, "note_on", 72, 90)], 256)
    f0 = sorted(g._harmonic.synth.state.prev_f0.tolist())
    assert f0 == pytest.approx([261.6256, 523.2511], rel=1e-6)
    x = g._harmonic.codec.controls(np.array(f0), np.zeros(2))
    assert x[1, 0] - x[0, 0] == pytest.approx(0.25)  # the f0 input: log2(f0 / 440) / 4


def test_velocity_sets_the_level_and_attack_rises_to_it(folder, Generator):
    levels = {}
    for velocity in (30, 127):
        g = Generator(folder, polyphony=1, attack_ms=40.0)
        g.prepare(SR, 480, 1)  # 480 host frames = 10 ms = 2.5 model frames
        g.process_midi([(0, "note_on", 60, velocity)], 480)
        v = g._harmonic
        rise = v.loudness(0, 10)[0]  # frames 0..9 of the note, 4 ms each
        assert np.all(np.diff(rise) > 0) and rise[0] > FLOOR_DB
        assert rise[9] == pytest.approx(Envelope().level_db(velocity))  # 40 ms: the attack's end
        play(g, [], 48000, [480])
        levels[velocity] = v.db[0]
        assert v.db[0] == pytest.approx(Envelope().level_db(velocity))  # held
    assert levels[127] == pytest.approx(-18.0) and levels[30] < levels[127] - 5


def test_note_off_falls_to_the_floor_over_the_release(folder, Generator):
    g = Generator(folder, polyphony=1, release_ms=100.0)
    g.prepare(SR, 480, 1)
    play(g, [(0, "note_on", 64, 100), (4800, "note_off", 64, 0)], 4800 + 480, [480])
    v = g._harmonic
    assert v.off[0] == 25 and v.note[0] == -1  # 100 ms = frame 25
    level = Envelope().level_db(100)
    fall = v.loudness(24, 27)[0]  # frame 24 is the last held; frames 25.. fall over 25 frames
    assert fall[0] == pytest.approx(level)
    assert np.all(np.diff(fall[:25]) < 0)
    assert fall[12] == pytest.approx(FLOOR_DB + (level - FLOOR_DB) * 13 / 25)
    assert np.all(fall[25:] == FLOOR_DB)
    play(g, [], 6000, [480])
    assert v.db[0] == FLOOR_DB and v.f0[0] == pytest.approx(329.6276, rel=1e-6)  # keeps its pitch


def test_polyphony_uses_voices_and_steals_the_quietest(folder, Generator):
    g = Generator(folder, polyphony=2, release_ms=1000.0)
    g.prepare(SR, 512, 1)
    g.process_midi([(0, "note_on", 60, 100), (1, "note_on", 67, 100)], 512)
    v = g._harmonic
    assert v.note.tolist() == [60, 67] and v.used.tolist() == [1, 1]
    g.process_midi([(0, "note_off", 60, 0)], 512)
    g.process_midi([], 512)
    g.process_midi([(0, "note_on", 72, 100)], 512)  # no voice free: 60 releases, 67 is held
    assert v.note.tolist() == [72, 67]
    assert v.f0[0] == pytest.approx(523.2511, rel=1e-6)  # the re-used voice jumps to the new pitch
    # the old note's release goes on under the new note's attack
    assert v.loudness(v.frames, 1)[0, 0] > FLOOR_DB + (Envelope().level_db(100) - FLOOR_DB) * 0.9
    g.process_midi([], 512)
    g.process_midi([(0, "note_on", 74, 100)], 512)  # both held: 72, still rising, is the quieter
    assert v.note.tolist() == [74, 67] and v.prev_off[0] == v.on[0] == 14  # 72 ends as it is stolen


def test_any_block_sizes_give_the_same_output(folder, Generator, notes_to_events, rng):
    score = notes_to_events(
        (100, 6000, 60, 100), (900, 9000, 64, 80), (3100, 4001, 67, 127), (5000, 7000, 71, 60)
    )

    def render(sizes):
        g = Generator(folder, polyphony=3, release_ms=50.0)
        g.prepare(SR, 4096, 2)
        return play(g, score, 12000, sizes)

    whole = render([4096])
    assert np.sqrt(np.mean(whole**2)) > 1e-3
    blocked = render(rng.integers(1, 1500, 50).tolist())
    np.testing.assert_allclose(blocked, whole, atol=1e-6)


def test_state_round_trip_mid_note(folder, Generator):
    g = Generator(folder, polyphony=3, seed=4)
    g.prepare(SR, 1024, 1)
    g.process_midi([(5, "note_on", 60, 90), (300, "note_on", 62, 70)], 1000)
    g.process_midi([(7, "note_on", 64, 50)], 999)
    state = g.get_state()
    first = g.process_midi([(50, "note_off", 60, 0)], 1000).copy()
    then = g.process_midi([(10, "note_on", 65, 100)], 1000).copy()
    other = Generator(folder, polyphony=3, seed=4)
    other.prepare(SR, 1024, 1)
    other.set_state(state)
    np.testing.assert_array_equal(other.process_midi([(50, "note_off", 60, 0)], 1000), first)
    np.testing.assert_array_equal(other.process_midi([(10, "note_on", 65, 100)], 1000), then)


def test_everything_compiles_in_prepare(folder, Generator):
    from cwrnn_audio.kernels.forward import forward_kernel
    from cwrnn_audio.kernels.harmonic import synth_frames

    g = Generator(folder, polyphony=2)
    g.prepare(88200, 300, 1)
    before = (len(forward_kernel.signatures), len(synth_frames.signatures))
    out = play(g, [(0, "note_on", 60, 100), (2000, "note_on", 48, 20)], 9000, [300, 1, 17])
    assert (len(forward_kernel.signatures), len(synth_frames.signatures)) == before
    assert np.isfinite(out).all() and np.abs(out).max() > 0


def test_harmonic_parameters_and_cli_render(folder, Generator, tmp_path):
    import soundfile as sf

    from cwrnn_audio.cli.main import main

    g = Generator(folder)
    assert g["attack_ms"] == pytest.approx(30.0) and g["release_ms"] == pytest.approx(120.0)
    with pytest.raises(Exception, match="temperature"):
        g["temperature"]
    sf.write(tmp_path / "in.wav", np.zeros(9600, np.float32), 96000)
    # an instrument plays notes: audio in is refused (it used to render silence)
    rc = main(
        [
            "render",
            "generator",
            "--model",
            str(folder),
            "-i",
            str(tmp_path / "in.wav"),
            "-o",
            str(tmp_path / "x.wav"),
        ]
    )
    assert rc == 2 and not (tmp_path / "x.wav").exists()
    from cwrnn_audio.midi.notes import Note, Score
    from cwrnn_audio.midi.write import write_midi

    write_midi(Score(notes=[Note(pitch=69, start=0.0, end=0.05, velocity=100)]), tmp_path / "a.mid")
    rc = main(
        ["render", "generator", "--model", str(folder), "--midi", str(tmp_path / "a.mid")]
        + ["-o", str(tmp_path / "out.wav"), "--param", "attack_ms=10", "--tail", "0.1", "-q"]
        + ["--sample-rate", "96000"]
    )
    assert rc in (0, None)
    assert sf.info(str(tmp_path / "out.wav")).frames == round(0.15 * 96000)
