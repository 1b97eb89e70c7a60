import numpy as np
import pytest
import torch
from numba import njit

from cwrnn_audio import CWRNN
from cwrnn_audio.kernels.sample import _kth_largest


@njit
def kth(v, k):
    return _kth_largest(v, k, np.empty_like(v))


def test_quickselect_finds_the_kth_largest(rng):
    for _ in range(500):
        v = rng.normal(size=int(rng.integers(2, 300))).astype(np.float32)
        if rng.random() < 0.5:
            v = np.round(v, 1)  # ties
        k = int(rng.integers(1, v.size + 1))
        assert kth(v, k) == np.sort(v)[::-1][k - 1]


def fixed_distribution_model(logits):
    """A model whose output ignores the state: logits come from b_O alone."""
    m = CWRNN(input_size=1, output_size=logits.size, num_modules=2, module_size=2, output_activation="linear")
    with torch.no_grad():
        m.W_O.zero_()
        m.b_O.copy_(torch.from_numpy(logits))
    return m


@pytest.mark.parametrize("backend", ["numba", "torch"])
@pytest.mark.parametrize("temperature, top_k", [(1.0, 0), (0.5, 0), (2.0, 3)])
def test_sampled_frequencies_follow_the_softmax(backend, temperature, top_k):
    logits = np.log(np.array([0.05, 0.1, 0.4, 0.15, 0.3], np.float32))
    m = fixed_distribution_model(logits)
    n = 40000 if backend == "numba" else 4000
    u = np.random.default_rng(0).random((1, n))
    s = m.stream(backend=backend)
    classes = s.sample_classes(
        u,
        np.linspace(-1, 1, 5, dtype=np.float32),
        np.zeros((1, 1), np.float32),
        temperature=temperature,
        top_k=top_k,
    )
    p = np.exp(logits / temperature)
    if top_k:
        p[np.argsort(logits)[:-top_k]] = 0
    p /= p.sum()
    freq = np.bincount(classes[0], minlength=5) / n
    assert np.abs(freq - p).max() < 4 * np.sqrt(0.25 / n)
    if top_k:
        assert freq[p == 0].sum() == 0
