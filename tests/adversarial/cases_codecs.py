"""Codecs from other packages (issue 25, "One description per concept") and wrong types in the
tuning, GPU and LSTM checks (issue 25 item 5)."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

from harness import REPORT_NOT_TYPE_ERRORS, case, python

TESTS = Path(__file__).resolve().parents[1]


def _entry_point_helpers():
    # the throwaway package and its venv are built as the unit test builds them: one recipe
    spec = importlib.util.spec_from_file_location(
        "codec_ep_helpers", TESTS / "models" / "test_codec_entry_points.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@case("I25.codecs a codec registered by another package's entry point loads in a fresh process")
def i25_codec_entry_point(tmp_path):
    helpers = _entry_point_helpers()
    py = helpers.make_venv(tmp_path)
    r = helpers.run(
        py,
        """
        import json, sys
        from cwrnn_audio import CWRNN
        from cwrnn_audio.models import codec_from_dict, load_model_dir, save_model_dir
        codec = codec_from_dict({"encoding": "quiet", "gain": 0.25})
        save_model_dir(sys.argv[1], CWRNN(input_size=1, output_size=1, num_modules=2, module_size=2), codec)
        print(json.dumps(load_model_dir(sys.argv[1]).codec.to_dict()))
        """,
        tmp_path / "m",
    )
    assert r.returncode == 0, (r.stdout + r.stderr)[-800:]
    got = json.loads(r.stdout.splitlines()[-1])
    assert got == {"encoding": "quiet", "sample_rate": 8000, "gain": 0.25}, got


@case("I25.5 tuned settings, LSTM, gpu.supports, fused call: a wrong type raises ParameterTypeError")
def i25_5_type_errors(tmp_path):
    r = python(
        """
import torch
from cwrnn_audio.errors import ParameterTypeError
from cwrnn_audio.experiments.tune import FORMAT, VERSION, TuneConfig, validate_settings
from cwrnn_audio.gpu import supports
from cwrnn_audio.nn.lstm import LSTMConfig, LSTMNet

def settings(**lstm):
    entry = {"optimizer": "adam", "lr": 0.001, "clip": 1.0, "forget_bias": 5.0, **lstm}
    return {"format": FORMAT, "version": VERSION, "methods": ["lstm"], "sizes": [100],
            "chosen": {"lstm": {"100": entry}}}

def fused_float64():
    from cwrnn_audio.gpu.function import _check
    z = torch.zeros
    _check(z(1, 3, 1, dtype=torch.float64), z(1, 4), 0, z(4, 4), z(4, 1), z(4), (1, 2), (0, 2, 4))

CALLS = [
    ("TuneConfig(optimizers=3)", lambda: TuneConfig(optimizers=3)),
    ("settings file a list", lambda: validate_settings([1])),
    ("lr '0.1'", lambda: validate_settings(settings(lr="0.1"))),
    ("clip '1'", lambda: validate_settings(settings(clip="1"))),
    ("forget_bias '5'", lambda: validate_settings(settings(forget_bias="5"))),
    ("sizes 100", lambda: validate_settings({**settings(), "sizes": 100})),
    ("sizes [[100]]", lambda: validate_settings({**settings(), "sizes": [[100]]})),
    ("chosen a list", lambda: validate_settings({**settings(), "chosen": []})),
    ("setting a list", lambda: validate_settings({**settings(), "chosen": {"lstm": {"100": [1]}}})),
    ("supports(dict)", lambda: supports({})),
    ("fused float64", fused_float64),
    ("LSTMConfig(init_std='0.1')", lambda: LSTMConfig(init_std="0.1")),
    ("LSTMNet(ndarray)", lambda: LSTMNet(input_size=1)(__import__("numpy").zeros((1, 2, 1)))),
]
"""
        + REPORT_NOT_TYPE_ERRORS
    )
    assert r.returncode == 0 and not r.stdout.strip(), (r.stdout + r.stderr)[-800:]
