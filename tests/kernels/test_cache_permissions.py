"""Every kernel cache folder must be this user's alone (DEFECTS 2).

Numba's index files are pickles, loaded when a kernel is first called: a file planted by another
user in a cache folder they can write runs as whoever renders next. The temp-folder fallback was
already refused unless private; ``$CWRNN_AUDIO_CACHE_DIR`` and the user cache folder were used
whatever their owner and mode.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

# a small kernel; "enabled" is False when it was compiled in memory, uncached
RUN_SMALL = """
import json, sys, tempfile, warnings, numpy as np
tempfile.tempdir = sys.argv[1]
from cwrnn_audio.kernels.sample import pick_class as k
from cwrnn_audio.kernels.forward import forward_kernel as f  # a second kernel: still one warning
assert k(np.zeros(3, np.float32), 1.0, 0, 0.5) in (0, 1, 2)
print(json.dumps({"path": k._cache.cache_path, "enabled": k._cache._enabled, "other": f._cache._enabled}))
"""

as_root = pytest.mark.skipif(not hasattr(os, "getuid") or os.getuid() != 0, reason="chown needs root")
posix = pytest.mark.skipif(not hasattr(os, "getuid"), reason="POSIX owners and modes")


def run(tmp_path, cache, temp=None):
    """RUN_SMALL with ``cache`` as $CWRNN_AUDIO_CACHE_DIR: (its JSON, its stderr)."""
    temp = temp or tmp_path / "tmp"
    temp.mkdir(exist_ok=True)
    env = {**os.environ, "HOME": str(tmp_path), "CWRNN_AUDIO_CACHE_DIR": str(cache)}
    r = subprocess.run(
        [sys.executable, "-W", "always", "-c", RUN_SMALL, str(temp)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout.splitlines()[-1]), r.stderr


def files_in(folder):
    return sorted(str(p.relative_to(folder)) for p in Path(folder).rglob("*"))


def assert_refused(out, err, folder, why):
    assert out["enabled"] is False and out["other"] is False, out  # compiled in memory
    warnings = [line for line in err.splitlines() if "not caching compiled kernels" in line]
    assert len(warnings) == 1, err  # once, though two kernels asked
    assert str(folder) in warnings[0] and why in warnings[0], warnings[0]


@posix
def test_a_cache_folder_others_can_write_is_refused_with_one_warning(tmp_path):
    shared = tmp_path / "shared"
    shared.mkdir()
    os.chmod(shared, 0o777)
    out, err = run(tmp_path, shared)
    assert_refused(out, err, shared, "others can write to it")
    assert files_in(shared) == []  # nothing created, nothing loaded
    assert not list((tmp_path / "tmp").iterdir())  # no silent move to the temp folder either


@posix
def test_a_group_writable_cache_folder_is_refused(tmp_path):
    shared = tmp_path / "group"
    shared.mkdir()
    os.chmod(shared, 0o775)
    out, err = run(tmp_path, shared)
    assert_refused(out, err, shared, "0o775")


@as_root
def test_a_cache_folder_of_another_user_is_refused(tmp_path):
    theirs = tmp_path / "theirs"
    theirs.mkdir(mode=0o755)
    os.chown(theirs, 12345, -1)
    out, err = run(tmp_path, theirs)
    assert_refused(out, err, theirs, "owned by uid 12345")


@as_root
def test_a_file_another_user_planted_earlier_is_refused(tmp_path):
    cache = tmp_path / "cache"
    first, _ = run(tmp_path, cache)  # a private folder, filled
    sub = Path(first["path"])
    planted = next(sub.glob("*.nbi"))
    os.chown(planted, 12345, -1)  # as if written while the folder was open to others
    out, err = run(tmp_path, cache)
    assert_refused(out, err, sub, f"{planted.name} in it is owned by uid 12345")


@posix
def test_a_kernel_subfolder_others_can_write_is_refused(tmp_path):
    cache = tmp_path / "cache"
    first, _ = run(tmp_path, cache)
    os.chmod(first["path"], 0o777)
    out, err = run(tmp_path, cache)
    assert_refused(out, err, first["path"], "others can write to it")


@posix
def test_the_users_own_private_folder_is_used_and_made_private(tmp_path):
    old = os.umask(0o002)  # a common umask: new folders would be group-writable
    try:
        cache = tmp_path / "new" / "cache"
        out, err = run(tmp_path, cache)
    finally:
        os.umask(old)
    assert "not caching" not in err, err
    assert out["enabled"] and Path(out["path"]).parent == cache
    assert list(cache.rglob("*.nbi"))
    for folder in (cache, Path(out["path"])):  # created private whatever the umask
        assert folder.stat().st_mode & 0o777 == 0o700
    mine = tmp_path / "mine"
    mine.mkdir(mode=0o755)  # an existing folder of this user that others can read: fine
    os.chmod(mine, 0o755)
    out, err = run(tmp_path, mine)
    assert "not caching" not in err and out["enabled"] and Path(out["path"]).parent == mine


@posix
def test_the_temp_fallback_warns_too_when_it_is_not_private(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")  # the chosen folder cannot be created: the temp folder is tried
    temp = tmp_path / "tmp"
    temp.mkdir()
    private = temp / f"cwrnn_audio-{os.getuid()}"
    private.mkdir()
    os.chmod(private, 0o777)
    out, err = run(tmp_path, blocker / "cache", temp)
    assert_refused(out, err, private, "others can write to it")
