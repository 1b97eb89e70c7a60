"""The plugin contract (DEFECTS.md items 3, 4, 8, 11, 20, 26; issue 25 item 4), each reproduction
run in a fresh interpreter with the bundled models, as a user or host would meet it."""

from __future__ import annotations

from harness import case, python

PRELUDE = """
import threading
import numpy as np
from cwrnn_audio.errors import ParameterError, ParameterTypeError
from cwrnn_audio.plugin import get_plugin

def refused(fn, *args, kind=ParameterError):
    try:
        fn(*args)
    except kind as exc:
        return str(exc)
    except Exception as exc:
        raise AssertionError(f"{fn.__name__}{args!r:.80}: {type(exc).__name__}: {exc}") from None
    raise AssertionError(f"{fn.__name__}{args!r:.80} was accepted")
"""


def run(code: str, tmp_path=None) -> str:
    r = python(PRELUDE + code, cwd=tmp_path)
    if r.returncode:
        lines = (r.stderr.strip() or r.stdout.strip() or f"exit {r.returncode}").splitlines()
        raise AssertionError(lines[-1])
    return r.stdout


@case("D3 one NaN sample silences the effect for good")
def nan_sample_effect(tmp_path):
    run("""
fx = get_plugin("effect")()
fx.prepare(48000, 256, 1)
x = (0.3 * np.sin(np.arange(256) / 9.0)).astype(np.float32)[None]
bad = x.copy(); bad[0, 7] = np.nan
y = fx.process(bad).copy()
later = [fx.process(x).copy() for _ in range(4)]
assert np.isfinite(y).all(), "the block with the NaN came out with NaN"
assert all(np.isfinite(b).all() for b in later), "blocks after the NaN are NaN"
assert np.sqrt(np.mean(later[-1] ** 2)) > 1e-3, "the effect went silent after a NaN"
""")


@case("D3 the generator takes any velocity (1e9, negative, NaN)")
def generator_velocity(tmp_path):
    run("""
g = get_plugin("generator")(polyphony=2)
g.prepare(48000, 512, 1)
for v in (1e9, 10**9, -100, float("nan"), 128):
    msg = refused(g.process_midi, [(0, "note_on", 60, v)], 512)
    assert "velocity" in msg and "MidiEvent" in msg, msg
""")


@case("D4 continuator: note 1000 gives IndexError later; negative num_frames")
def continuator_notes(tmp_path):
    run("""
c = get_plugin("continuator")(wait_s=0.1)
c.prepare(48000, 512, 1)
refused(c.process_midi, [(0, "note_on", 1000, 100)], 512)
refused(c.process_midi, [(0, "note_on", 60, 1000)], 512)
refused(c.process_midi, [(0, "chord", 60, 100)], 512)
refused(c.process_midi, [], -512)
refused(c.process_midi, [], 513)
refused(c.process_midi, [(600, "note_on", 60, 100)], 512)
assert c._now == 0, f"refused calls moved the clock to {c._now}"
c.process_midi([(0, "note_on", 60, 100), (100, "note_off", 60, 0)], 512)
for _ in range(40):  # past wait_s: the answer plays, no error on any block
    c.process_midi([], 512)
""")


@case("D8 set_state: another size, missing key, NaN, another model; atomic")
def set_state(tmp_path):
    run(
        """
import shutil, json
from safetensors.numpy import load, save
from cwrnn_audio.plugin.base import _metadata
import cwrnn_audio_samples
from cwrnn_audio.models.folder import load_model_dir, save_model_dir

Effect = get_plugin("effect")
def ready(folder=None, **kw):
    p = Effect(folder, **kw); p.prepare(48000, 64, 1); p.process(np.full((1, 64), 0.2, np.float32)); return p

src = cwrnn_audio_samples.path("models/effect_drive")
model, codec, _ = load_model_dir(src, domain="audio")
import torch
with torch.no_grad():
    dict(model.named_parameters())["W_O"].add_(0.01)  # W_H must stay block-triangular
other = save_model_dir("other", model, codec)   # same size, other weights

fx = ready(mix=0.8)
good = ready(mix=0.3).get_state()
arrays, meta = load(good), _metadata(good)
cases = {
    "another model of the same size": ready(other, mix=0.3).get_state(),
    "a missing key": save({k: v for k, v in arrays.items() if k != "h"}, metadata=meta),
    "a NaN state": save({**arrays, "h": np.full_like(arrays["h"], np.nan)}, metadata=meta),
    "another size": save({**arrays, "h": np.zeros((1, arrays["h"].shape[1] + 1), np.float32)}, metadata=meta),
}
before = fx.get_state()
for what, state in cases.items():
    msg = refused(fx.set_state, state)
    assert fx["mix"] == 0.8, f"{what}: the parameters changed before the refusal"
    now = load(fx.get_state())  # the bytes' metadata order varies: compare the arrays
    same = all(np.array_equal(now[k], v) for k, v in load(before).items())
    assert same, f"{what}: the running state changed before the refusal"
fx.set_state(good)
assert fx["mix"] == 0.3
""",
        tmp_path,
    )


@case("D11 NaN/inf sample rates, get_state before prepare, int16/complex audio")
def api_checks(tmp_path):
    run("""
fx = get_plugin("effect")()
for rate in (float("nan"), float("inf")):
    refused(fx.prepare, rate, 64, 1)
    refused(fx, np.zeros((1, 64), np.float32), rate)
refused(fx.get_state)
for dtype in (np.int16, np.complex64):
    msg = refused(fx, np.zeros((1, 64), dtype), 48000, kind=ParameterTypeError)
    assert np.dtype(dtype).name in msg, msg
g = get_plugin("generator")(polyphony=1)
g.prepare(48000, 64, 1)
for ev in ([(0, "note_on")], [(0, "note_on", "C4", 100)], ["note_on 60"], [(0.5, "note_on", 60, 100)]):
    refused(g.process_midi, ev, 64)
""")


@case("D20 one plugin instance driven from two threads")
def two_threads(tmp_path):
    run("""
from cwrnn_audio.plugin import Plugin

class Slow(Plugin):
    name = "slow"
    def __init__(self):
        super().__init__(); self.inside, self.go = threading.Event(), threading.Event()
    def _prepare(self, *a): pass
    def _process(self, audio):
        self.inside.set(); self.go.wait(10); return audio
    def _reset(self): pass
    def _state_arrays(self): return {}
    def _load_state_arrays(self, a): pass

p = Slow(); p.prepare(48000, 8, 1)
t = threading.Thread(target=p.process, args=(np.zeros((1, 8), np.float32),)); t.start()
p.inside.wait(10)
try:
    msg = refused(p.process, np.zeros((1, 8), np.float32))
    assert "another thread" in msg, msg
finally:
    p.go.set(); t.join()
assert "thread" in (Plugin.__doc__ or ""), "the Plugin docstring states no thread contract"
""")


@case("D26 Generator('samples/models/flute_harmonic') outside the repository root")
def bundled_by_name(tmp_path):
    run(
        """
Generator = get_plugin("generator")
for name in ("samples/models/flute_harmonic", "flute_harmonic"):
    assert Generator(name, polyphony=1).is_instrument
msg = refused(Generator, "samples/models/nonesuch")
assert "samples/models/nonesuch" in msg, msg
""",
        tmp_path,
    )


@case("I25.4 the mu-law generator primes from Bach whatever the model")
def prime_from_folder(tmp_path):
    run(
        """
import cwrnn_audio_samples
from cwrnn_audio.models.folder import load_model_dir, save_model_dir
model, codec, _ = load_model_dir(cwrnn_audio_samples.path("models/bach_mulaw"), domain="audio")
mine = save_model_dir("mine", model, codec)  # a user's folder: no Bach in it
Generator = get_plugin("generator")
g = Generator(mine, polyphony=1)
src = str(getattr(g, "prime_source", "bach_prelude_fluidr3.flac"))
assert "bach" not in src, f"a user's model primes from {src}"
t = np.arange(8000) / 16000
import soundfile as sf
sf.write("tone.wav", 0.5 * np.sin(2 * np.pi * 220 * t), 16000)
p = Generator(mine, polyphony=1, prime="tone.wav")
assert not np.array_equal(p._prime_state[0], g._prime_state[0]), "prime= changed nothing"
""",
        tmp_path,
    )
