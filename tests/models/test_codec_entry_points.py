"""Codecs from other packages: the entry-point group ``cwrnn_audio.codecs``.

A throwaway package declaring a codec is installed (offline) into a temp venv, and a fresh
interpreter of that venv finds it by name through the registry, a model folder and the CLI.
"""

from __future__ import annotations

import json
import subprocess
import sys
import sysconfig
import textwrap
from importlib.metadata import EntryPoint
from pathlib import Path

import pytest

from cwrnn_audio.errors import ParameterError
from cwrnn_audio.models import registry

PYPROJECT = """\
[build-system]
requires = ["setuptools"]
build-backend = "setuptools.build_meta"

[project]
name = "quiet-codec"
version = "0.1"

[project.entry-points."cwrnn_audio.codecs"]
quiet = "quiet_codec:Quiet"
broken = "quiet_codec_gone:Nope"

[tool.setuptools]
py-modules = ["quiet_codec"]
"""

# Raw samples played back at a gain: a real audio codec (it generates), with a setting of its own.
# It sets no ``name``: the registry gives it the entry point's.
MODULE = """\
from cwrnn_audio.adapters.raw import RawAdapter


class Quiet(RawAdapter):
    def __init__(self, *, sample_rate=8000, gain=0.5):
        super().__init__(sample_rate=sample_rate)
        self.gain = float(gain)

    def decode(self, values):
        return super().decode(values) * self.gain

    def settings(self):
        return {**super().settings(), "gain": self.gain}
"""


def make_venv(root: Path) -> Path:
    """A venv holding only the throwaway package; returns its python.

    ``--system-site-packages`` reaches the base interpreter's packages, not this (maybe virtual)
    environment's, so a ``.pth`` adds this environment's site-packages (with its editable
    cwrnn_audio, torch and pip) behind the venv's own: the package's entry points come from the venv.
    """
    pkg = root / "pkg"
    pkg.mkdir(parents=True)
    (pkg / "pyproject.toml").write_text(PYPROJECT)
    (pkg / "quiet_codec.py").write_text(MODULE)
    venv = root / "venv"
    subprocess.run(
        [sys.executable, "-m", "venv", "--system-site-packages", "--without-pip", venv], check=True
    )
    py = venv / "bin" / "python"
    site = subprocess.run(
        [py, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    parent = sysconfig.get_paths()["purelib"]
    (Path(site) / "_parent_env.pth").write_text(f"import site; site.addsitedir({parent!r})\n")
    r = subprocess.run(
        [py, "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation", "--no-index", pkg],
        capture_output=True,
        text=True,
    )
    assert r.returncode == 0, r.stdout + r.stderr
    return py


def run(py: Path, code: str, *args, cwd=None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [py, "-c", textwrap.dedent(code), *map(str, args)],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=300,
    )


@pytest.fixture(scope="module")
def venv_python(tmp_path_factory):
    pytest.importorskip("setuptools")  # the offline build of the throwaway package needs it
    return make_venv(tmp_path_factory.mktemp("codec_ep"))


API = """
import json, sys
from cwrnn_audio import CWRNN
from cwrnn_audio.errors import ParameterError
from cwrnn_audio.models import codec_from_dict, codec_names, save_model_dir

out = {"names": codec_names(), "imported_before_use": "quiet_codec" in sys.modules}
codec = codec_from_dict({"encoding": "quiet", "sample_rate": 8000, "gain": 0.25}, domain="audio")
out["audio_names"] = codec_names("audio")
out["class"] = f"{type(codec).__module__}.{type(codec).__name__}"
out["dict"] = codec.to_dict()
model = CWRNN(input_size=1, output_size=1, num_modules=2, module_size=2)
save_model_dir(sys.argv[1], model, codec)
for name in ("broken", "nope"):
    try:
        codec_from_dict({"encoding": name})
    except ParameterError as exc:
        out[name] = str(exc)
print(json.dumps(out))
"""


@pytest.fixture(scope="module")
def api(venv_python, tmp_path_factory):
    folder = tmp_path_factory.mktemp("quiet_model") / "m"
    r = run(venv_python, API, folder)
    assert r.returncode == 0, r.stderr
    return folder, json.loads(r.stdout.splitlines()[-1])


def test_found_by_name_in_a_fresh_process_and_imported_only_when_asked(api):
    _, out = api
    assert "quiet" in out["names"] and "broken" in out["names"] and "raw" in out["names"]
    assert out["imported_before_use"] is False
    assert out["class"] == "quiet_codec.Quiet"
    assert out["dict"] == {"encoding": "quiet", "sample_rate": 8000, "gain": 0.25}
    # a broken package leaves the domain's list without it instead of breaking every encoding
    assert out["audio_names"] == ["raw", "mulaw", "mel", "harmonic", "quiet"]


def test_unknown_codec_names_itself_the_known_ones_and_how_to_install(api):
    _, out = api
    msg = out["nope"]
    assert "'nope'" in msg and "'quiet'" in msg and "'raw'" in msg
    assert "pip install" in msg and "'cwrnn_audio.codecs'" in msg


def test_a_broken_entry_point_is_named(api):
    _, out = api
    msg = out["broken"]
    assert "entry point broken = 'quiet_codec_gone:Nope'" in msg and "quiet_codec_gone" in msg


def test_a_model_folder_round_trips_in_another_fresh_process(api, venv_python):
    folder, _ = api
    assert json.loads((folder / "adapter.json").read_text())["encoding"] == "quiet"
    r = run(
        venv_python,
        """
        import sys
        from cwrnn_audio.models import load_model_dir
        model, codec, playback = load_model_dir(sys.argv[1])
        print(type(codec).__module__, codec.name, codec.gain, codec.sample_rate)
        """,
        folder,
    )
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["quiet_codec", "quiet", "0.25", "8000"]


def test_the_cli_generates_from_that_folder(api, venv_python, tmp_path):
    folder, _ = api
    wav = tmp_path / "out.wav"
    code = "import sys; from cwrnn_audio.cli.main import main; sys.exit(main(sys.argv[1:]))"
    r = run(venv_python, code, "generate", folder, "--seconds", "0.01", "-o", wav)
    assert r.returncode == 0, r.stderr
    import soundfile as sf

    audio, rate = sf.read(wav)
    assert rate == 8000 and len(audio) == 80


# In-process: the registry's rules, with a faked entry point (no install needed) --------------


@pytest.fixture
def fake_entry_points(monkeypatch):
    """Entry points ``eps`` seen by a registry that has not looked yet; its state restored after."""
    import importlib.metadata

    saved = (dict(registry._CODECS), set(registry._FROM_ENTRY_POINTS), registry._discovered)

    def install(*eps):
        found = [EntryPoint(name=n, value=v, group=registry.GROUP) for n, v in eps]
        monkeypatch.setattr(importlib.metadata, "entry_points", lambda group=None: found)
        monkeypatch.setattr(registry, "_discovered", False)

    yield install
    registry._CODECS.clear()
    registry._CODECS.update(saved[0])
    registry._FROM_ENTRY_POINTS.clear()
    registry._FROM_ENTRY_POINTS.update(saved[1])
    registry._discovered = saved[2]


def test_an_entry_point_cannot_take_a_built_in_name(fake_entry_points):
    fake_entry_points(("raw", "json:JSONDecoder"))
    from cwrnn_audio.adapters.raw import RawAdapter

    assert registry.codec_class("raw") is RawAdapter


def test_codecs_read_from_outside_include_entry_points(fake_entry_points):
    fake_entry_points(("elsewhere", "cwrnn_audio.adapters.raw:RawAdapter"))
    assert "elsewhere" in registry.CODECS


@pytest.mark.parametrize(
    "value, match",
    [
        ("json:JSONDecoder", r"entry point odd = 'json:JSONDecoder' .* is not a Codec subclass"),
        ("cwrnn_audio.adapters.raw:NoSuch", r"entry point odd = .* cannot be loaded .*NoSuch"),
        ("cwrnn_audio.midi.melody:MelodyEncoding", r"entry point odd = .* is a codec named 'melody'"),
    ],
)
def test_entry_points_that_are_not_codecs_of_their_name(fake_entry_points, value, match):
    fake_entry_points(("odd", value))
    with pytest.raises(ParameterError, match=match):
        registry.codec_class("odd")
    assert "odd" not in registry.codec_names("audio") and "odd" not in registry.codec_names("midi")
