"""``cwrnn-audio paper generation``: real music by default, any file by path."""

import json

import pytest

import cwrnn_audio_samples
from cwrnn_audio.cli.main import build_parser, main

BACH = cwrnn_audio_samples.path("bach_prelude_fluidr3.flac")
PHRASE = cwrnn_audio_samples.path("piano_phrase.wav")
TINY = ["--runs", "1", "--sizes", "100", "--epochs", "1", "--methods", "cwrnn", "-q"]


def test_audio_file_is_optional_and_defaults_to_the_sampled_piano_recording(tmp_path):
    args = build_parser().parse_args(["paper", "generation", "--out", str(tmp_path)])
    assert args.audio == str(BACH) and BACH.is_file()
    args = build_parser().parse_args(["paper", "generation", "mine.wav", "--out", str(tmp_path)])
    assert args.audio == "mine.wav"


@pytest.mark.parametrize("given, used", [([], BACH), ([str(PHRASE)], PHRASE)], ids=["default", "by-path"])
def test_a_tiny_run_trains_on_the_chosen_music(tmp_path, given, used):
    assert main(["paper", "generation", *given, "--out", str(tmp_path), *TINY]) == 0
    results = json.loads((tmp_path / "results.json").read_text())
    assert results["config"]["audio"] == str(used) and len(results["nmse"]["cwrnn"]["100"]) == 1
