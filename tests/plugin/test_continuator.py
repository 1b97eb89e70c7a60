import numpy as np
import pytest

import cwrnn_audio_samples
from cwrnn_audio import ParameterError
from cwrnn_audio.midi import read_midi
from cwrnn_audio.plugin import get_plugin

SR = 48000


@pytest.fixture(scope="module")
def played():
    """The first two bars of a bundled tune as (frame, type, note, velocity) events."""
    notes = [n for n in read_midi(cwrnn_audio_samples.path("midi/tune_2.mid")).notes if n.start < 4.8]
    ev = [(int(n.start * SR), "note_on", n.pitch, n.velocity) for n in notes]
    ev += [(int(n.end * SR), "note_off", n.pitch, 0) for n in notes]
    return sorted(ev)


def run(events, sizes, total, **kw):
    c = get_plugin("continuator")(**kw)
    c.prepare(SR, max(sizes), 1)
    out, pos, i = [], 0, 0
    while pos < total:
        n = min(sizes[i % len(sizes)], total - pos)
        block = [(t - pos, *rest) for t, *rest in events if pos <= t < pos + n]
        out += [(pos + e.offset, e.type, e.note, e.velocity) for e in c.process_midi(block, n)]
        pos += n
        i += 1
    return out, c


def test_answers_after_the_pause_with_notes_in_the_key(played):
    total = int(12 * SR)
    answer, _ = run(played, [4096], total, wait_s=0.5, bars=2)
    last_input = max(t for t, *_ in played)
    ons = [a for a in answer if a[1] == "note_on"]
    assert ons and all(t >= last_input + int(0.5 * SR) for t, *_ in ons)
    assert np.mean([n % 12 in (0, 2, 4, 5, 7, 9, 11) for _, _, n, _ in ons]) > 0.8
    offs = {(n, t) for t, k, n, _ in answer if k == "note_off"}
    assert len(offs) == len(ons)  # every note the continuator starts, it ends


def test_block_sizes_do_not_change_the_answer(played, rng):
    total = int(12 * SR)
    a, _ = run(played, [4096], total, wait_s=0.5)
    b, _ = run(played, rng.integers(1, 3000, 50).tolist(), total, wait_s=0.5)
    assert a == b


def test_playing_again_cancels_the_answer(played):
    total = int(12 * SR)
    full, _ = run(played, [2048], total, wait_s=0.5)
    first_answer = min(t for t, *_ in full)
    interrupt = played + [(first_answer + 2000, "note_on", 72, 90), (first_answer + 30000, "note_off", 72, 0)]
    cut, _ = run(interrupt, [2048], total, wait_s=5.0)
    assert not [a for a in cut if first_answer + 2000 <= a[0] < first_answer + 30000 + int(5.0 * SR)]


def test_state_round_trip(played):
    c = get_plugin("continuator")(wait_s=0.5)
    c.prepare(SR, 48000, 1)
    for k in range(6):  # 6 s of the tune
        c.process_midi([(t - k * SR, *r) for t, *r in played if k * SR <= t < (k + 1) * SR], SR)
    state = c.get_state()
    rest = [c.process_midi([], SR) for _ in range(4)]
    d = get_plugin("continuator")(wait_s=0.5)
    d.prepare(SR, 48000, 1)
    d.set_state(state)
    assert [d.process_midi([], SR) for _ in range(4)] == rest
    assert any(rest)


def test_audio_passes_through_and_events_are_checked():
    c = get_plugin("continuator")()
    c.prepare(SR, 64, 2)
    x = np.ones((2, 64), np.float32)
    np.testing.assert_array_equal(c.process(x), x)
    with pytest.raises(ParameterError, match="outside the block"):
        c.process_midi([(64, "note_on", 60, 90)], 64)
