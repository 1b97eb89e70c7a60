"""Model folders, sample-rate ranges and the error contract (issue 25 items 3 and 5, DEFECTS.md 9)."""

from __future__ import annotations

import json
import math

from harness import REPORT_NOT_TYPE_ERRORS, case, cli, no_traceback, python

# label -> (folder kind, file, new content or changes, key the message must name)
HOSTILE = {
    "config.json = []": ("raw", "config.json", "[]", None),
    "adapter.json a list": ("raw", "adapter.json", "[1]", None),
    "kind a list": ("raw", "config.json", {"kind": ["CWRNN"]}, "kind"),
    "non-UTF-8 adapter.json": ("raw", "adapter.json", b"\xff\xfe\x81\x00binary", None),
    "deep nesting": ("raw", "adapter.json", "[" * 100_000 + "]" * 100_000, None),
    "tempo_bpm fast": ("midi", "encoding.json", {"tempo_bpm": "fast"}, "tempo_bpm"),
    "tempo_bpm 0": ("midi", "encoding.json", {"tempo_bpm": 0}, "tempo_bpm"),
    "tempo_bpm NaN": ("midi", "encoding.json", {"tempo_bpm": math.nan}, "tempo_bpm"),
    "program 999": ("midi", "encoding.json", {"program": 999}, "program"),
    "pitch_range 5": ("raw", "adapter.json", {"encoding": "harmonic", "pitch_range": 5}, "pitch_range"),
    "sample_rate 1e12": ("raw", "adapter.json", {"sample_rate": 10**12}, "sample_rate"),
}


def _make(root, label):
    from cwrnn_audio import CWRNN
    from cwrnn_audio.models import make_codec, save_model_dir

    kind, name, content, _ = HOSTILE[label]
    codec = make_codec("raw", sample_rate=8000) if kind == "raw" else make_codec("melody")
    model = CWRNN(input_size=codec.input_size, output_size=codec.output_size, num_modules=2, module_size=2)
    extra = {"program": 0, "tempo_bpm": 120.0} if kind == "midi" else {}
    folder = save_model_dir(root / label.replace(" ", "_").replace("=", "eq"), model, codec, **extra)
    p = folder / name
    if isinstance(content, dict):
        p.write_text(json.dumps({**json.loads(p.read_text()), **content}))
    elif isinstance(content, bytes):
        p.write_bytes(content)
    else:
        p.write_text(content)
    return folder


def _cli_all(tmp_path, labels) -> tuple:
    """({label: (exit code, stderr)} of ``generate FOLDER -o x.wav``, all in one fresh process; folders)."""
    folders = {label: str(_make(tmp_path, label)) for label in labels}
    code = f"""
import contextlib, io, json
from cwrnn_audio.cli.main import main
out = {{}}
for label, folder in {folders!r}.items():
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        rc = main(["generate", folder, "-o", {str(tmp_path / "x.wav")!r}])
    out[label] = (rc, err.getvalue())
print(json.dumps(out))
"""
    r = python(code)
    assert r.returncode == 0, r.stderr[-1500:]
    return {k: tuple(v) for k, v in json.loads(r.stdout.strip().splitlines()[-1]).items()}, folders


def _check_cli(tmp_path, labels):
    results, folders = _cli_all(tmp_path, labels)
    bad = []
    for label, (rc, err) in results.items():
        _, name, _, key = HOSTILE[label]
        named = f"{folders[label]}/{name}" in err and (key is None or key in err)
        if rc != 2 or "Traceback" in err or not named:
            bad.append(f"{label}: exit {rc}, {err.strip()[-160:]!r}")
    assert not bad, "; ".join(bad)


@case("D9 hostile model-folder JSON through the CLI: exit 2, file and key named")
def d9_cli(tmp_path):
    _check_cli(tmp_path, list(HOSTILE))


@case("D9 hostile model-folder JSON through load_model_dir: ParameterError naming the file")
def d9_python(tmp_path):
    from cwrnn_audio.errors import ParameterError
    from cwrnn_audio.models import load_model_dir

    bad = []
    for label in HOSTILE:
        folder = _make(tmp_path, label)
        _, name, _, key = HOSTILE[label]
        try:
            load_model_dir(folder)
            bad.append(f"{label}: loaded")
        except ParameterError as exc:
            if str(folder / name) not in str(exc) or (key is not None and key not in str(exc)):
                bad.append(f"{label}: {exc}")
        except BaseException as exc:  # noqa: BLE001 - what a user would see is the finding
            bad.append(f"{label}: raw {type(exc).__name__}: {str(exc)[:100]}")
    assert not bad, "; ".join(bad)


@case("I25.5 malformed model folder (wrong types, tempo 0/NaN, binary file) exits 2, not 1")
def i25_5_folder(tmp_path):
    _check_cli(
        tmp_path,
        [
            "config.json = []",
            "kind a list",
            "tempo_bpm fast",
            "tempo_bpm 0",
            "tempo_bpm NaN",
            "non-UTF-8 adapter.json",
        ],
    )


@case("I25.5 CWRNN forward with a wrong type raises ParameterTypeError")
def i25_5_forward(tmp_path):
    r = python(
        """
import numpy as np, torch
from cwrnn_audio import CWRNN
from cwrnn_audio.errors import ParameterTypeError
m = CWRNN(input_size=2, output_size=1, num_modules=2, module_size=2)
CALLS = [
    ("ndarray input", lambda: m(np.zeros((1, 3, 2), np.float32))),
    ("int64 tensor", lambda: m(torch.zeros(1, 3, 2, dtype=torch.int64))),
    ("hx not a pair", lambda: m(torch.zeros(1, 3, 2), hx=5)),
    ("float step counters", lambda: m(torch.zeros(1, 3, 2), hx=(torch.zeros(1, 4), torch.zeros(1)))),
]
"""
        + REPORT_NOT_TYPE_ERRORS
    )
    assert r.returncode == 0 and not r.stdout.strip(), (r.stdout + r.stderr)[-800:]


@case("I25.3 a 1 Hz audio file is refused before training, naming the rate and range")
def i25_3_file(tmp_path):
    import numpy as np
    import soundfile as sf

    sf.write(tmp_path / "one_hz.wav", 0.5 * np.sin(np.arange(64)).astype(np.float32), 1)
    r = cli(
        "train",
        "audio",
        tmp_path / "one_hz.wav",
        "--encoding",
        "raw",
        "--out",
        tmp_path / "m",
        "--epochs",
        "1",
    )
    no_traceback(r, code=2)
    assert "got 1" in r.stderr and "from 1000 to" in r.stderr, r.stderr[-500:]


@case("I25.3 a model folder's sample_rate of 1e12 is refused naming the range")
def i25_3_folder(tmp_path):
    results, _ = _cli_all(tmp_path, ["sample_rate 1e12"])
    rc, err = results["sample_rate 1e12"]
    assert rc == 2 and "1000000000000" in err and "from 1000 to" in err, f"exit {rc}: {err[-400:]}"
