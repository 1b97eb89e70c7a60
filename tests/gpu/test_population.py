"""Populations through the fused kernels: ``P`` networks of one structure in one batched call,
judged against a loop over the networks through the step loop, and ``run_epochs`` with the fused
kernels against its vmap path. ``population_checks.py`` computes the numbers (under the interpreter
on CPU, in-process on a GPU)."""

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
    return run_interpreted([str(HERE / "population_checks.py")])


def judge_kernels(r):
    """States and gradients of the batched call equal a loop over networks through the step loop."""
    assert set(r["kernels"]) == {"mixed", "srn", "no_input"}
    for case, v in r["kernels"].items():
        assert v["shape"][:3] == [3, 18, 8], case  # three networks, two tiles of sequences
        assert v["forward"] < TOL, (case, v)
        assert max(v["scale"][k] for k in ("h0", "W_H", "b_H")) > 1e-3, case  # a loss that reaches them
        for name, diff in v["rel_diff"].items():
            assert diff < TOL, (case, name, diff)
        assert v["W_H_below_blocks"] == 0.0, case  # structural zeros of W_H: no gradient


def judge_run_epochs(r):
    """run_epochs with the switch on equals the vmap path: losses, theta and the moments."""
    for case, v in r["run_epochs"].items():
        assert v["calls_on"] == 3 and v["calls_off"] == 0, case  # one fused call per epoch, or none
        assert v["moved"] > 1e-3, case  # the training did change the weights
        assert v["steps"] == [3, 3, 3] and v["losses_shape"] == [3, 3], case
        for key in ("losses", "theta", "m1", "m2"):
            assert v[key] < TOL, (case, key, v[key])


JUDGES = [judge_kernels, judge_run_epochs]


@pytest.mark.parametrize("judge", JUDGES, ids=lambda f: f.__name__[6:])
def test_population_under_the_interpreter(report, judge):
    assert report["triton_loaded"]
    judge(report)


def test_population_rejects_bad_shapes():
    from cwrnn_audio.errors import ParameterError
    from cwrnn_audio.gpu.population import CWRNNPopulationFused

    P, B, T, I, n = 2, 3, 4, 1, 16
    good = [torch.zeros(P, B, T, I), torch.zeros(P, B, n), 0, torch.zeros(P, n, n)]
    good += [torch.zeros(P, n, I), torch.zeros(P, n), [1], [0, n]]
    for i, bad in ((0, torch.zeros(B, T, I)), (1, torch.zeros(P + 1, B, n)), (4, torch.zeros(n, I))):
        args = list(good)
        args[i] = bad
        with pytest.raises(ParameterError):
            CWRNNPopulationFused.apply(*args)
    args = list(good)
    args[2] = -1
    with pytest.raises(ParameterError):
        CWRNNPopulationFused.apply(*args)


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_population_on_cuda(monkeypatch):
    sys.path.insert(0, str(HERE))
    import population_checks

    monkeypatch.delenv("CWRNN_AUDIO_FUSED", raising=False)
    monkeypatch.setattr(torch.backends.cuda.matmul, "allow_tf32", False)
    report = population_checks.run_all("cuda")
    for judge in JUDGES:
        judge(report)
