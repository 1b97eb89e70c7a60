"""The training paths on a GPU (skipped without one)."""

import numpy as np
import pytest
import torch

from cwrnn_audio import CWRNN
from cwrnn_audio.train import fit
from cwrnn_audio.train.networks import flatten

pytestmark = [pytest.mark.cuda, pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")]


def test_fit_on_cuda_follows_the_numba_trajectory():
    torch.backends.cuda.matmul.allow_tf32 = False
    target = np.sin(np.linspace(0, 10, 200))[:, None].astype(np.float32)
    torch.manual_seed(0)
    cpu = CWRNN(input_size=0, hidden_size=19, num_modules=9)
    gpu = CWRNN(cpu.config)
    gpu.load_state_dict(cpu.state_dict())
    gpu = gpu.cuda()
    a = fit(cpu, target, epochs=30, backend="numba", progress=False)
    b = fit(gpu, target, epochs=30, progress=False)  # auto: torch on the model's device
    assert b.backend == "torch"
    np.testing.assert_allclose(a.losses, b.losses, rtol=1e-4)
    np.testing.assert_allclose(flatten(cpu), flatten(gpu), atol=1e-5)


def test_paper_population_on_cuda(tmp_path):
    import cwrnn_audio_samples
    from cwrnn_audio.experiments.generation import GenerationConfig, run_generation

    cfg = GenerationConfig(runs=4, sizes=(100,), epochs=20, backend="torch", device="cuda")
    res = run_generation(
        cwrnn_audio_samples.path("piano_phrase.wav"), tmp_path, cfg, progress=False, log=lambda s: None
    )
    assert all(len(v["100"]) == 4 for v in res["nmse"].values())
