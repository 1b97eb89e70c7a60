"""align() on recordings whose timing is known: a score played late, slower and with rubato, its f0 made
from the played notes (with pYIN-like noise, octave slips and unvoiced gaps)."""

import numpy as np
import pytest

from cwrnn_audio import ParameterError
from cwrnn_audio.expression.align import MIN_QUALITY, align
from cwrnn_audio.midi.notes import Note

RATE = 250
SCORE = [Note(p, 90, 0.5 * i, 0.5 * i + 0.45) for i, p in enumerate([60, 62, 64, 65, 67, 65, 64, 62, 60, 67])]


def played(score, warp):
    return [n._replace(start=warp(n.start), end=warp(n.end)) for n in score]


def f0_of(notes, seconds, seed=0):
    rng = np.random.default_rng(seed)
    t = (np.arange(int(seconds * RATE)) + 0.5) / RATE
    f0, voiced = np.zeros(t.size), np.zeros(t.size, bool)
    for n in notes:
        on = (t >= n.start) & (t < n.end)
        f0[on] = 440.0 * 2.0 ** ((n.pitch - 69 + 0.1 * rng.standard_normal(on.sum())) / 12)
        voiced[on] = True
    slips = rng.random(t.size) < 0.03  # pYIN's octave errors
    f0[slips & voiced] *= 2.0
    gaps = rng.random(t.size) < 0.05  # frames it could not pitch
    voiced[gaps] = False
    return f0, voiced


@pytest.mark.parametrize(
    "warp",
    [lambda s: 0.8 + s, lambda s: 0.3 + 1.25 * s, lambda s: 0.2 + s + 0.15 * np.sin(s)],
    ids=["late", "slower", "rubato"],
)
def test_the_notes_land_where_they_were_played(warp):
    truth = played(SCORE, warp)
    f0, voiced = f0_of(truth, truth[-1].end + 0.5)
    got = align(SCORE, f0, voiced, frame_rate=RATE)
    assert got.quality > 0.9
    starts = np.array([n.start for n in got.notes]) - [n.start for n in truth]
    ends = np.array([n.end for n in got.notes]) - [n.end for n in truth]
    assert np.abs(starts).max() < 0.05 and np.abs(ends).max() < 0.05  # within 2.5 DTW frames (20 ms each)
    assert [n.pitch for n in got.notes] == [n.pitch for n in SCORE]


def test_a_score_of_another_piece_is_refused_naming_both_files():
    f0, voiced = f0_of(played(SCORE, lambda s: s), 5.5)
    other = [n._replace(pitch=n.pitch + 5 if i % 2 else n.pitch - 4) for i, n in enumerate(SCORE)]
    with pytest.raises(ParameterError, match=r"other\.mid does not match take\.flac: .*% .*at least 60%"):
        align(other, f0, voiced, frame_rate=RATE, score="other.mid", recording="take.flac")
    assert MIN_QUALITY == 0.6


def test_a_recording_without_pitch_or_a_score_without_notes_is_refused():
    with pytest.raises(ParameterError, match="take.flac: no frame has a pitch"):
        align(SCORE, np.zeros(100), np.zeros(100, bool), frame_rate=RATE, recording="take.flac")
    with pytest.raises(ParameterError, match="s.mid: the score has no notes"):
        align([], np.ones(100) * 440, np.ones(100, bool), frame_rate=RATE, score="s.mid")


def test_a_bundled_recording_meets_its_score_an_octave_up():
    """A real pair: the held-out flute recording (FluidR3's flute, played from heldout.mid at +12 semitones)."""
    import cwrnn_audio_samples
    from cwrnn_audio.audio.dataset import load_clip
    from cwrnn_audio.ddsp.features import frame_features
    from cwrnn_audio.midi import read_midi

    score = read_midi(str(cwrnn_audio_samples.path("instruments/heldout.mid")))
    audio = load_clip(str(cwrnn_audio_samples.path("instruments/flute_heldout.flac")), 16000)[0]
    f = frame_features(audio, sample_rate=16000, frame_rate=RATE)
    got = align(score.notes, f.f0_hz, f.voiced, frame_rate=RATE)
    assert got.quality > 0.9 and got.transpose == 12  # render_melodies.py: the flute plays +12
    # rendered from the score itself: the notes stay where they were written, to a DTW frame or two
    starts = np.array([n.start for n in got.notes]) - [n.start for n in score.notes]
    assert np.median(np.abs(starts)) < 0.04
    with pytest.raises(ParameterError, match="does not match"):  # the octave said wrongly: refused
        align(score.notes, f.f0_hz, f.voiced, frame_rate=RATE, transpose=5)


def test_notes_that_did_not_overlap_still_do_not_after_alignment():
    """The held-out cello (two octaves down): before the fix, 4 notes overlapped the next by a frame
    (the path's last frame of one note was the next one's first), which score_frames refuses."""
    import cwrnn_audio_samples
    from cwrnn_audio.audio.dataset import load_clip
    from cwrnn_audio.ddsp.features import frame_features
    from cwrnn_audio.expression.score import score_frames
    from cwrnn_audio.midi import read_midi

    score = read_midi(str(cwrnn_audio_samples.path("instruments/heldout.mid"))).notes
    audio = load_clip(str(cwrnn_audio_samples.path("instruments/cello_heldout.flac")), 16000)[0]
    f = frame_features(audio, sample_rate=16000, frame_rate=100)
    got = align(score, f.f0_hz, f.voiced, frame_rate=100)
    assert got.transpose == -24 and got.quality > 0.7  # a low cello: pYIN misses more
    assert all(a.end <= b.start for a, b in zip(got.notes, got.notes[1:]))
    score_frames(got.notes, frames=f.f0_hz.size, frame_rate=100)  # one line, as the model reads it
