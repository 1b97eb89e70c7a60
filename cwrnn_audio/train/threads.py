"""One thread count for torch's and Numba's pools, so the two never oversubscribe the cores.

Each pool defaults to one thread per core; training runs both (the Numba kernels inside torch's
autograd, torch's own ops between them), and on a busy 2-core machine torch's defaults made
training 3-6x slower than one thread. :func:`use_threads` sizes both from ``--threads``, else
``CWRNN_AUDIO_THREADS``, else :data:`DEFAULT`.
"""

from __future__ import annotations

import os

from ..checks import valid_int
from ..errors import ParameterError

ENV = "CWRNN_AUDIO_THREADS"
# 2 epochs on this 2-core machine, shared with other work: the README's flute `--encoding harmonic`
# 83 s at 1 thread vs 319 s at 2 (and 129 vs 135 s in reverse order); `--encoding mulaw` on the Bach
# clip 20.7 vs 20.5 s. One thread was never measurably slower.
DEFAULT = 1


def thread_count(threads: int | None = None) -> int:
    """``threads``, else the environment's ``CWRNN_AUDIO_THREADS``, else :data:`DEFAULT`."""
    if threads is not None:
        return valid_int(threads, name="threads", minimum=1)
    value = os.environ.get(ENV, "").strip()
    if not value:
        return DEFAULT
    try:
        n = int(value)
    except ValueError:
        n = 0
    if n < 1:
        raise ParameterError(f"{ENV} must be a positive integer; got {value!r}")
    return n


def use_threads(threads: int | None = None) -> int:
    """Size torch's and Numba's thread pools alike (Numba's at most its launch size); returns the count."""
    import numba
    import torch

    n = thread_count(threads)
    torch.set_num_threads(n)
    numba.set_num_threads(min(n, numba.config.NUMBA_NUM_THREADS))
    return n
