"""The one training loop (train/loop.py): resume, early stopping, history, checkpoints, once for all callers."""

import json

import numpy as np
import pytest
import torch

from cwrnn_audio import ParameterError
from cwrnn_audio.errors import ParameterTypeError
from cwrnn_audio.train.checkpoint import NETWORK_SAVERS, load_checkpoint, register_network, save_network
from cwrnn_audio.train.loop import EpochLoop, Task, refuse_nonempty


class Walk(Task):
    """Weights that take a torch-random step each epoch; no validation."""

    def __init__(self, dies_at=None):
        self.w = np.zeros(4, np.float32)
        self.dies_at, self.saved = dies_at, []

    def arrays(self):
        return {"w": self.w}

    def load(self, arrays, info):
        self.w = arrays["w"].copy()

    def train(self, epoch, epochs):
        if epoch == self.dies_at:
            raise KeyboardInterrupt
        for _ in range(epochs):
            self.w = self.w + torch.randn(4).numpy()
        return {"train_loss": float(np.abs(self.w).sum())}

    def save_best(self, info):
        self.saved.append(info)


class Scheduled(Walk):
    """A validation loss from a fixed schedule."""

    def __init__(self, val, **kw):
        super().__init__(**kw)
        self.val, self.n = val, 0

    def evaluate(self):
        self.n += 1
        return {"val_loss": self.val[self.n - 1]}


def loop(tmp_path, **kw):
    defaults = dict(epochs=6, settings={"lr": 1}, checkpoint_dir=tmp_path / "ckpt", progress=False, log=None)
    defaults.update(kw)
    defaults["log"] = defaults["log"] or (lambda s: None)
    return EpochLoop(**defaults)


def test_a_killed_run_resumes_to_bit_identical_state_and_history(tmp_path):
    torch.manual_seed(0)
    whole = Walk()
    ref = loop(tmp_path / "a", every=2).run(whole)
    torch.manual_seed(0)
    with pytest.raises(KeyboardInterrupt):
        loop(tmp_path / "b", every=2).run(Walk(dies_at=4))
    assert (tmp_path / "b" / "ckpt" / "latest").read_text() == "ckpt-000004"
    torch.manual_seed(123)  # the RNG state comes from the checkpoint
    again = Walk()
    res = loop(tmp_path / "b", every=2, resume=True).run(again)
    assert res.resumed_from == 4 and ref.resumed_from == 0
    np.testing.assert_array_equal(again.w, whole.w)
    assert res.history["train_loss"] == ref.history["train_loss"] and len(res.history["train_loss"]) == 3


def test_checkpoints_are_complete_folders_behind_an_atomic_pointer(tmp_path):
    loop(tmp_path).run(Walk())
    ckpt = tmp_path / "ckpt"
    assert sorted(p.name for p in ckpt.iterdir()) == ["ckpt-000006", "latest"]  # no temp files left
    arrays, info = load_checkpoint(ckpt)
    assert info["epoch"] == 6 and info["settings"] == {"lr": 1} and "torch_rng" in arrays
    assert len(info["history"]["train_loss"]) == 6
    (ckpt / "latest").write_text("ckpt-000099")
    with pytest.raises(ParameterError, match="unreadable checkpoint"):
        load_checkpoint(ckpt)


def test_resume_with_other_settings_is_refused_or_restarted(tmp_path):
    loop(tmp_path, epochs=2).run(Walk())
    with pytest.raises(ParameterError, match="other settings"):
        loop(tmp_path, epochs=2, settings={"lr": 2}, resume=True).run(Walk())
    res = loop(tmp_path, epochs=2, settings={"lr": 2}, resume=True, restart_on_mismatch=True).run(Walk())
    assert res.resumed_from == 0
    assert load_checkpoint(tmp_path / "ckpt")[1]["settings"] == {"lr": 2}


def test_early_stopping_keeps_the_best_and_writes_the_history(tmp_path):
    logs = []
    task = Scheduled([3.0, 2.0, 2.5, 2.6, 2.7, 1.0])
    res = loop(tmp_path, patience=3, history_dir=tmp_path, log=logs.append).run(task)
    h = res.history
    assert h["val_loss"] == [3.0, 2.0, 2.5, 2.6, 2.7] and h["best_epoch"] == 2
    assert [i["best_epoch"] for i in task.saved] == [1, 2] and task.saved[-1]["lr"] == 1
    assert logs[-1] == "stopping early: no better validation loss for 3 epochs"
    assert logs[0].startswith("epoch 1: train ") and logs[0].endswith("validation 3.0000")
    assert json.loads((tmp_path / "history.json").read_text()) == h
    csv = (tmp_path / "metrics.csv").read_text().splitlines()
    assert csv[0] == "epoch,train_loss,val_loss,seconds" and len(csv) == 6
    # a resumed run counts the stale epochs already spent
    res = loop(tmp_path, epochs=8, patience=3, resume=True).run(Scheduled([9.0] * 3))
    assert res.resumed_from == 5 and len(res.history["val_loss"]) == 6  # one epoch, then stopped


def test_without_validation_there_is_no_best_and_no_log(tmp_path, capsys):
    logs = []
    res = loop(tmp_path, checkpoint_dir=None, patience=1, log=logs.append).run(Walk())
    assert res.history["best_epoch"] == 0 and len(res.history["train_loss"]) == 6 and logs == []
    assert capsys.readouterr().err == ""  # progress=False: no bar


def test_a_used_folder_needs_resume_and_a_checkpoint(tmp_path):
    refuse_nonempty(tmp_path / "new", resume=False)
    (tmp_path / "junk").write_text("x")
    for resume in (False, True):
        with pytest.raises(ParameterError, match="--resume"):
            refuse_nonempty(tmp_path, resume)
    (tmp_path / "checkpoint").mkdir()
    (tmp_path / "checkpoint" / "latest").write_text("ckpt-000001")
    refuse_nonempty(tmp_path, resume=True)


def test_a_new_network_kind_is_one_registration(tmp_path):
    class Tiny(torch.nn.Module):
        pass

    with pytest.raises(ParameterTypeError, match="Tiny"):
        save_network(Tiny(), tmp_path / "m.safetensors")
    register_network(Tiny, lambda model, path: path.write_text("tiny"))
    try:
        assert save_network(Tiny(), tmp_path / "m.safetensors").read_text() == "tiny"
    finally:
        del NETWORK_SAVERS[Tiny]
