"""Continue a bundled piano clip with the bundled model, and show the streaming engine's speed.

With no arguments: the bundled log-mel frame model (samples/models/piano_mel)
reads the first 1.5 s of samples/piano_phrase.wav through the Numba kernel,
then generates a continuation, decoded by Griffin-Lim; the prime and the
continuation are written to one file. Choose another model folder or clip
with --model / --input.
"""

from __future__ import annotations

import time

import numpy as np

HELP = "continue a bundled clip with a bundled model and write the result"


def add_arguments(p) -> None:
    p.add_argument("--model", metavar="MODEL_DIR", help="model folder (default: the bundled piano_mel)")
    p.add_argument("-i", "--input", help="audio to continue (default: the bundled piano phrase)")
    p.add_argument("--prime-seconds", type=float, default=1.5)
    p.add_argument("--seconds", type=float, default=2.0, help="length of the continuation")
    p.add_argument(
        "-o", "--output", default="cwrnn_demo.wav", help="output audio file (default: %(default)s)"
    )
    p.add_argument("--backend", choices=("numba", "torch"), default="numba")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("-q", "--quiet", action="store_true", help="print only the output path")


def run(args) -> int:
    import cwrnn_audio_samples

    from ..audio.dataset import load_clip
    from ..audio.generate import generate
    from ..errors import ParameterError
    from ..io.audio_file import write_audio
    from ..models.folder import load_model_dir

    if args.prime_seconds <= 0 or args.seconds <= 0:
        raise ParameterError(
            f"--prime-seconds and --seconds must be positive; got {args.prime_seconds}, {args.seconds}"
        )
    model_dir = args.model or cwrnn_audio_samples.path("models/piano_mel")
    source = args.input or cwrnn_audio_samples.path("piano_phrase.wav")
    model, adapter, _ = load_model_dir(model_dir, domain="audio")
    clip = load_clip(source, adapter.sample_rate)
    prime = clip[:, : int(args.prime_seconds * adapter.sample_rate)]
    start = time.perf_counter()
    audio = generate(model, adapter, args.seconds, prime=prime, seed=args.seed, backend=args.backend)
    elapsed = time.perf_counter() - start
    out = write_audio(args.output, np.concatenate([prime, audio], axis=1), adapter.sample_rate)
    if args.quiet:
        print(out)
        return 0
    c = model.config
    steps = adapter.steps(args.prime_seconds) + adapter.steps(args.seconds)
    print(
        f"model      {model_dir}: CW-RNN {c.num_modules} modules x {list(c.module_sizes)}, periods {list(c.periods)}"
    )
    print(f"           {c.num_parameters} weights (+{c.num_periods} periods); {adapter!r}")
    print(f"prime      {source}: first {prime.shape[1] / adapter.sample_rate:.2f} s")
    print(
        f"generated  {audio.shape[1] / adapter.sample_rate:.2f} s in {elapsed * 1e3:.0f} ms "
        f"({steps} model steps on {args.backend}, decoding included)"
    )
    print(f"output     {out}  (prime, then continuation; peak {np.abs(audio).max():.3f})")
    return 0
