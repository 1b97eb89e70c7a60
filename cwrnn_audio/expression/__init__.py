"""Expression (issue 28, in progress): what a player does with a score, frame by frame.

So far the data side: :func:`~.score.score_frames` (a score as the expression model will read it),
:func:`~.align.align` (a score put on its recording's timeline, with the alignment's quality; a
score that does not match its recording is refused naming both files) and
:func:`~.targets.expression_targets` (the loudness and the pitch deviation in cents it learns to
predict). No model is trained yet.
"""
