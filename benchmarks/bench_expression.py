"""How a score is performed (issue 28): today's envelopes, the CW-RNN expression model and an LSTM of equal
parameters trained the same way, on held-out tunes, against the real recording of each.

Usage: python benchmarks/bench_expression.py [--instruments flute,violin] [--epochs 30]

For each instrument: the expression models train on ``instruments/<name>_train.flac`` with
``train.mid`` (``cwrnn_audio.expression.fit.train_expression``) and play ``heldout.mid``, aligned to
``<name>_heldout.flac``. Printed per method: the loudness curve's error inside notes (dB RMSE over
frames), the same with each note's level offset removed (the within-note contour), the pitch
deviation's error (cents RMSE where the recording has a pitch; the envelopes' deviation is 0), the
note-to-note level spread (dB, std of the notes' mean loudness) beside the recording's, the rests'
loudness below the notes around them (in the rendering: the envelope's release and floor, as
``render_notes`` keeps them), and for the flute, whose instrument is bundled, the multi-scale
spectral distance of ``generate --midi``'s audio to the real recording; the "live" row is the model
the generator plugin plays (no note's end or next onset), trained beside the score model. Last, the
generator plugin's speed with the bundled flute, expression on and off. Targets: loudness error 30 %
below the envelopes' and below the LSTM's; rests 20 dB below the notes; spread within 1 dB of the
recording's; a lower spectral distance than the envelopes'.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np

import cwrnn_audio_samples

RATE = 250


def sample(name) -> str:
    return str(cwrnn_audio_samples.path(f"instruments/{name}"))


def metrics(loud, cents, f, notes, transpose) -> dict:
    from cwrnn_audio.expression.targets import expression_targets

    T = f.f0_hz.size
    t = (np.arange(T) + 1) / RATE
    real = expression_targets(f, notes, frame_rate=RATE, transpose=transpose)
    masks = [(t >= n.start) & (t < n.end) for n in notes]
    masks = [m for m in masks if m.sum() > 3]
    inside = np.any(masks, 0)
    err = loud - real.loudness_db
    contour = np.concatenate([err[m] - err[m].mean() for m in masks])
    d = real.has_cents
    return {
        "loudness dB RMSE": float(np.sqrt(np.mean(err[inside] ** 2))),
        "within-note dB RMSE": float(np.sqrt(np.mean(contour**2))),
        "cents RMSE": float(np.sqrt(np.mean((cents[d] - real.cents[d]) ** 2))),
        "spread dB": float(np.std([loud[m].mean() for m in masks])),
        "recording spread dB": float(np.std([real.loudness_db[m].mean() for m in masks])),
    }


def envelope_curves(notes, T):
    from cwrnn_audio.ddsp.render import note_controls

    _, db = note_controls(notes, frame_rate=RATE)
    db = db.max(0)
    return np.pad(db, (0, max(0, T - db.size)), constant_values=db.min())[:T], np.zeros(T)


def fit(x, frames: int) -> np.ndarray:
    """``x`` cut or padded (with its last value) to ``frames``."""
    return np.pad(x, (0, max(0, frames - x.size)), mode="edge")[:frames]


def rests_below(db, notes, T) -> float:
    """Mean loudness of the notes minus that of the rest frames past each release (dB)."""
    t = (np.arange(T) + 1) / RATE
    inside = np.any([(t >= n.start) & (t < n.end) for n in notes], 0)
    near = np.any([(t >= n.start) & (t < n.end + 0.25) for n in notes], 0)
    rest = ~near & (t < notes[-1].end)
    return float(db[inside].mean() - db[rest].mean()) if rest.any() else float("nan")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--instruments", default="flute,violin")
    ap.add_argument("--epochs", type=int, default=30)
    ap.add_argument("--block", type=int, default=512, help="the plugin's block size (default: %(default)s)")
    args = ap.parse_args()
    from cwrnn_audio.ddsp.loss import spectral_distance
    from cwrnn_audio.ddsp.render import _performed, note_controls, render_notes
    from cwrnn_audio.expression.fit import ExpressionTrainConfig, analyse, train_expression
    from cwrnn_audio.expression.play import performer, predict_expression
    from cwrnn_audio.models import load_model_dir

    for name in args.instruments.split(","):
        audio, f, placed = analyse(sample(f"{name}_heldout.flac"), sample("heldout.mid"), frame_rate=RATE)
        notes = placed.notes
        T = f.f0_hz.size
        rows = {"envelopes": envelope_curves(notes, T)}
        models = {}
        with tempfile.TemporaryDirectory() as d:
            for arch in ("cwrnn", "lstm"):
                cfg = ExpressionTrainConfig(architecture=arch, epochs=args.epochs)
                out, live = Path(d) / arch, Path(d) / f"{arch}_live"
                train_expression([(sample(f"{name}_train.flac"), sample("train.mid"))], out, cfg, progress=False,
                                 log=lambda s: None, live_dir=live if arch == "cwrnn" else None)  # fmt: skip
                models[arch] = load_model_dir(out, torch=arch == "lstm").model
                rows[f"{arch} expression"] = predict_expression(
                    models[arch], notes, frames=T, frame_rate=RATE
                )
                if arch == "cwrnn":  # the plugin's: no note's end, no next onset
                    rows["cwrnn live"] = predict_expression(
                        load_model_dir(live, torch=False).model,
                        notes,
                        frames=T,
                        frame_rate=RATE,
                        lookahead=False,
                    )
                net = load_model_dir(out).model
                params = net.config.num_parameters  # the CW-RNN's: its non-zero blocks only
                print(f"{name}: {arch} expression model, {params} parameters")
        print(f"\n{name} (held-out: {sample(f'{name}_heldout.flac')}, {len(notes)} notes, {T / RATE:.1f} s)")
        base = None
        for method, (loud, cents) in rows.items():
            m = metrics(loud, cents, f, notes, placed.transpose)
            base = base or m["loudness dB RMSE"]
            # the rendering's controls: sounding frames performed, releases and rests the envelope's
            _, env_db = note_controls(notes, frame_rate=RATE)
            perf = (
                (lambda line, n, L=loud, C=cents: (fit(L, n), fit(C, n))) if method != "envelopes" else None
            )
            db = (
                _performed(perf, notes, np.ones_like(env_db), env_db, RATE)[1].max(0)
                if perf
                else env_db.max(0)
            )
            print(
                f"  {method:<18} loudness {m['loudness dB RMSE']:6.2f} dB ({m['loudness dB RMSE'] / base:5.2f}x envelopes)"
                f"  within notes {m['within-note dB RMSE']:5.2f} dB  pitch {m['cents RMSE']:6.1f} cents"
                f"  spread {m['spread dB']:4.2f} dB (recording {m['recording spread dB']:4.2f})"
                f"  rests {rests_below(db, notes, db.size):5.1f} dB below the notes"
            )
        if name == "flute":
            folder = load_model_dir(cwrnn_audio_samples.path("models/flute_harmonic"), torch=False)
            real = audio[None].astype(np.float32)
            for method, perform in (
                ("envelopes", None),
                ("cwrnn expression", performer(models["cwrnn"], frame_rate=RATE)),
            ):
                out = render_notes(folder.model, folder.codec, notes, perform=perform)
                n = min(out.shape[1], real.shape[1])
                print(f"  {method:<18} spectral distance of the rendering to the recording: "
                      f"{spectral_distance(out[:, :n], real[:, :n]):.3f}")  # fmt: skip
    plugin_speed(args.block)
    return 0


def plugin_speed(block: int, rate: int = 48000) -> None:
    """The generator plugin playing the bundled flute, one voice, the held-out score's notes as MIDI
    events, expression on (its live model) and off, in one run."""
    import time

    from cwrnn_audio.midi import read_midi
    from cwrnn_audio.plugin import get_plugin

    notes = read_midi(sample("heldout.mid")).notes
    F = int((max(n.end for n in notes) + 0.5) * rate)
    events = sorted(
        [(round(n.start * rate), "note_on", n.pitch + 12, n.velocity) for n in notes]
        + [(round(n.end * rate), "note_off", n.pitch + 12, 0) for n in notes],
        key=lambda e: (e[0], e[1] == "note_on"),
    )
    print(
        f"\ngenerator plugin, bundled flute_harmonic, one voice, {rate} Hz, blocks of {block}, {F / rate:.1f} s"
    )
    for expression in (True, False):
        g = get_plugin("generator")("flute_harmonic", polyphony=1, expression=expression)
        g.prepare(rate, block, 1)
        blocks = [
            ([(t - i, *r) for t, *r in events if i <= t < i + block], min(block, F - i))
            for i in range(0, F, block)
        ]
        start = time.perf_counter()
        for ev, n in blocks:
            g.process_midi(ev, n)
        took = time.perf_counter() - start
        print(f"  expression {'on ' if expression else 'off'}  {F / rate / took:6.1f}x real time")


if __name__ == "__main__":
    sys.exit(main())
