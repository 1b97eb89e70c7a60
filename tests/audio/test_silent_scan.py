"""A silent file is refused from a block-by-block scan, before it is loaded whole (DEFECTS 14)."""

import numpy as np
import pytest
import soundfile as sf

from cwrnn_audio.audio import dataset
from cwrnn_audio.errors import ParameterError


def test_a_silent_file_is_refused_without_loading_it(tmp_path, monkeypatch):
    path = tmp_path / "quiet.wav"
    sf.write(path, np.zeros(200_000, np.float32), 16000)

    def no_whole_read(*args, **kwargs):
        raise AssertionError("the whole file was loaded")

    monkeypatch.setattr(dataset, "read_audio", no_whole_read)
    with pytest.raises(ParameterError, match="quiet.wav: the audio is silent"):
        dataset.load_clip(path, 16000)


def test_sound_late_in_a_file_is_found(tmp_path):
    x = np.zeros(3 * dataset.SCAN_BLOCK + 10, np.float32)
    x[-5] = 0.5  # the only sound, in the last block
    sf.write(tmp_path / "late.wav", x, 16000)
    audio = dataset.load_clip(tmp_path / "late.wav", 16000)
    assert audio.shape == (1, x.size) and np.abs(audio).max() == pytest.approx(0.5, abs=1e-4)
