"""The CLI's defaults are the library's: read from one place, never restated."""

import inspect

import pytest

from cwrnn_audio.audio.generate import generate
from cwrnn_audio.cli.main import build_parser
from cwrnn_audio.ddsp.render import Envelope
from cwrnn_audio.midi.generate import generate_midi


@pytest.fixture(scope="module")
def generate_args():
    return vars(build_parser().parse_args(["generate", "M", "-o", "x.wav"]))


def default(func, name):
    return inspect.signature(func).parameters[name].default


@pytest.mark.parametrize("name", ["temperature", "top_k", "noise", "voices", "backend"])
def test_generate_defaults_are_the_functions(generate_args, name):
    assert generate_args[name] == default(generate, name)


@pytest.mark.parametrize("name", ["temperature", "top_k", "prime_bars", "backend"])
def test_midi_defaults_are_generate_midis(generate_args, name):
    assert generate_args[name] == default(generate_midi, name)


def test_envelope_defaults(generate_args):
    assert (generate_args["attack"], generate_args["release"]) == (Envelope().attack, Envelope().release)


def test_demo_temperature():
    args = vars(build_parser().parse_args(["demo"]))
    assert args["temperature"] == default(generate_midi, "temperature")


@pytest.mark.parametrize(
    "argv, config",
    [
        (["train", "audio", "x.wav", "--out", "d"], "cwrnn_audio.audio.fit:AudioTrainConfig"),
        (["train", "midi", "x.mid", "--out", "d"], "cwrnn_audio.midi.fit:MidiTrainConfig"),
        (
            ["train", "effect", "--dry", "a", "--wet", "b", "--out", "d"],
            "cwrnn_audio.audio.effect:EffectTrainConfig",
        ),
    ],
)
def test_train_defaults_are_the_configurations(argv, config):
    from dataclasses import fields

    from cwrnn_audio.lazy import resolve

    args = vars(build_parser(argv).parse_args(argv))
    cli_name = {"num_modules": "modules"}
    shared = [f for f in fields(resolve(config)) if cli_name.get(f.name, f.name) in args]
    assert len(shared) >= 13  # the loop, the network, the rate (and each codec's own)
    for f in shared:
        assert args[cli_name.get(f.name, f.name)] == f.default, f.name


def test_render_host_defaults_are_the_plugins_whole_buffer_call():
    from cwrnn_audio.plugin.base import HOST_RATE, Plugin

    args = vars(
        build_parser(["render", "x", "-i", "a.wav", "-o", "b.wav"]).parse_args(
            ["render", "x", "-i", "a.wav", "-o", "b.wav"]
        )
    )
    assert args["block"] == default(Plugin.__call__, "buffer_size")
    assert args["sample_rate"] == HOST_RATE
