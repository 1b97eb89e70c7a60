import numpy as np
import pytest
import torch
from conftest import make_model as make
from conftest import random_config_kwargs
from reference import reference_forward
from torch.utils.flop_counter import FlopCounterMode

from cwrnn_audio import CWRNN, CWRNNState, ParameterError
from cwrnn_audio.core.clock import active_runs, block_upper_mask


@pytest.mark.parametrize("trial", range(8))
def test_torch_path_matches_the_equations(rng, trial):
    kw = random_config_kwargs(rng)
    model = make(rng, **kw)
    x = rng.normal(size=(2, int(rng.integers(1, 120)), kw["input_size"])).astype(np.float32)
    with torch.no_grad():
        y, state = model(torch.from_numpy(x))
    c = model.config
    for b in range(2):
        ref, h_ref = reference_forward(
            model.numpy_weights(), c.module_sizes, c.periods, c.output_activation, x[b]
        )
        np.testing.assert_allclose(y[b].numpy(), ref, rtol=1e-5, atol=1e-5)
        np.testing.assert_allclose(state.h[b].numpy(), h_ref, rtol=1e-5, atol=1e-5)
    assert state.t.tolist() == [x.shape[1]] * 2


@pytest.mark.parametrize("trial", range(6))
def test_torch_and_numba_engines_agree(rng, trial):
    kw = random_config_kwargs(rng)
    model = make(rng, **kw)
    x = rng.normal(size=(300, kw["input_size"])).astype(np.float32)
    np.testing.assert_allclose(
        model.run(x, backend="torch"), model.run(x, backend="numba"), rtol=1e-5, atol=1e-5
    )


def test_layouts_unbatched_and_batch_first_false(rng):
    model = make(rng, input_size=2, output_size=3, module_sizes=[2, 3])
    x = torch.randn(4, 10, 2)
    with torch.no_grad():
        y, s = model(x)
        model_tf = CWRNN(model.config, batch_first=False)
        model_tf.load_state_dict(model.state_dict())
        y_tf, s_tf = model_tf(x.transpose(0, 1))
        y_un, s_un = model(x[1])
    assert y.shape == (4, 10, 3) and y_tf.shape == (10, 4, 3) and y_un.shape == (10, 3)
    torch.testing.assert_close(y_tf.transpose(0, 1), y)
    torch.testing.assert_close(y_un, y[1])
    assert s_un.h.shape == (5,) and int(s_un.t) == 10
    torch.testing.assert_close(s_tf.h, s.h)


def test_state_carries_the_clock_across_calls(rng):
    model = make(rng, input_size=1, module_sizes=[3, 3, 2], periods=[1, 2, 4])
    x = torch.randn(2, 37, 1)
    with torch.no_grad():
        y, s = model(x)
        y1, s1 = model(x[:, :13])
        y2, s2 = model(x[:, 13:], s1)
    torch.testing.assert_close(torch.cat([y1, y2], 1), y, rtol=1e-6, atol=1e-6)
    assert s2.t.tolist() == [37, 37]


def test_voices_at_different_steps_in_one_batch(rng):
    model = make(rng, input_size=1, module_sizes=[2, 2, 2], periods=[1, 3, 4])
    x = torch.randn(3, 20, 1)
    h0 = torch.rand(3, 6) - 0.5
    t0 = torch.tensor([0, 5, 2])
    with torch.no_grad():
        y, s = model(x, CWRNNState(h0, t0))
        for b in range(3):
            yb, _ = model(x[b : b + 1], (h0[b : b + 1], int(t0[b])))
            torch.testing.assert_close(y[b : b + 1], yb)
    assert s.t.tolist() == [20, 25, 22]


def test_only_active_rows_are_multiplied(rng, monkeypatch):
    """The step loop's FLOPs (torch ops, counted) equal the active block rows, not a dense n x n
    product. The CPU kernels (off here) are not torch ops; their tests hold them to this loop."""
    monkeypatch.setenv("CWRNN_AUDIO_CPU_KERNELS", "0")
    model = make(rng, input_size=2, output_size=1, module_sizes=[4, 4, 4, 4])
    c, B, T = model.config, 3, 40
    n = c.hidden_size
    expect = 0
    for t in range(T):
        for lo, hi in active_runs(t, c.periods, c.offsets):
            expect += 2 * B * (hi - lo) * ((n - lo) + c.input_size)
    expect += 2 * B * T * n * c.output_size  # the output layer reads every module
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        model(torch.randn(B, T, 2))
    assert counter.get_total_flops() == expect
    dense = 2 * B * T * n * (n + c.input_size + c.output_size)
    assert expect < 0.6 * dense


def test_structural_zeros_get_no_gradient_and_stay_zero(rng):
    model = make(rng, input_size=1, module_sizes=[3, 2, 2])
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, nesterov=True)
    lower = ~torch.from_numpy(block_upper_mask([3, 2, 2]))
    for _ in range(3):
        y, _ = model(torch.randn(2, 16, 1))
        loss = y.pow(2).mean()
        opt.zero_grad()
        loss.backward()
        assert model.W_H.grad[lower].abs().max() == 0
        assert model.W_H.grad[~lower].abs().max() > 0
        opt.step()
    assert (model.W_H.detach()[lower] == 0).all()


def test_gradients_match_finite_differences(rng):
    model = make(rng, input_size=2, output_size=2, module_sizes=[2, 2, 1], periods=[1, 2, 3]).double()
    x = torch.randn(2, 9, 2, dtype=torch.float64, requires_grad=True)
    mask = model.W_H_mask
    names = ("W_H", "W_I", "b_H", "W_O", "b_O")

    def run(x, free, W_I, b_H, W_O, b_O):
        # W_H enters through its free (block-upper) entries only
        W_H = torch.zeros_like(model.W_H).masked_scatter(mask, free)
        return torch.func.functional_call(model, dict(zip(names, (W_H, W_I, b_H, W_O, b_O))), (x,))[0]

    free = model.W_H.detach()[mask]
    args = [x, free] + [getattr(model, k).detach() for k in names[1:]]
    args = [a.clone().requires_grad_(True) for a in args]
    assert torch.autograd.gradcheck(run, args)


def test_extra_repr_and_parameter_count():
    m = CWRNN(input_size=0, hidden_size=40, num_modules=9)
    assert "module_sizes=[5, 5, 5, 5, 4, 4, 4, 4, 4]" in repr(m)
    assert m.num_parameters == m.config.num_parameters == 971


@pytest.mark.parametrize(
    "make_input, needle",
    [
        (lambda: torch.randn(2, 5, 3), "(batch, time, 1)"),
        (lambda: torch.randn(5), "(batch, time, 1)"),
        (lambda: torch.ones(2, 5, 1, dtype=torch.long), "floating point"),
        (lambda: torch.tensor([[[float("nan")]]]), "NaN"),
        (lambda: np.zeros((2, 5, 1)), "torch.Tensor"),
    ],
)
def test_bad_inputs(make_input, needle):
    with pytest.raises(ParameterError) as err:
        CWRNN(input_size=1)(make_input())
    assert needle in str(err.value)


def test_bad_states():
    m = CWRNN(input_size=1, module_sizes=[2, 2])
    x = torch.zeros(3, 4, 1)
    with pytest.raises(ParameterError, match=r"hx.h must have shape \(3, 4\); got \(3, 5\)"):
        m(x, (torch.zeros(3, 5), 0))
    with pytest.raises(ParameterError, match="hx.t"):
        m(x, (torch.zeros(3, 4), torch.zeros(2, dtype=torch.long)))
    with pytest.raises(ParameterError, match="non-negative"):
        m(x, (torch.zeros(3, 4), -1))
    with pytest.raises(ParameterError, match="integer step counters"):
        m(x, (torch.zeros(3, 4), 1.5))


def test_constructor_validates_up_front():
    with pytest.raises(ParameterError, match="not both"):
        CWRNN(CWRNN().config, input_size=3)
    with pytest.raises(ParameterError, match="batch_first"):
        CWRNN(batch_first="yes")
