"""The harmonic instrument: silence in rests (issue 25 item 2, DEFECTS 21) and notes' times (DEFECTS 11)."""

from __future__ import annotations

import json

from harness import case, cli, python

# A random-weight instrument whose own output is loud whatever its controls (as a model that never
# heard quiet frames may be), one voice with two half-second rests and a tail; ``level(audio, sr,
# a, b)`` is the RMS in dB over [a, b) seconds.
SETUP = """
import json, math
import numpy as np, torch
from cwrnn_audio import CWRNN
from cwrnn_audio.adapters.harmonic import HarmonicAdapter
from cwrnn_audio.midi.notes import Note
c = HarmonicAdapter(sample_rate=16000, frame_rate=250, n_harmonics=8, n_noise=9)
torch.manual_seed(25)
model = CWRNN(input_size=2, output_size=c.output_size, num_modules=3, module_size=4)
with torch.no_grad():
    model.b_O[0] = 3.0
    model.b_O[1 + c.n_harmonics:] = 5.0
NOTES = [Note(69, 100, 0.0, 0.5), Note(72, 100, 1.0, 1.5), Note(67, 100, 2.0, 2.5)]
RESTS = [(0.62, 1.0), (1.62, 2.0), (2.62, 3.12)]  # after each release (0.12 s)
def level(audio, sr, a, b):
    x = np.asarray(audio, np.float64)[int(a * sr):int(b * sr)]
    return 10 * math.log10(max(float(np.mean(x ** 2)), 1e-30))
def levels(audio, sr):
    return [level(audio, sr, n.start, n.end) for n in NOTES], [level(audio, sr, a, b) for a, b in RESTS]
"""


def _check_levels(r, where: str) -> None:
    assert r.returncode == 0, r.stderr[-1500:]
    notes, rests = json.loads(r.stdout.strip().splitlines()[-1])
    loud = sum(notes) / len(notes)
    assert max(rests) <= loud - 40, (
        f"{where}: rests at {[round(x, 1) for x in rests]} dB, notes at {loud:.1f} dB (want rests >= 40 dB below)"
    )


@case("I25.2 render_notes: rests of a loud instrument are silent")
def rests_offline(tmp_path):
    r = python(
        SETUP
        + """
from cwrnn_audio.ddsp.render import render_notes
print(json.dumps(levels(render_notes(model, c, NOTES)[0], c.sample_rate)))
"""
    )
    _check_levels(r, "render_notes")


@case("I25.2 generator plugin: rests of a loud harmonic instrument are silent")
def rests_plugin(tmp_path):
    r = python(
        SETUP
        + f"""
from cwrnn_audio.models.folder import save_model_dir
from cwrnn_audio.plugin import get_plugin
folder = save_model_dir({str(tmp_path / "model")!r}, model, c)
host = 48000
g = get_plugin("generator")(folder, polyphony=2)
g.prepare(host, 480, 1)
events = sorted([(int(n.start * host), "note_on", n.pitch, n.velocity) for n in NOTES]
                + [(int(n.end * host), "note_off", n.pitch, 0) for n in NOTES], key=lambda e: (e[0], e[1] == "note_on"))
out, total = [], int(RESTS[-1][1] * host)
for pos in range(0, total, 480):
    out.append(g.process_midi([(t - pos, *e) for t, *e in events if pos <= t < pos + 480], 480).copy())
audio = np.concatenate(out, axis=1)[0, g.latency_samples:]
print(json.dumps(levels(audio, host)))
"""
    )
    _check_levels(r, "generator plugin")


@case("D21 generate --midi: rests and the tail of a loud instrument are silent")
def rests_cli(tmp_path):
    model, mid, wav = tmp_path / "model", tmp_path / "rests.mid", tmp_path / "out.wav"
    r = python(
        SETUP
        + f"""
from cwrnn_audio.midi.notes import Score
from cwrnn_audio.midi.write import write_midi
from cwrnn_audio.models.folder import save_model_dir
save_model_dir({str(model)!r}, model, c)
write_midi(Score(notes=NOTES), {str(mid)!r})
"""
    )
    assert r.returncode == 0, r.stderr[-1500:]
    g = cli("generate", model, "--midi", mid, "-o", wav)
    assert g.returncode == 0, g.stderr[-1500:]
    r = python(
        SETUP
        + f"""
import soundfile as sf
audio, sr = sf.read({str(wav)!r}, dtype="float32", always_2d=True)
print(json.dumps(levels(audio[:, 0], sr)))
"""
    )
    _check_levels(r, "generate --midi")


@case("D21 a training recording without quiet frames warns")
def no_quiet_frames(tmp_path):
    r = python(
        """
import warnings
import numpy as np
from cwrnn_audio.adapters.harmonic import HarmonicAdapter
c = HarmonicAdapter(sample_rate=16000, frame_rate=250, n_harmonics=8, n_noise=9)
db = np.concatenate([np.full(900, -25.0), np.full(100, -100.0)])  # silence only in the validation tail
streams = [(c.controls(np.full(1000, 220.0), db), None)]
with warnings.catch_warnings(record=True) as w:
    warnings.simplefilter("always")
    check = getattr(c, "check_quiet", None)
    if check is not None:
        check(streams, 0.1)
print(any("quiet" in str(x.message) for x in w))
"""
    )
    assert r.returncode == 0, r.stderr[-1500:]
    assert r.stdout.strip().endswith("True"), (
        "no warning for a recording that is quiet only in its validation tail"
    )


@case("D11 render_notes with NaN or 1e12 times is refused naming the note")
def bad_times(tmp_path):
    r = python(
        SETUP
        + """
from cwrnn_audio.errors import ParameterError
from cwrnn_audio.ddsp.render import render_notes
seen = []
for start, end in ((float("nan"), 1.0), (0.0, 1e12), (0.0, float("nan"))):
    try:
        render_notes(model, c, [Note(60, 100, 0.0, 0.5), Note(62, 90, start, end)])
        seen.append("rendered")
    except ParameterError as e:
        seen.append("ok" if "notes[1]" in str(e) and "62" in str(e) else "unnamed: " + str(e))
    except Exception as e:
        seen.append(type(e).__name__ + ": " + str(e)[:100])
print(json.dumps(seen))
""",
        timeout=120,
    )
    assert r.returncode == 0, r.stderr[-1500:]
    seen = json.loads(r.stdout.strip().splitlines()[-1])
    assert seen == ["ok"] * 3, f"render_notes with bad times: {seen}"
