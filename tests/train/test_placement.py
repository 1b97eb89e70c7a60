"""The torch paths make every tensor like the model, proven without a GPU on a float64 model.

A tensor made by default is float32 on the CPU: next to a CUDA model it is on the wrong device,
next to a float64 model it has the wrong dtype. The CPU raises on some dtype mixes (a matrix
product) but promotes others silently (``y - target``, where CUDA would refuse a CPU tensor), and
a ``.to(dtype)`` without a device fixes a dtype but leaves a CPU tensor on the CPU. ``strict``
makes both of those fail too, so each test below fails where a CUDA run would.
"""

import numpy as np
import pytest
import torch
from torch.overrides import TorchFunctionMode
from torch.utils._pytree import tree_leaves

from cwrnn_audio import CWRNN
from cwrnn_audio.experiments import generation
from cwrnn_audio.nn.lstm import LSTMNet
from cwrnn_audio.train import fit
from cwrnn_audio.train.networks import flatten


def _names_device(args, kwargs) -> bool:
    return "device" in kwargs or any(isinstance(a, (str, torch.device, torch.Tensor)) for a in args)


def _target_dtype(args, kwargs):
    return kwargs.get("dtype", next((a for a in args if isinstance(a, torch.dtype)), None))


def _converts(func) -> bool:
    """Copies, attribute access and torch's private helpers (``Module.double()`` uses them)."""
    name = getattr(func, "__name__", "")
    return (
        func is torch.Tensor.copy_ or name in ("__get__", "__set__") or (name[:1] == "_" and name[:2] != "__")
    )


class SameDtypeAsOnOneDevice(TorchFunctionMode):
    """Refuses what CUDA would refuse across devices, seen through dtypes: tensors of two float
    dtypes in one call (0-dim ones excepted, as CUDA accepts CPU scalars), and a ``.to(dtype)``
    that changes a tensor's float dtype without naming a device. Copies convert by design."""

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        if func is torch.Tensor.to and args[0].is_floating_point() and args[0].dim():
            dtype = _target_dtype(args[1:], kwargs)
            if dtype not in (None, args[0].dtype) and not _names_device(args[1:], kwargs):
                raise AssertionError(f".to({dtype}) of a {args[0].dtype} tensor without a device")
        elif not _converts(func):
            leaves = tree_leaves((args, kwargs))
            dtypes = {
                t.dtype for t in leaves if isinstance(t, torch.Tensor) and t.is_floating_point() and t.dim()
            }
            if len(dtypes) > 1:
                raise AssertionError(f"{getattr(func, '__name__', func)} mixes {sorted(map(str, dtypes))}")
        return func(*args, **kwargs)


@pytest.fixture(autouse=True)
def strict():
    with SameDtypeAsOnOneDevice():
        yield


def lstm(**kw):
    torch.manual_seed(0)
    return LSTMNet(**kw).double()


def cwrnn(**kw):
    torch.manual_seed(0)
    return CWRNN(**kw).double()


def test_the_strict_mode_catches_what_a_device_would():
    m = lstm(input_size=1, hidden_size=3)
    with pytest.raises(AssertionError, match="linear mixes"):
        m(torch.zeros(1, 4, 1))
    with pytest.raises(AssertionError, match="mixes"):
        m(torch.zeros(1, 4, 1, dtype=torch.float64))[0] - torch.zeros(1, 4, 1)
    with pytest.raises(AssertionError, match="without a device"):
        cwrnn(input_size=1, module_sizes=[2], periods=[1])(torch.zeros(1, 4, 1))


def test_network_outputs_of_a_float64_lstm():
    # the H100 failure: experiments/generation.py fed torch.zeros(1, steps, 0) to a CUDA LSTM
    m = lstm(input_size=0, hidden_size=4)
    theta = np.stack([flatten(m), flatten(m) * 0.5])
    out = generation.network_outputs(m, theta, 12)
    assert out.shape == (2, 12) and out.dtype == np.float32 and np.isfinite(out).all()


@pytest.mark.parametrize("method", generation.METHODS)
def test_paper_population_on_the_torch_backend_in_float64(monkeypatch, method):
    make = generation.make_network
    monkeypatch.setattr(generation, "make_network", lambda *a: make(*a).double())
    cfg = generation.GenerationConfig(runs=2, sizes=(100,), epochs=3, backend="torch")
    targets = np.random.default_rng(0).standard_normal((5, 24)).astype(np.float32)
    scores, outputs, losses = generation.train_one(method, 100, cfg, targets, progress=False)
    assert scores.shape == (2,) and outputs.shape == (2, 24) and losses.shape == (2, 3)
    assert np.isfinite(losses).all()


@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
@pytest.mark.parametrize(
    "make",
    [lambda: lstm(input_size=1, hidden_size=3), lambda: cwrnn(input_size=1, hidden_size=4, num_modules=2)],
    ids=["lstm", "cwrnn"],
)
def test_fit_on_the_torch_backend_in_float64(make, optimizer):
    model = make()
    x = np.sin(np.linspace(0, 6, 30))[:, None].astype(np.float32)
    res = fit(model, np.roll(x, -1, 0), x, epochs=3, optimizer=optimizer, backend="torch", progress=False)
    assert res.losses.shape == (3,) and np.isfinite(res.losses).all()
    assert model.W_O.dtype == torch.float64


def test_torch_stream_in_float64_follows_the_numba_stream():
    m = cwrnn(input_size=1, output_size=1, num_modules=3, module_size=4)
    x = np.random.default_rng(0).standard_normal((2, 20, 1)).astype(np.float32)
    a, b = m.stream(backend="torch", voices=2), m.stream(voices=2)
    np.testing.assert_allclose(a.process(x), b.process(x), atol=1e-5)
    b.state = a.state
    noise = np.full((2, 5, 1), 0.1, np.float32)
    np.testing.assert_allclose(
        a.free_run(noise, x[:, -1].copy(), lo=-1, hi=1),
        b.free_run(noise, x[:, -1].copy(), lo=-1, hi=1),
        atol=1e-5,
    )


def test_audio_generation_on_the_torch_backend_in_float64():
    from cwrnn_audio.adapters import RawAdapter
    from cwrnn_audio.audio.generate import generate
    from cwrnn_audio.models import make_codec

    mulaw = make_codec("mulaw", sample_rate=8000, context=2)
    m = cwrnn(input_size=mulaw.input_size, output_size=mulaw.output_size, num_modules=2, module_size=4)
    prime = (0.3 * np.sin(np.arange(200) / 5.0)).astype(np.float32)[None]
    a = generate(m, mulaw, 0.005, seed=1, prime=prime, backend="torch", voices=2)
    assert a.shape == (2, 40) and np.abs(a).max() <= 1
    raw = RawAdapter(sample_rate=8000)
    m = cwrnn(input_size=1, output_size=1, num_modules=2, module_size=4, output_activation="tanh")
    np.testing.assert_allclose(
        generate(m, raw, 0.005, noise=0.1, seed=0, backend="torch"),
        generate(m, raw, 0.005, noise=0.1, seed=0),
        atol=1e-5,
    )


@pytest.mark.parametrize("architecture", ["cwrnn", "lstm"])
def test_midi_generation_on_the_torch_backend_in_float64(architecture):
    from cwrnn_audio.midi.fit import MidiTrainConfig
    from cwrnn_audio.midi.generate import generate_midi
    from cwrnn_audio.models import make_codec

    enc = make_codec("melody")
    torch.manual_seed(0)
    model = MidiTrainConfig(architecture=architecture, num_modules=2, module_size=4).model(enc).double()
    _, new, _ = generate_midi(model, enc, bars=1, seed=0, backend="torch")
    _, again, _ = generate_midi(model, enc, bars=1, seed=0, backend="torch")
    assert new == again
