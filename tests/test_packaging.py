"""Build a real wheel once and use it from outside the checkout."""

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def wheel(tmp_path_factory):
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(out),
            str(ROOT),
        ],
        check=True,
    )
    (whl,) = out.glob("cwrnn_audio-*.whl")
    return whl


def snapshot(site):
    """Every file and folder of the installed packages, with size and mtime: proof nothing was written there."""
    paths = [p for d in Path(site).glob("cwrnn_audio*") for p in [d, *d.rglob("*")]]
    return {(str(p), p.stat().st_size, p.stat().st_mtime_ns) for p in paths}


def python_outside(code, site, home):
    """``python -c code`` run in ``home`` (its HOME too) with only ``site`` on its path: the checkout out of reach."""
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=home,
        capture_output=True,
        text=True,
        env={"PYTHONPATH": str(site), "PATH": "/usr/bin:/bin", "HOME": str(home)},
    )


def test_wheel_holds_every_subpackage_plugins_and_samples(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    for init in (ROOT / "cwrnn_audio").rglob("__init__.py"):
        rel = init.relative_to(ROOT).as_posix()
        assert rel in names, f"{rel} missing from the wheel: add its package to pyproject.toml"
    assert "cwrnn_audio_plugins/__init__.py" in names
    assert "cwrnn_audio_samples/pluck_melody.wav" in names
    for name in (
        "midi/tune_0.mid",
        "models/melody/model.safetensors",
        "models/piano_mel/adapter.json",
        "models/effect_drive/model.safetensors",
        "models/bach_mulaw/model.safetensors",
        "models/flute_harmonic/expression/model.safetensors",
        "models/flute_harmonic/expression_live/codec.json",
        "bach_prelude_fluidr3.flac",
    ):
        assert f"cwrnn_audio_samples/{name}" in names, name
    entry = next(n for n in names if n.endswith("entry_points.txt"))
    text = zipfile.ZipFile(wheel).read(entry).decode()
    assert "cwrnn-audio = cwrnn_audio.cli.main:main" in text
    assert "[cwrnn_audio.plugins]" in text and "effect = cwrnn_audio_plugins.effect:Effect" in text
    assert "generator = cwrnn_audio_plugins.generator:Generator" in text and "continuator = " in text


def test_installed_wheel_runs_the_demo_outside_the_checkout(wheel, tmp_path):
    site = tmp_path / "site"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(site), str(wheel)],
        check=True,
    )
    before = snapshot(site)
    code = "import cwrnn_audio, sys; print(cwrnn_audio.__file__); sys.exit(__import__('cwrnn_audio.cli.main', fromlist=['main']).main(['demo', '-q']))"
    r = python_outside(code, site, tmp_path)
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines()[0].startswith(str(site))  # not the checkout
    assert (tmp_path / "cwrnn_demo.wav").is_file()
    assert snapshot(site) == before  # the kernels were cached in the user's cache folder instead
    assert list((tmp_path / ".cache" / "cwrnn_audio").rglob("forward.forward_kernel-*.nbi"))
    # the built-in plugins resolve through the wheel's entry points, to the wheel's files
    code = (
        "import sys; from cwrnn_audio.plugin import get_plugin; cls = get_plugin('effect'); "
        "print(sys.modules[cls.__module__].__file__); cls().prepare(48000, 64, 1)"
    )
    r = python_outside(code, site, tmp_path)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip().startswith(str(site))


def test_install_run_uninstall_leaves_nothing_behind(wheel, tmp_path):
    """Issue 12: Numba's cache files in site-packages outlived ``pip uninstall`` and shadowed the next install."""
    venv = tmp_path / "venv"
    subprocess.run(
        [sys.executable, "-m", "venv", "--system-site-packages", "--without-pip", str(venv)], check=True
    )
    python = str(venv / "bin" / "python")
    site = Path(
        subprocess.run(
            [python, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    )
    # --system-site-packages reaches the base interpreter's; when pytest itself runs in a venv (.ci/run),
    # its numpy, numba and pip live there: list them after the new venv's own folder
    (site / "outer.pth").write_text("\n".join(__import__("site").getsitepackages()) + "\n")
    env = {**os.environ, "HOME": str(tmp_path), "PIP_DISABLE_PIP_VERSION_CHECK": "1"}
    env.pop("CWRNN_AUDIO_CACHE_DIR", None)  # the default folder, under this HOME
    code = (
        "import cwrnn_audio, numpy as np; from cwrnn_audio.kernels.sample import pick_class; "
        "assert pick_class(np.zeros(3, np.float32), 1.0, 0, 0.5) >= 0; print(cwrnn_audio.__file__)"
    )
    for _ in range(2):
        pip = [python, "-m", "pip", "-q"]
        subprocess.run([*pip, "install", "--no-deps", "--ignore-installed", str(wheel)], check=True, env=env)
        before = snapshot(site)
        r = subprocess.run([python, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True)
        assert r.returncode == 0, r.stderr
        assert Path(r.stdout.strip()).is_relative_to(site)  # the venv's copy, not the checkout
        assert snapshot(site) == before
        subprocess.run([*pip, "uninstall", "-y", "cwrnn-audio"], check=True, env=env)
        assert not list(site.glob("cwrnn_audio*"))
    assert list((tmp_path / ".cache" / "cwrnn_audio").rglob("sample.pick_class-*.nbi"))


def test_every_test_file_has_a_basename_of_its_own():
    """pytest imports test files by basename (no __init__.py in tests/): two alike stop the collection."""
    from collections import Counter
    from pathlib import Path

    names = Counter(p.name for p in Path(__file__).parent.rglob("test_*.py"))
    assert [n for n, c in names.items() if c > 1] == []
