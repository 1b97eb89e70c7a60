"""Build a real wheel once and use it from outside the checkout."""
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
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(out), str(ROOT)],
        check=True,
    )
    (whl,) = out.glob("cwrnn_audio-*.whl")
    return whl


def test_wheel_holds_every_subpackage_plugins_and_samples(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    for init in (ROOT / "cwrnn_audio").rglob("__init__.py"):
        rel = init.relative_to(ROOT).as_posix()
        assert rel in names, f"{rel} missing from the wheel: add its package to pyproject.toml"
    assert "cwrnn_audio_plugins/__init__.py" in names
    assert "cwrnn_audio_samples/pluck_melody.wav" in names
    for name in ("midi/tune_0.mid", "models/melody/model.safetensors", "models/piano_mel/adapter.json", "models/effect_drive/model.safetensors",
                 "models/bach_mulaw/model.safetensors", "bach_prelude_fluidr3.flac"):  # fmt: skip
        assert f"cwrnn_audio_samples/{name}" in names, name
    entry = next(n for n in names if n.endswith("entry_points.txt"))
    text = zipfile.ZipFile(wheel).read(entry).decode()
    assert "cwrnn-audio = cwrnn_audio.cli.main:main" in text
    assert "[cwrnn_audio.plugins]" in text and "effect = cwrnn_audio_plugins.effect:Effect" in text
    assert "generator = cwrnn_audio_plugins.generator:Generator" in text and "continuator = " in text


def test_installed_wheel_runs_the_demo_outside_the_checkout(wheel, tmp_path):
    site = tmp_path / "site"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(site), str(wheel)], check=True
    )
    code = "import cwrnn_audio, sys; print(cwrnn_audio.__file__); sys.exit(__import__('cwrnn_audio.cli.main', fromlist=['main']).main(['demo', '-q']))"
    r = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True,
        env={"PYTHONPATH": str(site), "PATH": "/usr/bin:/bin", "HOME": str(tmp_path)},
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines()[0].startswith(str(site))  # not the checkout
    assert (tmp_path / "cwrnn_demo.wav").is_file()
    # the built-in plugins resolve through the wheel's entry points, to the wheel's files
    code = ("import sys; from cwrnn_audio.plugin import get_plugin; cls = get_plugin('effect'); "
            "print(sys.modules[cls.__module__].__file__); cls().prepare(48000, 64, 1)")  # fmt: skip
    r = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True,
                       env={"PYTHONPATH": str(site), "PATH": "/usr/bin:/bin", "HOME": str(tmp_path)})  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip().startswith(str(site))
