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

Numba's index files are pickles, loaded when a kernel is first called: a file someone else could
plant runs as whoever calls the kernel next. So 1 and 2, and their subfolders, are used only when
they belong to this user and no one else can write to them (new ones are made with mode 0o700),
and hold no entry of another owner; otherwise a warning names the folder and why, once per
process, and the kernels compile in memory (3): a folder open to others is not silently replaced.
"""

from __future__ import annotations

import os
import sys
import tempfile
import warnings
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


class UnsafeCacheFolder(PermissionError):
    """A cache folder that someone other than this user could write to (see the module docstring)."""

    def __init__(self, folder, reason: str):
        super().__init__(f"{folder} is not a private folder of this user: {reason}")
        self.folder, self.reason = str(folder), reason


def _foreign(st: os.stat_result) -> str | None:
    """Who else owns a file or folder with this ``stat``, or None when this user does."""
    if st.st_uid != os.getuid():
        return f"owned by uid {st.st_uid}, not by this user (uid {os.getuid()})"
    return None


_clean: set[str] = set()  # subfolders whose entries were found all ours, in this process


def _private(path: Path, *, entries: bool = False) -> Path:
    """``path`` as a folder of this user's alone, made (mode 0o700) if missing; else UnsafeCacheFolder.

    ``entries``: also refuse any entry another user owns (planted while the folder was open).
    Followed if a symlink: the user may point the variable or ``~/.cache`` anywhere of theirs.
    """
    if not path.is_dir():
        path.parent.mkdir(parents=True, exist_ok=True)  # ancestors with the usual mode: not ours to judge
        path.mkdir(mode=0o700, exist_ok=True)
    if not hasattr(os, "getuid"):
        return path  # Windows: no POSIX owner or mode bits; the user's profile folder is private
    st = os.stat(path)
    reason = None
    if owner := _foreign(st):
        reason = f"it is {owner}"
    elif st.st_mode & 0o022:
        reason = f"others can write to it (mode {oct(st.st_mode & 0o777)})"
    elif entries and str(path) not in _clean:
        for entry in os.scandir(path):
            if owner := _foreign(entry.stat(follow_symlinks=False)):
                reason = f"{entry.name} in it is {owner}"
                break
        else:
            _clean.add(str(path))
    if reason:
        raise UnsafeCacheFolder(path, reason)
    return path


def _temp_dir() -> Path:
    """``<tempdir>/cwrnn_audio-<uid>``, refused unless it is ours alone: the cache holds pickles that get loaded."""
    uid = os.getuid() if hasattr(os, "getuid") else os.environ.get("USERNAME", "user")
    path = Path(tempfile.gettempdir()) / f"cwrnn_audio-{uid}"
    path.mkdir(mode=0o700, exist_ok=True)
    if hasattr(os, "getuid") and os.path.islink(path):  # anyone may plant a symlink in the temp folder
        raise UnsafeCacheFolder(path, "it is a symbolic link in the shared temp folder")
    return _private(path)


_warned: set[str] = set()


def _warn_once(exc: UnsafeCacheFolder) -> None:
    if exc.folder in _warned:
        return
    _warned.add(exc.folder)
    warnings.warn(
        f"cwrnn_audio: not caching compiled kernels in {exc.folder}: {exc.reason}. Numba's cache "
        "files are pickles that run code when loaded, so the kernels compile in memory in this "
        f"process instead (a slower start). Delete that folder (always safe), or set {ENV} to a "
        "folder that only you can write.",
        stacklevel=2,
    )


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
                self = cls(py_func, py_file, _private(root()))
                self.ensure_cache_path()  # creates its subfolder and writes a temporary file
                _private(Path(self._cache_path), entries=True)
                return self
            except UnsafeCacheFolder as exc:  # open to others: warn, never fall back silently
                _warn_once(exc)
                break
            except (OSError, RuntimeError):  # RuntimeError: '~' in the variable and no home folder
                continue
        return MemoryOnlyLocator(py_func, py_file)

    def ensure_cache_path(self):
        """Numba's, but the subfolder is made private (Numba also calls this before each save)."""
        os.makedirs(self._cache_path, mode=0o700, exist_ok=True)
        tempfile.TemporaryFile(dir=self._cache_path).close()


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
