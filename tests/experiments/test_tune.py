"""``paper tune``: one hyper-parameter search on development excerpts the scored ones never overlap."""

import json
import math
import subprocess
import sys

import numpy as np
import pytest
import soundfile as sf

from cwrnn_audio import ParameterError
from cwrnn_audio.cli.main import build_parser, main
from cwrnn_audio.experiments.excerpts import cut_excerpts
from cwrnn_audio.experiments.tune import (
    CLIPS,
    FORGET_BIASES,
    LRS,
    OPTIMIZERS,
    TuneConfig,
    choose,
    load_settings,
    optimizer_for,
    run_tune,
    save_settings,
    score,
    split_excerpts,
)

SR = 44_100
# 2 methods x (2 optimizers x 2 lrs x 1 clip [x 2 forget biases]) = 4 + 8 settings
TINY = dict(runs=2, epochs=3, sizes=(100,), methods=("srn", "lstm"), lrs=(1e-4, 1e-3), clips=(None,), seed=1)
TINY_CLI = "--runs 2 --epochs 3 --sizes 100 --methods srn,lstm --lrs 1e-4,1e-3 --clips none --seed 1 -q"


def music(seconds=0.5, *, noisy_second_half=False):
    t = np.arange(int(seconds * SR)) / SR
    y = 0.5 * np.sin(2 * np.pi * 220 * t) * (1 + 0.5 * np.sin(2 * np.pi * 3 * t)) + 0.2 * np.sin(
        2 * np.pi * 1250 * t**1.2
    )
    if noisy_second_half:
        half = y.size // 2
        y[half:] = np.random.default_rng(7).uniform(-0.9, 0.9, y.size - half)
    return y.astype(np.float32)


def write(path, y):
    sf.write(path, y, SR, subtype="FLOAT")  # float: the first half reads back bit-identical
    return path


def quiet(message):
    pass


@pytest.fixture(scope="module")
def whole(tmp_path_factory):
    """(wav, out dir, data) of one uninterrupted tiny search."""
    d = tmp_path_factory.mktemp("tune")
    wav = write(d / "music.wav", music())
    data = run_tune(wav, d / "whole", TuneConfig(**TINY), progress=False, log=quiet)
    return wav, d / "whole", data


def test_split_keeps_dev_excerpts_in_the_first_half_only():
    y = music()
    dev, scored = split_excerpts(y, count=5, length=320, seed=3)
    half = y.size // 2
    assert dev.shape == (5, 320) and scored.size == y.size - half
    np.testing.assert_array_equal(scored, y[half:])
    np.testing.assert_array_equal(dev, cut_excerpts(y[:half], count=5, length=320, seed=3))
    # the second half does not decide the development excerpts
    other, _ = split_excerpts(music(noisy_second_half=True), count=5, length=320, seed=3)
    np.testing.assert_array_equal(dev, other)


def test_split_refuses_audio_too_short_for_both_parts_saying_how_long_it_must_be():
    with pytest.raises(ParameterError, match=r"too short .* needs at least 3200 samples \(0\.073 s"):
        split_excerpts(np.ones(3199, np.float32), count=5, length=320, seed=0)
    y = music(0.2)
    y[y.size // 2 :] = 0  # long enough, but the scored half is silent
    with pytest.raises(ParameterError, match=r"second half \(scored\).*0\.073 s or more"):
        split_excerpts(y, count=5, length=320, seed=0)


def test_score_and_choose_on_known_numbers():
    s = score([0.1, 0.3, 0.2])
    assert s == pytest.approx({"mean": 0.2, "std": np.std([0.1, 0.3, 0.2]), "median": 0.2, "diverged": 0})
    bad = score([0.1, float("nan"), 0.2])
    assert bad["mean"] == math.inf and bad["median"] == 0.2 and bad["diverged"] == 1
    assert bad["std"] == pytest.approx(0.05)
    records = [
        {"lr": 1e-3, "mean": 0.5, "median": 0.4},
        {"lr": 3e-3, "mean": math.inf, "median": 0.01},  # diverged runs never win
        {"lr": 1e-2, "mean": 0.2, "median": 0.3},
        {"lr": 3e-2, "mean": 0.2, "median": 0.1},  # a tie on the mean goes to the lower median
        {"lr": 1e-1, "mean": 0.2, "median": 0.1},  # then to the earlier setting
    ]
    assert choose(records)["lr"] == 3e-2
    assert choose(records[:2])["lr"] == 1e-3
    with pytest.raises(ParameterError, match="at least one"):
        choose([])


def test_default_search_space():
    assert OPTIMIZERS == ("sgd", "adam") and CLIPS == (None, 1.0, 10.0) and FORGET_BIASES == (1.0, 5.0)
    assert min(LRS) <= 1e-5 and max(LRS) >= 3e-2 and 3e-5 in LRS and 3e-4 in LRS
    cfg = TuneConfig()
    assert cfg.runs == 20 and cfg.epochs == 2000
    assert len(cfg.grid("srn")) == 60 and len(cfg.grid("lstm")) == 120
    assert all("forget_bias" not in s for s in cfg.grid("cwrnn"))


def test_search_writes_tuned_json_with_the_minimum_chosen_and_it_round_trips(whole, tmp_path):
    _, out, data = whole
    on_disk = load_settings(out / "tuned.json")
    assert on_disk == data
    assert on_disk["seed"] == 1 and on_disk["search_space"]["lrs"] == [1e-4, 1e-3]
    for method, n in (("srn", 4), ("lstm", 8)):
        records = data["scores"][method]["100"]
        assert len(records) == n
        chosen = data["chosen"][method]["100"]
        assert chosen["score"]["mean"] == min(r["mean"] for r in records)
        assert ("forget_bias" in chosen) == (method == "lstm")
        assert {"mean", "std", "median", "diverged"} <= set(records[0])
    opt = optimizer_for(data, "lstm", 100)
    assert opt.name == data["chosen"]["lstm"]["100"]["optimizer"] and opt.nesterov and opt.momentum == 0.95
    save_settings(tmp_path / "again.json", data)
    assert load_settings(tmp_path / "again.json") == data
    assert not (out / "checkpoints").exists()  # finished settings leave no checkpoints behind


def test_noise_in_the_scored_half_changes_nothing(whole, tmp_path):
    _, _, data = whole
    wav = write(tmp_path / "noisy.wav", music(noisy_second_half=True))
    noisy = run_tune(wav, tmp_path / "o", TuneConfig(**TINY), progress=False, log=quiet)
    assert noisy == data


def test_resumed_search_equals_an_uninterrupted_one(whole, tmp_path, monkeypatch):
    wav, _, data = whole
    out = tmp_path / "cut"
    # a sub-grid first: its settings are kept and the rest are trained
    run_tune(wav, out, TuneConfig(**{**TINY, "lrs": (1e-3,)}), progress=False, log=quiet)
    with pytest.raises(ParameterError, match="already holds a search"):
        run_tune(wav, out, TuneConfig(**TINY), progress=False, log=quiet)
    trained = []
    again = run_tune(wav, out, TuneConfig(**TINY), resume=True, progress=False, log=trained.append)
    assert again == data and json.loads((out / "tuned.json").read_text()) == data
    assert len([s for s in trained if not s.startswith("warning")]) == 6  # the 1e-4 half of the 12 settings

    # killed part-way through a setting: it continues from its checkpoint
    import cwrnn_audio.train.engine_numba as engine

    real, calls = engine.run_epochs, []

    def dies(*a, **k):
        calls.append(1)
        if (
            len(calls) == 8
        ):  # 3 one-epoch chunks per group (one per method and optimizer): the 3rd group, 2nd chunk
            raise KeyboardInterrupt
        return real(*a, **k)

    monkeypatch.setattr(engine, "run_epochs", dies)
    with pytest.raises(KeyboardInterrupt):
        run_tune(wav, tmp_path / "killed", TuneConfig(**TINY), progress=False, log=quiet)
    assert any((tmp_path / "killed" / "checkpoints").rglob("latest"))
    monkeypatch.setattr(engine, "run_epochs", real)
    resumed = run_tune(wav, tmp_path / "killed", TuneConfig(**TINY), resume=True, progress=False, log=quiet)
    assert resumed == data


def test_resume_with_other_training_settings_is_refused(whole, tmp_path):
    wav, _, _ = whole
    cfg = TuneConfig(**{**TINY, "methods": ("srn",), "lrs": (1e-3,), "optimizers": ("sgd",)})
    run_tune(wav, tmp_path, cfg, progress=False, log=quiet)
    with pytest.raises(ParameterError, match="was made with other settings"):
        run_tune(wav, tmp_path, TuneConfig(**{**cfg.__dict__, "epochs": 4}), resume=True, progress=False)


@pytest.mark.parametrize(
    "change, message",
    [
        ({"lrs": (1e-3, -1e-4)}, r"lrs must hold positive numbers; got -0\.0001"),
        ({"lrs": (1e-3, 0)}, "lrs must hold positive numbers; got 0"),
        ({"clips": (None, 0.0)}, r"clips must hold positive numbers; got 0\.0"),
        ({"forget_biases": (-1.0,)}, r"forget_biases must hold positive numbers; got -1\.0"),
        ({"optimizers": ("sgd", "rmsprop")}, "optimizers must be one of .*got 'rmsprop'"),
        ({"lrs": ()}, "lrs must hold at least one value"),
        ({"methods": ("gru",)}, "methods must be one of .*'gru'"),
    ],
)
def test_bad_grid_values_are_refused_by_name(change, message):
    with pytest.raises(ParameterError, match=message):
        TuneConfig(**{**TINY, **change})


def test_settings_file_errors_name_the_entry(whole, tmp_path):
    _, out, data = whole
    bad = json.loads(json.dumps(data))
    bad["chosen"]["lstm"]["100"]["optimizer"] = "rmsprop"
    (tmp_path / "a.json").write_text(json.dumps(bad))
    with pytest.raises(ParameterError, match=r"chosen\['lstm'\]\['100'\]: unknown optimizer 'rmsprop'"):
        load_settings(tmp_path / "a.json")
    bad = json.loads(json.dumps(data))
    del bad["chosen"]["srn"]
    (tmp_path / "b.json").write_text(json.dumps(bad))
    with pytest.raises(ParameterError, match="no entry for method 'srn'"):
        load_settings(tmp_path / "b.json")
    bad = json.loads(json.dumps(data))
    del bad["chosen"]["lstm"]["100"]
    with pytest.raises(ParameterError, match="no entry for method 'lstm', size 100"):
        save_settings(tmp_path / "c.json", bad)
    assert not (tmp_path / "c.json").exists()
    with pytest.raises(ParameterError, match="no such settings file"):
        load_settings(tmp_path / "missing.json")


def test_cli_tune_writes_settings_and_figures(whole, tmp_path, capsys):
    wav, _, data = whole
    assert main(["paper", "tune", str(wav), "--out", str(tmp_path / "o"), *TINY_CLI.split()]) == 0
    assert load_settings(tmp_path / "o" / "tuned.json") == data
    for m in ("srn", "lstm"):
        assert (tmp_path / "o" / f"tune_{m}.png").read_bytes()[:4] == b"\x89PNG"
    printed = capsys.readouterr().out
    assert "lstm" in printed and "tuned.json" in printed


def test_cli_usage_errors_exit_2_without_a_traceback(whole, tmp_path, capsys):
    wav, _, _ = whole
    assert main(["paper", "tune", str(wav), "--out", str(tmp_path), "--lrs", "1e-3,-1"]) == 2
    err = capsys.readouterr().err
    assert "lrs must hold positive numbers; got -1.0" in err and "Traceback" not in err
    short = write(tmp_path / "short.wav", music(0.05))
    assert main(["paper", "tune", str(short), "--out", str(tmp_path / "s"), *TINY_CLI.split()]) == 2
    assert "needs at least 3200 samples" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit_:
        main(["paper", "tune", str(wav), "--out", str(tmp_path), "--lrs", "fast"])
    assert exit_.value.code == 2 and "Traceback" not in capsys.readouterr().err


def test_cli_defaults_are_the_search_space_and_the_parser_stays_light():
    from cwrnn_audio.cli.paper import _clip

    parser = build_parser()
    args = parser.parse_args(["paper", "tune", "x.wav", "--out", "d"])
    assert args.lrs is None and args.runs == 20 and args.epochs == 2000  # None: TuneConfig's defaults
    assert TuneConfig(methods=("cwrnn",), sizes=(100,)).lrs == LRS  # the grid TuneConfig searches
    # the help's defaults parse back to that grid (what a user copies from --help means the same)
    tune = parser._subparsers._group_actions[0].choices["paper"]._subparsers._group_actions[0].choices["tune"]
    shown = {
        a.dest: a.help.split("default: ")[1].split(")")[0]
        for a in tune._actions
        if a.dest in ("lrs", "optimizers", "clips", "forget_biases")
    }
    assert tuple(float(v) for v in shown["lrs"].split(",")) == LRS
    assert tuple(shown["optimizers"].split(",")) == OPTIMIZERS
    assert tuple(_clip(v) for v in shown["clips"].split(",")) == CLIPS
    assert tuple(float(v) for v in shown["forget_biases"].split(",")) == FORGET_BIASES
    code = (
        "import sys; from cwrnn_audio.cli.main import build_parser; build_parser([]); "
        "build_parser(['generate', '--help']); print('torch' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"


def test_settings_trained_together_equal_each_setting_trained_alone(whole, tmp_path, monkeypatch):
    import cwrnn_audio.experiments.tune as tune

    wav, _, data = whole
    cfg = TuneConfig(**TINY)
    assert [len(g) for g in tune.groups(cfg, cfg.grid("lstm"))] == [4, 4]  # one population per optimizer
    populations = []
    real = tune.train_one
    monkeypatch.setattr(
        tune, "train_one", lambda *a, **k: populations.append(k["population"][1].shape[0]) or real(*a, **k)
    )
    monkeypatch.setattr(tune, "groups", lambda cfg, settings: [[s] for s in settings])
    alone = run_tune(wav, tmp_path / "alone", cfg, progress=False, log=quiet)
    assert populations == [TINY["runs"]] * 12 and alone == data


def test_a_choice_at_the_edge_of_the_learning_rate_grid_is_reported(whole, tmp_path):
    wav, _, data = whole
    said = []
    run_tune(wav, tmp_path / "o", TuneConfig(**TINY), progress=False, log=said.append)
    edge = [s for s in said if "at the edge of the grid" in s]
    assert len(edge) == 2 and all("widen --lrs" in s for s in edge)  # 2 learning rates: both are edges
    assert {s.split(": ")[1] for s in edge} == {"srn 100", "lstm 100"}
