"""The fused Triton kernels against the float64 equations and autograd through the step loop.

On CPU the checks run once, in a subprocess under Triton's interpreter (``TRITON_INTERPRET=1`` must
be set before triton is first imported), and report numbers that the tests below judge; the CUDA
test runs the same checks on a GPU in-process.
"""

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from conftest import run_interpreted

pytest.importorskip("triton")

HERE = Path(__file__).resolve().parent
TOL = 1e-5


@pytest.fixture(scope="module")
def report():
    return run_interpreted([str(HERE / "fused_checks.py")])


def judge_forward(r):
    for case, v in r["forward"].items():
        assert v["fused_calls"] > 0, case
        assert v["vs_reference"] < TOL, (case, v)
        assert v["vs_step_loop"] < TOL, (case, v)


def judge_gradients(r):
    for case, v in r["gradients"].items():
        assert v["fused_calls"] == (2 if "two_groups" in case else 1), case
        assert max(v["scale"][k] for k in ("h0", "W_H", "b_H")) > 1e-3, case  # a loss that reaches them
        for name, diff in v["rel_diff"].items():
            assert diff < TOL, (case, name, diff)
        assert v["W_H_below_blocks"] == 0.0, case  # structural zeros of W_H: no gradient


def judge_windows(r):
    w = r["windows"]
    assert w["y"] < 1e-6 and w["h"] < 1e-6 and w["t"] == [22] * 18, w


def judge_structural_zeros(r):
    z = r["structural_zeros"]
    assert z["below"] == 0.0 and z["above"] > 0.0, z


def judge_fallback(r):
    for case, v in r["fallback"].items():
        assert v["diff"] == 0.0, case
        assert len(v["warnings"]) == 1 and "step loop" in v["warnings"][0], (case, v)
    assert "130 neurons" in r["fallback"]["big_module"]["warnings"][0]
    assert "float32" in r["fallback"]["float64"]["warnings"][0]


def judge_edges(r):
    e = r["edges"]
    assert e["empty_shape"] == [18, 0, 40]
    assert all(e["errors"]), e["errors"]  # every bad call raised ParameterError


JUDGES = [judge_forward, judge_gradients, judge_windows, judge_structural_zeros, judge_fallback, judge_edges]


@pytest.mark.parametrize("judge", JUDGES, ids=lambda f: f.__name__[6:])
def test_fused_under_the_interpreter(report, judge):
    assert report["triton_loaded"]
    judge(report)


def test_cpu_path_never_imports_triton():
    code = (
        "import sys, torch, cwrnn_audio; assert 'triton' not in sys.modules; "
        "m = cwrnn_audio.CWRNN(input_size=1, module_sizes=[4, 4]); m(torch.zeros(2, 5, 1))[0].sum().backward(); "
        "print('triton' in sys.modules)"
    )
    env = {k: v for k, v in os.environ.items() if k not in ("CWRNN_AUDIO_FUSED", "TRITON_INTERPRET")}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_supports_names_its_reasons():
    from cwrnn_audio import CWRNNConfig, ParameterError
    from cwrnn_audio.gpu import MAX_MODULE_SIZE, supports

    assert supports(CWRNNConfig(module_sizes=[16, 128])) is None
    assert "exceeds" in supports(CWRNNConfig(module_sizes=[MAX_MODULE_SIZE + 1]))
    assert "float32" in supports(CWRNNConfig(), torch.zeros(1, dtype=torch.float64))
    with pytest.raises(ParameterError):
        supports({"module_sizes": [16]})


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_fused_on_cuda(monkeypatch):
    sys.path.insert(0, str(HERE))
    import fused_checks

    monkeypatch.delenv("CWRNN_AUDIO_FUSED", raising=False)
    monkeypatch.setattr(torch.backends.cuda.matmul, "allow_tf32", False)
    report = fused_checks.run_all("cuda")
    for judge in JUDGES:
        judge(report)


def test_fit_with_the_fused_switch_on_follows_the_step_loop(tmp_path):
    """``fit`` (a population of one) with the fused kernels wanted, as for a model on CUDA: it must
    train to the numbers the step loop gives (float32 rounding apart)."""
    code = (
        "import json, numpy as np, torch\n"
        "from cwrnn_audio import CWRNN\n"
        "from cwrnn_audio.train import fit\n"
        "torch.manual_seed(0)\n"
        "m = CWRNN(input_size=0, hidden_size=16, num_modules=2)\n"
        "y = np.sin(np.linspace(0, 3, 12))[:, None].astype(np.float32)\n"
        "print(json.dumps(fit(m, y, epochs=3, backend='torch', progress=False).losses.tolist()))\n"
    )
    runs = {}
    for flag in ("0", "1"):
        runs[flag] = run_interpreted(["-c", code], CWRNN_AUDIO_FUSED=flag)
    assert runs["1"] == pytest.approx(runs["0"], rel=1e-5) and len(runs["1"]) == 3
