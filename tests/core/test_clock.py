import numpy as np

from cwrnn_audio.core.clock import active_modules, active_runs, block_upper_mask


def test_every_module_fires_at_step_zero():
    assert active_modules(0, (1, 2, 4, 8)) == [0, 1, 2, 3]


def test_exponential_periods_give_one_prefix_run():
    periods, offsets = (1, 2, 4, 8), (0, 3, 5, 7, 9)
    for t in range(64):
        expect = sum(1 for p in periods if t % p == 0)
        assert active_runs(t, periods, offsets) == [(0, offsets[expect])]


def test_arbitrary_periods_give_separate_runs():
    # t=3 fires modules 0 and 1 (periods 1, 3) but not 2 (period 5)
    assert active_runs(3, (1, 3, 5), (0, 2, 4, 6)) == [(0, 4)]
    # t=5 fires modules 0 and 2: two runs with module 1 in between idle
    assert active_runs(5, (1, 3, 5), (0, 2, 4, 6)) == [(0, 2), (4, 6)]
    # t=1: only the fastest
    assert active_runs(1, (2, 3), (0, 1, 2)) == []


def test_mask_lets_modules_read_only_themselves_and_slower_ones():
    m = block_upper_mask((2, 1))
    expect = np.array([[1, 1, 1], [1, 1, 1], [0, 0, 1]], bool)
    np.testing.assert_array_equal(m, expect)
