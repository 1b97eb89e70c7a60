import copy

import numpy as np
import pytest
import torch

import cwrnn_audio
from cwrnn_audio import CWRNN, ParameterError
from cwrnn_audio.nn.lstm import LSTMNet
from cwrnn_audio.train import OptimizerConfig, fit
from cwrnn_audio.train.networks import flatten

SINE = (0.8 * np.sin(np.linspace(0, 10, 120)))[:, None].astype(np.float32)


def gen(seed=0, **kw):
    torch.manual_seed(seed)
    return CWRNN(input_size=0, hidden_size=19, num_modules=9, **kw)


@pytest.mark.parametrize(
    "make, opt",
    [
        (gen, "sgd"),
        (lambda: LSTMNet(input_size=0, hidden_size=6), "adam"),
        (gen, OptimizerConfig(lr=1e-3, clip=1.0)),
        (lambda: LSTMNet(input_size=0, hidden_size=5), OptimizerConfig(lr=3e-5, clip=0.5)),
    ],
)
def test_numba_and_torch_engines_follow_the_same_trajectory(make, opt):
    a = make()
    b = copy.deepcopy(a)
    ra = fit(a, SINE, epochs=40, optimizer=opt, backend="numba", progress=False)
    rb = fit(b, SINE, epochs=40, optimizer=opt, backend="torch", progress=False)
    np.testing.assert_allclose(ra.losses, rb.losses, rtol=1e-4)
    np.testing.assert_allclose(flatten(a), flatten(b), atol=1e-5)
    assert (ra.backend, rb.backend) == ("numba", "torch")


def test_training_with_inputs_learns_a_mapping(rng):
    torch.manual_seed(0)
    model = CWRNN(input_size=1, module_sizes=[8, 8], periods=[1, 2])
    x = rng.uniform(-1, 1, (4, 60, 1)).astype(np.float32)
    y = np.tanh(2 * x)  # a static distortion: an "effect" to learn
    r = fit(model, y, x, epochs=400, optimizer=OptimizerConfig(name="adam", lr=3e-2), progress=False)
    assert r.losses[-1] < 0.05 * r.losses[0]
    np.testing.assert_allclose(model.run(x[0]), y[0], atol=0.15)


def test_paper_optimizer_fits_a_no_input_sequence():
    model = gen()
    r = fit(model, SINE, epochs=600, optimizer=OptimizerConfig(lr=3e-4, clip=10.0), progress=False)
    nmse = np.mean((model.run(steps=120) - SINE) ** 2) / SINE.var()
    assert nmse < 0.1 and r.losses[-1] < r.losses[0] / 5


def test_seed_makes_a_run_reproducible():
    a, b = gen(1), gen(2)
    fit(a, SINE, epochs=20, seed=7, progress=False)
    fit(b, SINE, epochs=20, seed=7, progress=False)
    np.testing.assert_array_equal(flatten(a), flatten(b))


@pytest.mark.parametrize("backend", ["numba", "torch"])
def test_killed_run_resumes_to_the_same_result(tmp_path, monkeypatch, backend):
    whole = gen()
    fit(whole, SINE, epochs=50, backend=backend, progress=False)

    module = "cwrnn_audio.train.engine_" + backend
    import importlib

    engine = importlib.import_module(module)
    real, calls = engine.run_epochs, []

    def dies_on_third_chunk(*a, **k):
        calls.append(1)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return real(*a, **k)

    monkeypatch.setattr(engine, "run_epochs", dies_on_third_chunk)
    victim = gen()
    checkpointed = dict(
        epochs=50, backend=backend, progress=False, checkpoint_dir=tmp_path, checkpoint_every=10
    )
    with pytest.raises(KeyboardInterrupt):
        fit(victim, SINE, **checkpointed)
    monkeypatch.setattr(engine, "run_epochs", real)
    assert (tmp_path / "latest").read_text() == "ckpt-000020"
    resumed = gen(seed=99)  # weights come from the checkpoint, not from here
    r = fit(resumed, SINE, **checkpointed, resume=True)
    assert r.resumed_from == 20 and r.losses.shape == (50,)
    np.testing.assert_array_equal(flatten(resumed), flatten(whole))
    saved = cwrnn_audio.load(tmp_path / "ckpt-000050" / "model.safetensors")
    np.testing.assert_array_equal(flatten(saved), flatten(whole))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ckpt-000050", "latest"]


def test_resume_refuses_other_settings(tmp_path):
    fit(gen(), SINE, epochs=10, progress=False, checkpoint_dir=tmp_path, checkpoint_every=5)
    with pytest.raises(ParameterError, match="other settings"):
        fit(gen(), SINE, epochs=10, optimizer="adam", progress=False, checkpoint_dir=tmp_path, resume=True)


def test_bad_arguments():
    with pytest.raises(ParameterError, match="epochs"):
        fit(gen(), SINE, epochs=-1)
    with pytest.raises(ParameterError, match="optimizer must be"):
        fit(gen(), SINE, optimizer="rmsprop")
    with pytest.raises(ParameterError, match="targets must have shape"):
        fit(gen(), np.zeros((10, 2), np.float32))
    with pytest.raises(ParameterError, match="inputs are required"):
        fit(CWRNN(input_size=1), SINE)
    with pytest.raises(ParameterError, match="backend"):
        fit(gen(), SINE, backend="jax")
    with pytest.raises(ParameterError, match="resume=True needs checkpoint_dir"):
        fit(gen(), SINE, resume=True)
    with pytest.raises(ParameterError, match="momentum"):
        OptimizerConfig(momentum=1.5)
