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
