"""Numba CPU kernels (compiled on first use, cached on disk per user, never inside the package).

The compiled code lives in ``$CWRNN_AUDIO_CACHE_DIR``, else the platform's user cache folder
(``~/.cache/cwrnn_audio`` on Linux), one subfolder per source folder; see cache.py for the
fallbacks. forward.py holds the step, read-out and tanh that the other kernels inline; a cached
kernel is stamped with a hash of every file in this folder (cache.py), so editing any of them
recompiles the kernels that may have inlined it.
"""

# Before any kernel module: they decorate with cache=True on import, which picks the locator then.
from .cache import install as _install_cache_locator

_install_cache_locator()
