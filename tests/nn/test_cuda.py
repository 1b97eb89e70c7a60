import numpy as np
import pytest
import torch

from cwrnn_audio import CWRNN

pytestmark = [
    pytest.mark.cuda,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU"),
]


def test_cuda_forward_backward_matches_numba():
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.manual_seed(0)
    model = CWRNN(input_size=1, num_modules=6, module_size=8)
    x = np.random.default_rng(0).normal(size=(200, 1)).astype(np.float32)
    expect = model.run(x, backend="numba")
    gpu = model.to("cuda")
    np.testing.assert_allclose(gpu.run(x, backend="torch"), expect, rtol=1e-5, atol=1e-5)
    y, state = gpu(torch.from_numpy(x)[None].cuda())
    y.pow(2).mean().backward()
    assert gpu.W_H.grad.is_cuda and state.t.device.type == "cuda"
