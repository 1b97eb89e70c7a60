"""The finiteness check every stream block goes through, on both sides of its small-block path."""

import numpy as np
import pytest

from cwrnn_audio.checks import all_finite


@pytest.mark.parametrize("size", [1, 5, 32, 33, 512, 4096, 4097])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_all_finite_finds_one_bad_value_anywhere(size, bad, dtype):
    x = np.linspace(-1, 1, size, dtype=dtype).reshape(size, 1)
    assert all_finite(x)
    for i in {0, size // 2, size - 1}:
        y = x.copy()
        y[i, 0] = bad
        assert not all_finite(y), (size, bad, i)


def test_all_finite_takes_extreme_finite_values_and_other_layouts():
    big = np.finfo(np.float32).max
    assert all_finite(np.array([[big, -big]] * 40, np.float32).T)  # not C-contiguous, 80 values
    assert all_finite(np.array([big, -big], np.float32))
    assert all_finite(np.full(4096, big, np.float32))  # its sum overflows float32, not float64
    assert all_finite(np.zeros((0, 1), np.float32))
