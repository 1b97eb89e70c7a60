"""Loss conventions: squared error over a sequence, scaled.

``"sum"``: sum over steps and outputs (the default: with the paper's learning
rates it reproduces the paper's magnitudes, see README); ``"half"``: half
of that; ``"mean"``: averaged over steps and outputs.
"""

from ..checks import valid_choice

REDUCTIONS = ("sum", "half", "mean")


def loss_scale(kind: str, steps: int, outputs: int) -> float:
    """The factor in ``loss = factor * sum((y - target)**2)`` for one sequence."""
    valid_choice(kind, REDUCTIONS, name="loss")
    if kind == "sum":
        return 1.0
    if kind == "half":
        return 0.5
    return 1.0 / max(1, steps * outputs)
