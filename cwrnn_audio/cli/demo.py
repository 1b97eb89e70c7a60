"""Build a CW-RNN, stream an audio file through it block by block, write the result.

With no arguments it uses the bundled sample (a plucked-string phrase) and an
untrained M-size model (8 modules x 16 neurons, periods 1..128, tanh output),
one voice per channel. It shows the streaming engine and its speed; training
arrives with `cwrnn-audio train`.
"""
from __future__ import annotations

import time

import numpy as np

HELP = "stream a sample through an (untrained) CW-RNN and write the output"


def add_arguments(p) -> None:
    p.add_argument("-i", "--input", help="audio file to stream (default: the bundled sample)")
    p.add_argument("-o", "--output", default="cwrnn_demo.wav", help="output audio file (default: %(default)s)")
    p.add_argument("--save-model", metavar="PATH", help="also write the model as .safetensors")
    p.add_argument("--backend", choices=("numba", "torch"), default="numba")
    p.add_argument("--block", type=int, default=512, help="block size in samples (default: %(default)s)")
    p.add_argument("--modules", type=int, default=8, help="number of modules (default: %(default)s)")
    p.add_argument("--module-size", type=int, default=16, help="neurons per module (default: %(default)s)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")


def run(args) -> int:
    import torch
    from tqdm import tqdm

    from ..errors import ParameterError
    from ..io.audio import read_audio, write_audio
    from ..nn.module import CWRNN

    if args.block < 1:
        raise ParameterError(f"--block must be a positive integer; got {args.block}")
    if args.input is None:
        import cwrnn_audio_samples

        source = cwrnn_audio_samples.path("pluck_melody.wav")
    else:
        source = args.input
    audio, sr = read_audio(source)
    channels, frames = audio.shape

    torch.manual_seed(args.seed)
    model = CWRNN(
        input_size=1, output_size=1, num_modules=args.modules,
        module_size=args.module_size, output_activation="tanh",
    )  # fmt: skip
    stream = model.stream(backend=args.backend, voices=channels)
    x = audio[:, :, None]  # each channel is one voice, one feature per step
    out = np.empty((channels, frames, 1), np.float32)
    stream.process(x[:, :1])  # first call compiles (cached on disk)
    stream.reset()
    start = time.perf_counter()
    for i in tqdm(range(0, frames, args.block), disable=args.quiet, unit="block", desc="streaming"):
        j = min(i + args.block, frames)
        out[:, i:j] = stream.process(x[:, i:j])
    elapsed = time.perf_counter() - start
    written = write_audio(args.output, out[:, :, 0], sr)
    if args.save_model:
        model.save(args.save_model)

    y = out[:, :, 0]
    ns = elapsed / (frames * channels) * 1e9
    rtf = (frames / sr) / elapsed if elapsed > 0 else float("inf")
    c = model.config
    print(f"model      CW-RNN {c.num_modules} modules x {list(c.module_sizes)} neurons, periods {list(c.periods)}")
    print(f"           {c.num_parameters} weights (+{c.num_periods} periods), backend {args.backend}")
    print(f"input      {source}  ({channels} ch, {sr} Hz, {frames / sr:.2f} s)")
    print(f"streamed   {frames} frames in blocks of {args.block}: {elapsed * 1e3:.1f} ms, "
          f"{ns:.0f} ns/sample/voice, {rtf:.0f}x real time")  # fmt: skip
    print(f"output     {written}  peak {np.abs(y).max():.3f}, rms {np.sqrt(np.mean(y**2)):.3f}")
    if args.save_model:
        print(f"model file {args.save_model}")
    return 0
