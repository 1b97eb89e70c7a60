"""Wrong types raise ParameterTypeError in the configuration, audio, grid, chain and optimizer
checks (issue 25 item 5: they raised plain ParameterError); wrong values stay ParameterError."""

import numpy as np
import pytest

from cwrnn_audio import CWRNNConfig, ParameterError, ParameterTypeError
from cwrnn_audio.ddsp.envelope import Envelope
from cwrnn_audio.io.audio_file import valid_audio
from cwrnn_audio.midi.grid import Grid
from cwrnn_audio.plugin import Chain
from cwrnn_audio.train.optimizer import NetworkOptimizers, OptimizerConfig


@pytest.mark.parametrize(
    "call",
    [
        lambda: CWRNNConfig(init_std="0.1"),
        lambda: CWRNNConfig(extra=[1]),
        lambda: CWRNNConfig(module_sizes="44"),
        lambda: CWRNNConfig.from_dict([1, 2]),
        lambda: valid_audio(np.zeros((1, 4), np.int16)),
        lambda: Grid(fps="100"),
        lambda: Grid(steps_per_beat=4.0),
        lambda: Chain([object()]),
        lambda: OptimizerConfig(lr="0.1"),
        lambda: NetworkOptimizers(settings=[3]),
        lambda: Envelope(attack="fast"),
    ],
)
def test_a_wrong_type_is_a_type_error(call):
    with pytest.raises(ParameterTypeError):
        call()


@pytest.mark.parametrize(
    "call",
    [
        lambda: CWRNNConfig(init_std=-1.0),
        lambda: Grid(fps=0),
        lambda: Grid(steps_per_beat=200),
        lambda: OptimizerConfig(lr=-1.0),
        lambda: NetworkOptimizers(settings=[]),
        lambda: Envelope(release=-1.0),
    ],
)
def test_a_wrong_value_is_a_value_error_only(call):
    with pytest.raises(ParameterError) as info:
        call()
    assert not isinstance(info.value, ParameterTypeError)
