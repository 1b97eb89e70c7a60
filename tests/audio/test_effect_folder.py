"""Effect training holds its folder as the other trainers do (DEFECTS 12 and 24 for train_effect)."""

import numpy as np
import pytest
import soundfile as sf

from cwrnn_audio.audio.effect import EffectTrainConfig, train_effect
from cwrnn_audio.errors import ParameterError

CFG = EffectTrainConfig(num_modules=2, module_size=2, window=64, chunk_windows=2, batch=2, epochs=1)


@pytest.fixture
def pair(tmp_path):
    x = np.random.default_rng(0).uniform(-0.5, 0.5, 48000 // 4).astype(np.float32)
    paths = []
    for name, y in (("dry.wav", x), ("wet.wav", np.tanh(2 * x)), ("wet2.wav", np.tanh(3 * x))):
        sf.write(tmp_path / name, y, 48000)
        paths.append(tmp_path / name)
    return paths


def test_resume_on_other_files_is_refused_naming_them(pair, tmp_path):
    dry, wet, wet2 = pair
    train_effect([dry], [wet], tmp_path / "fx", CFG, progress=False, log=lambda s: None)
    with pytest.raises(ParameterError, match="wet2.wav"):
        train_effect([dry], [wet2], tmp_path / "fx", CFG, resume=True, progress=False, log=lambda s: None)


def test_a_missing_file_is_named_before_any_work(pair, tmp_path):
    dry, _, _ = pair
    with pytest.raises(ParameterError, match="nope.wav: no such audio file"):
        train_effect([dry], [tmp_path / "nope.wav"], tmp_path / "fx", CFG, progress=False)
    assert not (tmp_path / "fx").exists()
