"""A score read frame by frame, as the expression model reads it (issue 28).

For each frame ``i`` of a monophonic line: the pitch of the note sounding, or else of the note to
come (of the last one after the end), whether a note sounds, the seconds since its onset and until
its end, the seconds to the next onset, and its velocity. Rests have no onset or end of their own:
their "since onset" counts from the last note's end, their "until end" to the next note's start.

Times are read at the frame's end, ``(i + 1) / frame_rate``, where the instrument's controls are
timed; the note of a frame is the one started by the frame's start, ``i / frame_rate``: a note
sounds in the frames that start inside it. That is how a live player (the generator plugin, whose
note events act at the first frame boundary at or after them) plays it, so a score read here and
the same notes played live agree frame for frame.
"""

from __future__ import annotations

import numpy as np

from ..checks import valid_int
from ..ddsp.render import sounding_frames
from ..errors import ParameterError, ParameterTypeError

#: the columns of :func:`score_frames`, in order
COLUMNS = ("pitch", "sounding", "since_onset_s", "until_end_s", "to_next_s", "velocity")
#: seconds at which the time columns saturate: phrases and rests longer than this look alike
HORIZON_S = 4.0


def score_frames(notes, *, frames: int, frame_rate: int) -> np.ndarray:
    """``(frames, 6)`` float64: the columns of :data:`COLUMNS` for a monophonic note list.

    Parameters
    ----------
    notes : sequence of :class:`~cwrnn_audio.midi.notes.Note` (or anything with ``pitch``,
        ``velocity``, ``start`` and ``end`` in seconds), not overlapping in time (a later note's
        start at or after an earlier one's end); a chord is refused naming the two notes.
    frames : int, keyword-only
        How many frames (the recording's, at ``frame_rate``).
    frame_rate : int, Hz, keyword-only

    Times are seconds, capped at :data:`HORIZON_S`; ``velocity`` is MIDI velocity / 127, 0 in rests.
    """
    frames = valid_int(frames, name="frames", minimum=0)
    frame_rate = valid_int(frame_rate, name="frame_rate", minimum=1)
    if isinstance(notes, (str, bytes)) or not hasattr(notes, "__iter__"):
        raise ParameterTypeError(f"notes must be a sequence of notes; got {notes!r}")
    notes = sorted(notes, key=lambda n: (n.start, n.end))
    if not notes:
        raise ParameterError("notes: the score has no notes")
    for a, b in zip(notes, notes[1:]):
        if b.start < a.end - 1e-9:
            raise ParameterError(
                f"notes: the expression model reads one line; note {b.pitch} at {b.start:.3f} s starts "
                f"before note {a.pitch} ends ({a.end:.3f} s)"
            )
    t0 = np.arange(frames) / frame_rate
    t = (np.arange(frames) + 1.0) / frame_rate
    starts = np.array([n.start for n in notes], np.float64)
    ends = np.array([n.end for n in notes], np.float64)
    # the last note started by the frame's start, and the first that starts after it
    last = np.searchsorted(starts, t0, side="right") - 1
    nxt = np.minimum(last + 1, len(notes) - 1)
    sounding = sounding_frames(notes, frames=frames, frame_rate=frame_rate)
    pitch = np.array([n.pitch for n in notes], np.float64)
    velocity = np.array([n.velocity for n in notes], np.float64) / 127.0
    before_first = last < 0
    out = np.empty((frames, len(COLUMNS)))
    # the note sounding, else the next one, else (after the end) the last
    after_end = ~sounding & (last == len(notes) - 1)
    shown = np.where(sounding | after_end, np.maximum(last, 0), nxt)
    shown = np.where(before_first, 0, shown)
    out[:, 0] = pitch[shown]
    out[:, 1] = sounding
    since = np.where(sounding, t - starts[np.maximum(last, 0)], t - ends[np.maximum(last, 0)])
    out[:, 2] = np.where(before_first, t, since)
    until = np.where(sounding, ends[np.maximum(last, 0)] - t, starts[nxt] - t)
    out[:, 3] = np.where(after_end, HORIZON_S, until)
    to_next = np.where(before_first, starts[0] - t, starts[nxt] - t)
    out[:, 4] = np.where(last == len(notes) - 1, HORIZON_S, to_next)
    out[:, 5] = np.where(sounding, velocity[np.maximum(last, 0)], 0.0)
    out[:, 2:5] = np.clip(out[:, 2:5], 0.0, HORIZON_S)
    return out


def live_frames(first: int, n: int, *, frame_rate: int, pitch, velocity, on, off, used) -> np.ndarray:
    """``(V, n, 6)`` float64: the :data:`COLUMNS` of frames ``first .. first + n - 1`` for ``V`` voices
    as a live player knows them, from each voice's note: ``pitch`` (MIDI, kept after the note),
    ``velocity`` (MIDI), ``on`` (frame the note started at), ``off`` (frame it ended at, -1 while
    held), ``used`` (0: no note yet), all ``(V,)``. A note's end and the next onset are not known:
    those columns read :data:`HORIZON_S`. Frames are read as :func:`score_frames` reads them: a note
    sounds in frames ``on .. off - 1``, times at the frame's end."""
    i = first + np.arange(n)[None, :]
    t = (i + 1.0) / frame_rate
    on_frame = np.asarray(on, np.int64)[:, None]
    off_frame = np.asarray(off, np.int64)[:, None]
    on, end = on_frame / frame_rate, np.where(off_frame < 0, np.inf, off_frame / frame_rate)
    used = np.asarray(used, bool)[:, None]
    sounding = used & (i >= on_frame) & ((off_frame < 0) | (i < off_frame))
    since = np.where(sounding, t - on, np.where(used & (t >= end), t - end, t))
    out = np.empty((on.shape[0], n, len(COLUMNS)))
    out[..., 0] = np.asarray(pitch, np.float64)[:, None]
    out[..., 1] = sounding
    out[..., 2] = np.clip(since, 0.0, HORIZON_S)
    out[..., 3:5] = HORIZON_S
    out[..., 5] = np.where(sounding, np.asarray(velocity, np.float64)[:, None] / 127.0, 0.0)
    return out
