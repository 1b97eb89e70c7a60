"""Expression (issue 28, in progress): what a player does with a score, frame by frame.

The data side: :func:`~.score.score_frames` (a score as the expression model reads it),
:func:`~.align.align` (a score put on its recording's timeline, with the alignment's quality; a
score that does not match its recording is refused naming both files) and
:func:`~.targets.expression_targets` (the loudness and the pitch deviation in cents it learns).
The model: :class:`~.codec.ExpressionCodec` (a model folder's ``"expression"`` encoding),
:func:`~.fit.train_expression` (recordings and scores -> a model folder) and
:func:`~.fit.predict_expression`. Not yet: training beside the instrument, the plugin and
``generate`` playing with it, a bundled model, the benchmark.
"""
