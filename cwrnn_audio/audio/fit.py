"""Autoregressive audio training: adapters turn clips into streams for the sequence trainer."""

from __future__ import annotations

from dataclasses import asdict, dataclass

from ..adapters import periods_for_seconds
from ..checks import valid_choice
from ..errors import ParameterError, ParameterTypeError
from ..models.registry import codec_names, make_codec
from ..train.folder import claim, file_digests
from ..train.sequence import LoopConfig, run_settings, train_model_dir, train_model_dir_streamed
from .dataset import find_audio_files, load_corpus


@dataclass
class AudioTrainConfig(LoopConfig):
    encoding: str = "mulaw"  # "raw", "mulaw", "mel" or "harmonic"
    context: int = 1  # mulaw: the last N samples as input
    n_fft: int = 1024  # mel: FFT size
    hop_length: int = 256  # mel: samples per frame step (the model's step rate is sample_rate / hop_length)
    n_mels: int = 64  # mel: bands
    frame_rate: int = 250  # harmonic: frames per second (the model's step rate)
    n_harmonics: int = 60  # harmonic: oscillators at multiples of f0
    n_noise: int = 65  # harmonic: noise-filter bands from 0 Hz to Nyquist
    sample_rate: int = 16000  # the model's rate; files are resampled to it
    channels: str = "mix"  # "mix" to mono, or "keep" (each channel its own stream)
    num_modules: int = 8
    module_size: int = 16
    periods: object = "exponential"  # or [shortest_s, longest_s] to span seconds geometrically

    def __post_init__(self):
        super().__post_init__()
        valid_choice(self.encoding, codec_names("audio"), name="encoding")
        for key in ("num_modules", "module_size"):
            v = getattr(self, key)
            if isinstance(v, bool) or not isinstance(v, int):
                raise ParameterTypeError(f"{key} must be a positive integer; got {v!r}")
            if v < 1:
                raise ParameterError(f"{key} must be a positive integer; got {v!r}")

    def adapter(self):
        return make_codec(self.encoding, **asdict(self))

    def model(self, adapter):
        from ..nn.module import CWRNN

        periods = self.periods
        if not isinstance(periods, str):
            lo, hi = periods
            periods = periods_for_seconds(lo, hi, self.num_modules, adapter.step_rate)
        return CWRNN(
            input_size=adapter.input_size,
            output_size=adapter.output_size,
            num_modules=self.num_modules,
            module_size=self.module_size,
            periods=periods,
            output_activation=adapter.output_activation,
        )


def train_audio(
    paths,
    out_dir,
    config: AudioTrainConfig | None = None,
    *,
    resume=False,
    progress=True,
    log=print,
    distributed=False,
    workers=0,
    cache_dir=None,
):
    """Train an autoregressive CW-RNN on audio files; writes a model folder to ``out_dir``.

    Returns a dict with the per-epoch ``train_loss`` and ``val_loss``, the
    ``best_epoch``, and the ``skipped`` files with their reasons.

    ``distributed``: run under ``torchrun`` with DDP (gloo on CPUs, NCCL on GPUs), files
    streamed window by window (``workers`` DataLoader processes per rank; ``cache_dir`` keeps
    decoded, resampled audio) instead of loaded whole.
    """
    cfg = config or AudioTrainConfig()
    adapter = cfg.adapter()
    make_model = lambda: cfg.model(adapter)
    run = dict(resume=resume, progress=progress, log=log)
    files = find_audio_files(paths)
    if distributed:
        from .loader import AudioLoader

        loader = AudioLoader(adapter, channels=cfg.channels, cache_dir=cache_dir)
        return train_model_dir_streamed(
            files, loader, make_model, adapter, out_dir, cfg, workers=workers, **run
        )[0]
    data = file_digests(files)
    # the folder's checks come before decoding and pitch analysis, which can take minutes
    with claim(out_dir, resume=resume, settings=run_settings(cfg, data)):
        clips, skipped = load_corpus(
            files, cfg.sample_rate, channels=cfg.channels, min_frames=cfg.window * 2, codec=adapter
        )
        for _path, reason in skipped:
            log(f"skipped {reason}")
        streams = [s for _, audio in clips for s in adapter.streams(audio)]
        if hasattr(adapter, "report"):
            log(adapter.report())
        if hasattr(adapter, "check_quiet"):  # an instrument that never heard silence: say so
            adapter.check_quiet(streams, cfg.val_fraction)
        history, _ = train_model_dir(
            streams, make_model, adapter, out_dir, cfg, data=data, **adapter.playback_settings(streams), **run
        )
    return {**history, "skipped": [(str(p), r) for p, r in skipped]}
