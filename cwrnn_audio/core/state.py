"""The recurrent state: hidden vector plus the step counter that drives the clock."""

from __future__ import annotations

from typing import Any, NamedTuple


class CWRNNState(NamedTuple):
    """``h``: hidden values ``(batch, n)``; ``t``: steps taken so far, ``(batch,)``.

    The torch path holds tensors, the streaming runners NumPy arrays; both
    kinds convert into each other with ``torch.as_tensor`` / ``.numpy()``.
    """

    h: Any
    t: Any
