"""Numba CPU kernels (compiled on first use, cached on disk per user, never inside the package).

The compiled code lives in ``$CWRNN_AUDIO_CACHE_DIR``, else the platform's user cache folder
(``~/.cache/cwrnn_audio`` on Linux), one subfolder per source folder; see cache.py for the
fallbacks. forward.py holds the step, read-out and tanh that the other kernels inline. Numba's
cache notices edits only to the cached function's own file, so after editing forward.py (or
readout_grad.py, optim.py) delete the ``kernels_*`` subfolders there to drop stale kernels.
"""

# Before any kernel module: they decorate with cache=True on import, which picks the locator then.
from .cache import install as _install_cache_locator

_install_cache_locator()
