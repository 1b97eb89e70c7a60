import subprocess
import sys
import textwrap

import pytest

from cwrnn_audio import ParameterError
from cwrnn_audio.plugin import Plugin, available_plugins, get_plugin, register_plugin


def test_builtin_effect_comes_from_the_entry_point():
    assert "effect" in available_plugins()
    assert get_plugin("effect").__module__ == "cwrnn_audio_plugins.effect"


@pytest.fixture
def scratch_registry(monkeypatch):
    """Registrations made by a test are undone after it: later tests see only the real plugins."""
    from cwrnn_audio.plugin import registry

    available_plugins()  # discover the entry points first, so the copy holds them
    monkeypatch.setattr(registry, "_registry", dict(registry._registry))


def test_register_refuses_clashes_and_missing_plugins_say_how_to_install(scratch_registry):
    class Mine(Plugin):
        name = "mine-test"

    register_plugin("mine-test", Mine)
    assert get_plugin("mine-test") is Mine
    with pytest.raises(ParameterError, match="already registered"):
        register_plugin("mine-test", "other.module:Thing")
    register_plugin("mine-test", "other.module:Thing", clobber=True)
    with pytest.raises(ParameterError, match="cannot be loaded"):
        get_plugin("mine-test")
    with pytest.raises(ParameterError, match="pip install"):
        get_plugin("no-such-plugin")
    with pytest.raises(TypeError, match="non-empty string"):
        register_plugin(3, Mine)


def test_plugin_hooks_are_abstract():
    class Half(Plugin):
        name = "half"

        def _prepare(self, sr, block, channels):
            pass

    with pytest.raises(TypeError, match="abstract"):
        Half()


def test_a_third_party_package_adds_a_plugin_through_its_entry_point(tmp_path):
    pkg = tmp_path / "src"
    (pkg / "loudness_plugin").mkdir(parents=True)
    (pkg / "loudness_plugin" / "__init__.py").write_text(
        textwrap.dedent('''
        from cwrnn_audio.plugin import Parameter, Plugin

        class Gain(Plugin):
            """Multiplies the signal."""
            name = "gain"
            parameters = (Parameter("factor", 0.0, 4.0, 2.0),)
            def _prepare(self, sr, block, channels): pass
            def _process(self, audio): return audio * self["factor"]
            def _reset(self): pass
            def _state_arrays(self): return {}
            def _load_state_arrays(self, arrays): pass
    ''')
    )
    (pkg / "pyproject.toml").write_text(
        textwrap.dedent("""
        [build-system]
        requires = ["setuptools>=68"]
        build-backend = "setuptools.build_meta"
        [project]
        name = "loudness-plugin"
        version = "0.1"
        [project.entry-points."cwrnn_audio.plugins"]
        gain = "loudness_plugin:Gain"
    """)
    )
    site = tmp_path / "site"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "-q",
            "--no-deps",
            "--no-build-isolation",
            "--target",
            str(site),
            str(pkg),
        ],
        check=True,
    )
    code = (
        "import sys; sys.path.insert(0, %r); import numpy as np; from cwrnn_audio.plugin import get_plugin; "
        "g = get_plugin('gain')(); print(g(np.ones((1, 4), np.float32), 48000)[0].tolist())"
    ) % str(site)
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "[2.0, 2.0, 2.0, 2.0]"
