import os
import sys
import zlib

import numpy as np
import pytest

sys.path.insert(0, os.path.dirname(__file__))  # for reference.py


def random_config_kwargs(rng):
    """A random structure: sizes, nested or arbitrary increasing periods, any activation."""
    g = int(rng.integers(1, 7))
    sizes = [int(k) for k in rng.integers(1, 9, size=g)]
    if rng.random() < 0.5:
        periods = "exponential"
    else:
        periods = np.cumsum(rng.integers(1, 5, size=g)).tolist()
    return dict(
        input_size=int(rng.integers(0, 4)),
        output_size=int(rng.integers(1, 4)),
        module_sizes=sizes,
        periods=periods,
        output_activation=str(rng.choice(["linear", "tanh"])),
        init_std=float(rng.uniform(0.1, 0.4)),
    )


@pytest.fixture
def rng(request):
    # a distinct, reproducible stream per test
    return np.random.default_rng(zlib.crc32(request.node.nodeid.encode()))


def make_model(rng, **kw):
    """A CWRNN whose weights are drawn from ``rng``'s stream (reproducible per test)."""
    import torch

    from cwrnn_audio import CWRNN

    torch.manual_seed(int(rng.integers(2**31)))
    return CWRNN(**kw)
