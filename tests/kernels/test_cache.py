"""Compiled kernels go to the per-user cache folder, never into the package (issue 12)."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import cwrnn_audio
from cwrnn_audio.kernels import cache

PACKAGE_DIRS = [Path(cwrnn_audio.__file__).parent, Path(__import__("cwrnn_audio_plugins").__file__).parent]

RUN_MODEL = """
import json, numpy as np, cwrnn_audio
cwrnn_audio.CWRNN(num_modules=2, module_size=4).run(np.zeros((16, 1), np.float32))
from cwrnn_audio.kernels.forward import forward_kernel as k
print(json.dumps({"path": k._cache.cache_path, "hits": len(k.stats.cache_hits), "misses": len(k.stats.cache_misses)}))
"""

# a small kernel, for the fallbacks; tempfile.tempdir is where _temp_dir looks
RUN_SMALL = """
import json, sys, tempfile, numpy as np
tempfile.tempdir = sys.argv[1]
from cwrnn_audio.kernels.sample import pick_class as k
assert k(np.zeros(3, np.float32), 1.0, 0, 0.5) in (0, 1, 2)
print(json.dumps({"path": k._cache.cache_path, "enabled": k._cache._enabled}))
"""


def numba_files(dirs):
    return {(str(p), p.stat().st_mtime_ns) for d in dirs for p in Path(d).rglob("*.nb[ic]")}


def run(code, tmp_path, *args, **env):
    env = {**os.environ, "HOME": str(tmp_path), "CWRNN_AUDIO_CACHE_DIR": str(tmp_path / "cache"), **env}
    r = subprocess.run(
        [sys.executable, "-c", code, *args], cwd=tmp_path, env=env, capture_output=True, text=True
    )
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout.splitlines()[-1])


def test_locator_is_first_and_claims_only_our_functions(tmp_path):
    assert cache._CacheImpl._locator_classes[0] is cache.KernelCacheLocator
    cache.install()  # idempotent
    assert cache._CacheImpl._locator_classes.count(cache.KernelCacheLocator) == 1
    from cwrnn_audio.kernels.sample import pick_class

    src = tmp_path / "theirs.py"
    src.write_text("def f():\n    pass\n")

    def theirs():
        pass

    theirs.__module__ = "theirs"
    assert cache.KernelCacheLocator.from_function(theirs, str(src)) is None
    assert cache.KernelCacheLocator.from_function(pick_class.py_func, pick_class.py_func.__code__.co_filename)


def test_cache_dir_follows_the_environment_variable(monkeypatch, tmp_path):
    monkeypatch.setenv(cache.ENV, str(tmp_path / "x"))
    assert cache.cache_dir() == tmp_path / "x"
    monkeypatch.delenv(cache.ENV)
    from platformdirs import user_cache_dir

    assert cache.cache_dir() == Path(user_cache_dir("cwrnn_audio"))


@pytest.mark.slow
def test_kernels_are_cached_in_the_chosen_folder_and_loaded_from_it(tmp_path):
    before = numba_files(PACKAGE_DIRS)
    first = run(RUN_MODEL, tmp_path)
    assert Path(first["path"]).parent == tmp_path / "cache" and first["misses"] == 1
    index = {p: p.stat().st_mtime_ns for p in (tmp_path / "cache").rglob("*.nbi")}
    assert any(p.name.startswith("forward.forward_kernel-") for p in index)
    assert list((tmp_path / "cache").rglob("*.nbc"))
    second = run(RUN_MODEL, tmp_path)
    assert second["path"] == first["path"] and second["hits"] == 1 and second["misses"] == 0
    assert {p: p.stat().st_mtime_ns for p in index} == index  # loaded, not rewritten
    assert numba_files(PACKAGE_DIRS) == before  # nothing written next to the sources


def test_unwritable_folder_falls_back_to_a_private_temp_folder(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")  # a file where a folder is needed: fails even for root
    temp = tmp_path / "tmp"
    temp.mkdir()
    out = run(RUN_SMALL, tmp_path, str(temp), CWRNN_AUDIO_CACHE_DIR=str(blocker / "cache"))
    private = temp / f"cwrnn_audio-{os.getuid()}"
    assert Path(out["path"]).parent == private and out["enabled"]
    assert list(private.rglob("*.nbi")) and private.stat().st_mode & 0o777 == 0o700


def test_nothing_writable_compiles_in_memory(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    before = numba_files(PACKAGE_DIRS)
    out = run(RUN_SMALL, tmp_path, str(blocker), CWRNN_AUDIO_CACHE_DIR=str(blocker / "cache"))
    assert out["enabled"] is False
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["file"]
    assert numba_files(PACKAGE_DIRS) == before


def test_a_temp_folder_others_can_write_is_refused(tmp_path, monkeypatch):
    monkeypatch.setattr("tempfile.tempdir", str(tmp_path))
    assert cache._temp_dir() == tmp_path / f"cwrnn_audio-{os.getuid()}"
    os.chmod(cache._temp_dir(), 0o777)  # anyone could plant pickles there, which Numba would load
    with pytest.raises(PermissionError):
        cache._temp_dir()


def test_a_kernel_is_stale_once_any_file_of_its_folder_changes(tmp_path):
    """Kernels inline helpers from sibling files (fast_tanh, the SIMD vectors): the stamp that
    decides whether a cached kernel is current covers them too, by content."""
    pkg = tmp_path / "kernels"
    pkg.mkdir()
    kernel, helper = pkg / "kernel.py", pkg / "helper.py"
    kernel.write_text("def k(x):\n    return x\n")
    helper.write_text("A = 1\n")
    (pkg / "notes.txt").write_text("not code")

    def stamp():
        locator = cache.KernelCacheLocator(lambda: None, str(kernel), tmp_path / "cache")
        return locator.get_source_stamp()

    first = stamp()
    assert stamp() == first  # the same files: the same stamp
    helper.write_text("A = 22\n")  # a helper edited, the kernel's own file untouched
    second = stamp()
    assert second != first
    (pkg / "notes.txt").write_text("other")  # not Python: no effect
    assert stamp() == second
    (pkg / "new.py").write_text("")  # a new helper file
    assert stamp() != second
