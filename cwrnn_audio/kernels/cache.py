"""Where Numba keeps this project's compiled kernels: a per-user cache folder, never the package.

Numba's default writes ``*.nbi``/``*.nbc`` next to the source, into ``__pycache__``. In an
installed package pip does not know those files, so uninstalling leaves ``cwrnn_audio/kernels/``
behind without ``__init__.py``, and Python then imports that husk as an empty namespace package
ahead of a later (editable) install (issue 12). So our kernels are cached, in order of preference, in

1. ``$CWRNN_AUDIO_CACHE_DIR``, else ``platformdirs.user_cache_dir("cwrnn_audio")``
   (``~/.cache/cwrnn_audio`` on Linux);
2. ``<tempdir>/cwrnn_audio-<uid>`` (private to the user), if 1 cannot be created or written;
3. nowhere: compiled in memory, every process, if neither can.

Each source folder gets its own subfolder (``kernels_<sha1 of the folder>``), so an editable
checkout and a site-packages install never share cache files. Only functions from the
``cwrnn_audio`` and ``cwrnn_audio_plugins`` packages are claimed; Numba's global settings and
everyone else's ``cache=True`` functions are left alone.
"""

from __future__ import annotations

import os
import stat
import sys
import tempfile
from pathlib import Path

from numba.core import caching

ENV = "CWRNN_AUDIO_CACHE_DIR"
PACKAGES = ("cwrnn_audio", "cwrnn_audio_plugins")

# numba 0.68 dropped the leading underscore of the class holding the locator list
_CacheImpl = getattr(caching, "CacheImpl", None) or caching._CacheImpl


def cache_dir() -> Path:
    """The preferred folder (1 above); it may not exist or be writable."""
    configured = os.environ.get(ENV)
    if configured:
        return Path(configured).expanduser()
    from platformdirs import user_cache_dir

    return Path(user_cache_dir("cwrnn_audio"))


def _temp_dir() -> Path:
    """``<tempdir>/cwrnn_audio-<uid>``, refused unless it is ours alone: the cache holds pickles that get loaded."""
    uid = os.getuid() if hasattr(os, "getuid") else os.environ.get("USERNAME", "user")
    path = Path(tempfile.gettempdir()) / f"cwrnn_audio-{uid}"
    path.mkdir(mode=0o700, exist_ok=True)
    if hasattr(os, "getuid"):
        st = os.lstat(path)  # not stat: a planted symlink must not count
        if not stat.S_ISDIR(st.st_mode) or st.st_uid != os.getuid() or st.st_mode & 0o022:
            raise PermissionError(f"{path} is not a private folder of this user")
    return path


class KernelCacheLocator(caching._SourceFileBackedLocatorMixin, caching._CacheLocator):
    """Numba cache locator for our functions only (see the module docstring)."""

    def __init__(self, py_func, py_file, root):
        self._py_file = py_file
        self._lineno = py_func.__code__.co_firstlineno
        self._cache_path = os.path.join(root, self.get_suitable_cache_subpath(py_file))

    def get_cache_path(self):
        return self._cache_path

    def get_source_stamp(self):
        """A hash of every ``.py`` file in the kernel's folder, not only its own.

        Kernels inline helpers from sibling files (``fast_tanh``, the SIMD vectors, the optimiser);
        Numba's own stamp covers the kernel's file alone, so an edited helper left stale code running.
        """
        folder = os.path.dirname(self._py_file)
        parts = []
        for name in sorted(os.listdir(folder)):
            if name.endswith(".py"):
                path = os.path.join(folder, name)
                st = os.stat(path)
                parts.append((name, caching._hash_source_file(path, st.st_mtime, st.st_size)))
        return tuple(parts)

    @classmethod
    def from_function(cls, py_func, py_file):
        if getattr(py_func, "__module__", "").split(".")[0] not in PACKAGES or not os.path.exists(py_file):
            return None  # not ours: Numba's own locators decide
        for root in (cache_dir, _temp_dir):
            try:
                self = cls(py_func, py_file, root())
                self.ensure_cache_path()  # creates it and writes a temporary file
                return self
            except (OSError, RuntimeError):  # RuntimeError: '~' in the variable and no home folder
                continue
        return MemoryOnlyLocator(py_func, py_file)


class MemoryOnlyLocator(KernelCacheLocator):
    """Nothing writable: claim the function anyway (else Numba raises 'no locator available'), cache switched off."""

    def __init__(self, py_func, py_file):
        super().__init__(py_func, py_file, os.devnull)  # never created: nothing is loaded or saved
        _disable_cache_being_built()

    def ensure_cache_path(self):
        pass


def _disable_cache_being_built():
    """Turn off the ``numba.core.caching.Cache`` whose constructor is asking for a locator.

    Numba offers no switch for this: ``Cache.__init__`` ends with ``self.enable()``, so the
    instance's ``enable`` is pointed at ``disable``; loads and saves then do nothing.
    """
    frame = sys._getframe(1)
    while frame is not None:
        cache = frame.f_locals.get("self")
        if isinstance(cache, caching.Cache):
            cache.enable = cache.disable
            return
        frame = frame.f_back


def install() -> None:
    """Put the locator first in Numba's list (idempotent). Must run before any kernel is decorated."""
    if KernelCacheLocator not in _CacheImpl._locator_classes:
        _CacheImpl._locator_classes.insert(0, KernelCacheLocator)
