"""The Triton chain kernel (gpu/chain_triton.py) under the interpreter, judged against the torch chain
and, as the schedule's chain inside the model, against autograd through the step loop."""

from pathlib import Path

import pytest
from conftest import run_interpreted

pytest.importorskip("triton")

HERE = Path(__file__).resolve().parent


@pytest.fixture(scope="module")
def report():
    return run_interpreted([str(HERE / "chain_checks.py")], CWRNN_AUDIO_FUSED="0")


def test_the_kernel_equals_the_torch_chain_forward_and_backward(report):
    assert sorted(report["chain"]) == ["1", "16", "2", "20"]
    for k, v in report["chain"].items():
        for name, diff in v.items():
            assert diff < 1e-5, (k, name, diff)


def test_the_model_through_the_schedule_and_the_kernel_equals_the_step_loop(report):
    m = report["model"]
    assert m["warnings"] == []  # the kernel ran: a refusal would have said why
    assert sorted(m["kernel_ticks"]) == [4, 5, 14]
    assert m["forward"] < 1e-5
    assert set(m["grads"]) == {"W_H", "W_I", "b_H", "W_O", "b_O"}
    for name, diff in m["grads"].items():
        assert diff < 1e-5, (name, diff)


def test_a_module_the_kernel_cannot_take_runs_cudnns_chain_after_saying_why(report):
    b = report["big"]
    assert b["diff"] < 1e-5
    assert len(b["warnings"]) == 1 and "130 neurons" in b["warnings"][0] and "cuDNN" in b["warnings"][0]
