"""Expression (issue 28): what a player does with a score, frame by frame.

The data side: :func:`~.score.score_frames` (a score as the expression model reads it),
:func:`~.align.align` (a score put on its recording's timeline, with the alignment's quality; a
score that does not match its recording is refused naming both files) and
:func:`~.targets.expression_targets` (the loudness and the pitch deviation in cents it learns).
The model: :class:`~.codec.ExpressionCodec` (a model folder's ``"expression"`` encoding),
:func:`~.fit.train_expression` (recordings and scores -> a model folder). Playing:
:mod:`~.play` (a score's curves, the expression model in an instrument's folder, for
``render_notes`` and ``generate --midi``) and :class:`~.live.LivePerformer` (the generator plugin's
voices performed as they play, from :func:`~.score.live_frames`).
"""
