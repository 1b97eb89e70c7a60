"""A score read frame by frame, as the expression model reads it (issue 28).

For each frame ``i`` (time ``(i + 1) / frame_rate``, the end of the frame, as the instrument's
controls are timed) of a monophonic line: the pitch of the note sounding, or else of the note to come
(of the last one after the end), whether a note sounds, the seconds since its onset and until its
end, the seconds to the next onset, and its velocity. Rests have no onset or end of their own: their
"since onset" counts from the last note's end, their "until end" to the next note's start.
"""

from __future__ import annotations

import numpy as np

from ..checks import valid_int
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
    t = (np.arange(frames) + 1.0) / frame_rate
    starts = np.array([n.start for n in notes], np.float64)
    ends = np.array([n.end for n in notes], np.float64)
    # the last note started at or before t, and the first that starts after t
    last = np.searchsorted(starts, t, side="right") - 1
    nxt = np.minimum(last + 1, len(notes) - 1)
    sounding = (last >= 0) & (t < ends[np.maximum(last, 0)])
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
