"""Training on MIDI files: scores -> encoded streams -> the sequence trainer."""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from ..checks import valid_choice
from ..core.kinds import SEQUENCE_KINDS
from ..errors import ParameterError
from ..models.registry import codec_names, make_codec
from ..train.folder import claim, file_digests
from ..train.sequence import LoopConfig, run_settings, train_model_dir, train_model_dir_streamed
from .corpus import find_midi_files, load_scores


@dataclass
class MidiTrainConfig(LoopConfig):
    encoding: str = "melody"  # "roll", "events" or "melody"
    steps_per_beat: int = 4  # grid encodings: 4 = sixteenth notes
    architecture: str = "cwrnn"  # "cwrnn" or "lstm" (the baseline, for comparisons)
    num_modules: int = 6
    module_size: int = 16
    periods: object = "exponential"  # 1, 2, 4 ... steps: on a sixteenth grid, up to 2 bars with 6 modules
    periods_beats: object = None  # grid encodings: (shortest, longest) in beats, spread geometrically
    lstm_hidden: int = 0  # lstm: cells; 0 picks the count whose parameters match the CW-RNN's
    drums: str = "drop"  # "keep", "drop" or "only"
    window: int = 64
    chunk_windows: int = 4
    batch: int = 8

    def __post_init__(self):
        super().__post_init__()
        valid_choice(self.encoding, codec_names("midi"), name="encoding")
        valid_choice(self.architecture, SEQUENCE_KINDS, name="architecture")

    def encoding_obj(self):
        return make_codec(self.encoding, **asdict(self))

    def model(self, enc):
        from ..nn.module import CWRNN

        I, O = enc.input_size, enc.output_size
        periods = self.periods
        if self.periods_beats is not None:
            if enc.grid is None:
                raise ParameterError(
                    "periods_beats needs a grid encoding (roll or melody); events run on 10 ms steps"
                )
            from ..adapters.base import periods_for_seconds

            lo, hi = self.periods_beats  # "seconds" at one step per 1/steps_per_beat beat: beats
            periods = periods_for_seconds(lo, hi, self.num_modules, self.steps_per_beat)
        act = enc.output_activation  # "linear": logits, softmax (classes) or sigmoid (roll) in the loss
        cw = CWRNN(
            input_size=I,
            output_size=O,
            num_modules=self.num_modules,
            module_size=self.module_size,
            periods=periods,
            output_activation=act,
        )
        if self.architecture == "cwrnn":
            return cw
        from ..nn.lstm import LSTMNet, matching_hidden

        H = self.lstm_hidden or matching_hidden(I, O, cw.num_parameters)
        return LSTMNet(input_size=I, hidden_size=H, output_size=O, output_activation=act, forget_bias=1.0)


def playback_settings(tempos, programs) -> dict:
    """The corpus's median first tempo (BPM) and most common program, to write generated files with."""
    tempo = float(np.median(tempos)) if tempos else 120.0
    return {"tempo_bpm": tempo, "program": int(np.bincount(programs).argmax()) if programs else 0}


def train_midi(
    paths,
    out_dir,
    config: MidiTrainConfig | None = None,
    *,
    resume=False,
    progress=True,
    log=print,
    distributed=False,
    workers=0,
):
    """Train an autoregressive model on MIDI files; writes a MIDI model folder to ``out_dir``.

    ``distributed``: run under ``torchrun`` with DDP, files streamed window by window
    (``workers`` DataLoader processes per rank); see :func:`cwrnn_audio.audio.fit.train_audio`.
    """
    cfg = config or MidiTrainConfig()
    enc = cfg.encoding_obj()
    make_model = lambda: cfg.model(enc)
    run = dict(resume=resume, progress=progress, log=log)
    files = find_midi_files(paths)
    if distributed:
        from .loader import MidiLoader

        def playback(meta):
            return playback_settings([d["tempo_bpm"] for d in meta], [p for d in meta for p in d["programs"]])

        loader = MidiLoader(enc, drums=cfg.drums)
        run.update(playback=playback, workers=workers)
        history, model = train_model_dir_streamed(files, loader, make_model, enc, out_dir, cfg, **run)
        return {**history, "parameters": model.num_parameters}
    data = file_digests(files)
    with claim(out_dir, resume=resume, settings=run_settings(cfg, data)):  # before reading the scores
        scores, skipped = load_scores(files, drums=cfg.drums)
        for _, reason in skipped:
            log(f"skipped {reason}")
        streams = []
        for s in scores:
            try:
                streams.extend(enc.streams(s))
            except ParameterError as exc:  # e.g. a roll past the step limit
                skipped.append((s.source, str(exc)))
                log(f"skipped {exc}")
        tempos = [60e6 / s.tempos[0][1] for s in scores]
        run.update(playback_settings(tempos, [n.program for s in scores for n in s.notes]))
        history, model = train_model_dir(streams, make_model, enc, out_dir, cfg, data=data, **run)
    skipped = [(str(p), r) for p, r in skipped]
    return {**history, "skipped": skipped, "parameters": model.num_parameters}
