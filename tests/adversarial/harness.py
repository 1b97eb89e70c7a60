"""The adversarial cases of ``../shared/DEFECTS.md`` and issue 25, each a function that raises
``AssertionError`` (with what it saw) when the library misbehaves.

Cases live in ``cases_<area>.py`` beside this file and register with :func:`case`;
``run.py`` prints one verdict per case, ``test_adversarial.py`` runs them under pytest.
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
CASES: dict[str, callable] = {}


def case(label: str):
    """Register ``fn(tmp_path)`` under ``label`` (e.g. ``"D1 free_run with too many voices"``)."""

    def register(fn):
        if label in CASES:
            raise ValueError(f"two cases named {label!r}")
        CASES[label] = fn
        return fn

    return register


def load_all() -> dict:
    for path in sorted(HERE.glob("cases_*.py")):
        name = f"adversarial_{path.stem}"
        if name in sys.modules:
            continue
        spec = importlib.util.spec_from_file_location(name, path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return CASES


def python(code: str, *, cwd=None, timeout: float = 300, env=None) -> subprocess.CompletedProcess:
    """Run ``code`` in a fresh interpreter (a crash there cannot take the runner down)."""
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=cwd, timeout=timeout, env=env
    )


def cli(*args: str, cwd=None, timeout: float = 300, env=None) -> subprocess.CompletedProcess:
    """Run ``cwrnn-audio ARGS`` as a user would (through ``python -m cwrnn_audio``)."""
    return subprocess.run(
        [sys.executable, "-m", "cwrnn_audio", *map(str, args)],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=timeout,
        env=env,
    )


#: appended to a subprocess's code that defines ``CALLS = [(label, call), ...]``: prints every call
#: that does not raise ParameterTypeError (the case then fails on what was printed)
REPORT_NOT_TYPE_ERRORS = """
from cwrnn_audio.errors import ParameterTypeError
for label, call in CALLS:
    try:
        call()
        print(label, "accepted")
    except ParameterTypeError:
        pass
    except Exception as exc:
        print(label, type(exc).__name__, exc)
"""


def no_traceback(r: subprocess.CompletedProcess, *, code: int) -> None:
    """The CLI failed as a user mistake should: exit ``code``, a message, no traceback."""
    assert "Traceback" not in r.stderr, r.stderr[-2000:]
    assert r.returncode == code, f"exit {r.returncode}, wanted {code}: {r.stderr[-500:]}"
