"""Training on MIDI files: scores -> encoded streams -> the sequence trainer."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch

from ..errors import ParameterError
from ..train.sequence import LoopConfig, train_sequences
from .codec import is_categorical, make_encoding, model_io, stream
from .corpus import load_scores
from .model_dir import save_midi_model_dir


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

    def encoding_obj(self):
        return make_encoding(self.encoding, steps_per_beat=self.steps_per_beat)

    def model(self, enc):
        from ..nn.module import CWRNN

        I, O = model_io(enc)
        periods = self.periods
        if self.periods_beats is not None:
            if enc.name == "events":
                raise ParameterError(
                    "periods_beats needs a grid encoding (roll or melody); events run on 10 ms steps"
                )
            from ..adapters.base import periods_for_seconds

            lo, hi = self.periods_beats  # "seconds" at one step per 1/steps_per_beat beat: beats
            periods = periods_for_seconds(lo, hi, self.num_modules, self.steps_per_beat)
        act = "none"  # logits: softmax (classes) or sigmoid (roll) in the loss and the sampler
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
        if self.architecture != "lstm":
            raise ParameterError(f"architecture must be 'cwrnn' or 'lstm'; got {self.architecture!r}")
        from ..nn.lstm import LSTMConfig, LSTMNet

        H = self.lstm_hidden or next(
            h
            for h in range(1, 4096)
            if LSTMConfig(input_size=I, hidden_size=h, output_size=O).num_parameters >= cw.num_parameters
        )
        return LSTMNet(input_size=I, hidden_size=H, output_size=O, output_activation=act, forget_bias=1.0)


def tempo_and_program(tempos, programs) -> tuple[float, int]:
    """The corpus's median first tempo (BPM) and most common program, to write generated files with."""
    return (float(np.median(tempos)) if tempos else 120.0), (
        int(np.bincount(programs).argmax()) if programs else 0
    )


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
    (``workers`` DataLoader processes per rank); see :func:`cwrnn_audio.audio.train.train_audio`.
    """
    cfg = config or MidiTrainConfig()
    enc = cfg.encoding_obj()
    loss = "ce" if is_categorical(enc) else "bce"
    out = Path(out_dir)
    if distributed:
        from ..data.loaders import MidiLoader
        from ..train.distributed import process_group
        from ..train.streaming import train_streaming
        from .corpus import find_midi_files

        files = find_midi_files(paths)
        with process_group(cfg.device) as ranks:
            torch.manual_seed(cfg.seed)
            model = cfg.model(enc)

            def save(m, info, meta):
                tempo, program = tempo_and_program(
                    [d["tempo_bpm"] for d in meta], [p for d in meta for p in d["programs"]]
                )
                save_midi_model_dir(out, m, enc, info, program=program, tempo_bpm=tempo)

            res = train_streaming(
                files,
                MidiLoader(enc, drums=cfg.drums),
                model,
                loss,
                out,
                cfg,
                ranks=ranks,
                settings=asdict(cfg),
                workers=workers,
                resume=resume,
                progress=progress,
                log=log,
                save=save,
            )
        return {**{k: v for k, v in res.items() if k != "meta"}, "parameters": model.num_parameters}
    scores, skipped = load_scores(paths, drums=cfg.drums)
    for _, reason in skipped:
        log(f"skipped {reason}")
    streams = []
    for s in scores:
        try:
            streams.append(stream(enc, s))
        except ParameterError as exc:  # e.g. a roll past the step limit
            skipped.append((s.source, str(exc)))
            log(f"skipped {exc}")
    tempo, program = tempo_and_program(
        [60e6 / s.tempos[0][1] for s in scores], [n.program for s in scores for n in s.notes]
    )
    torch.manual_seed(cfg.seed)
    model = cfg.model(enc)
    history = train_sequences(
        streams,
        model,
        loss,
        out,
        cfg,
        settings=asdict(cfg),
        resume=resume,
        progress=progress,
        log=log,
        save=lambda m, info: save_midi_model_dir(out, m, enc, info, program=program, tempo_bpm=tempo),
    )
    return {**history, "skipped": [(str(p), r) for p, r in skipped], "parameters": model.num_parameters}
