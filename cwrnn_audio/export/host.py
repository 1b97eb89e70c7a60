"""Build the project's C++ host (``host/`` in a checkout: ``cwrnn-host``, libtorch from the torch wheel).

The tests and ``benchmarks/bench_export.py`` run exported files through it, so what they prove runs
without Python. One build per source and torch version, in a cache folder of the user's own (an
executable in a folder others can write could be swapped for theirs: the rule the Numba kernel
cache follows), else a temporary folder.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from ..errors import ParameterError

SOURCES = ("CMakeLists.txt", "cwrnn_host.cpp")


def missing_tools() -> str | None:
    """What building needs and this machine lacks (cmake, a C++ compiler), or None."""
    if shutil.which("cmake") is None:
        return "cmake is not on PATH"
    if not any(shutil.which(cc) for cc in (os.environ.get("CXX", "c++"), "c++", "g++", "clang++")):
        return "no C++ compiler (c++, g++ or clang++) is on PATH"
    return None


def cache_root() -> Path:
    """``$CWRNN_AUDIO_CACHE_DIR`` or the user cache folder when it is ours alone, else a temp folder."""
    configured = os.environ.get("CWRNN_AUDIO_CACHE_DIR")
    if configured:
        root = Path(configured).expanduser()
    else:
        from platformdirs import user_cache_dir

        root = Path(user_cache_dir("cwrnn_audio"))
    try:
        root.mkdir(mode=0o700, parents=True, exist_ok=True)
        st = root.stat()
        if hasattr(os, "getuid") and (st.st_uid != os.getuid() or st.st_mode & 0o022):
            raise PermissionError(root)
        return root
    except OSError:
        return Path(tempfile.mkdtemp(prefix="cwrnn-host-"))


def build_host(source_dir) -> Path:
    """The ``cwrnn-host`` executable built from ``source_dir`` (about 20-60 s the first time)."""
    import torch

    source_dir = Path(source_dir)
    why = missing_tools()
    if why is not None:
        raise ParameterError(f"cannot build cwrnn-host: {why}")
    key = hashlib.sha256(torch.__version__.encode() + torch.utils.cmake_prefix_path.encode())
    for name in SOURCES:
        key.update((source_dir / name).read_bytes())
    root = cache_root()
    final = root / f"host-{key.hexdigest()[:16]}"
    exe = final / "cwrnn-host"
    if exe.is_file():
        return exe
    # built aside and renamed into place: a concurrent session never runs a half-built host
    build = Path(tempfile.mkdtemp(prefix="host-build-", dir=root))
    cmake = shutil.which("cmake")
    steps = [
        [cmake, "-S", str(source_dir), "-B", str(build), "-DCMAKE_BUILD_TYPE=Release",
         f"-DCMAKE_PREFIX_PATH={torch.utils.cmake_prefix_path}"],
        [cmake, "--build", str(build), "-j", "2"],
    ]  # fmt: skip
    for step in steps:
        done = subprocess.run(step, capture_output=True, text=True)
        if done.returncode != 0:
            shutil.rmtree(build, ignore_errors=True)
            raise RuntimeError(
                f"building cwrnn-host failed: {' '.join(step)}\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
            )
    try:
        build.rename(final)
    except OSError:  # another session got there first; its build is as good
        shutil.rmtree(build, ignore_errors=True)
    return exe
