"""Generate audio from a trained model folder.

  cwrnn-audio generate MODEL_DIR --seconds S [--prime FILE] [--temperature T] -o OUT.wav
"""
from __future__ import annotations

HELP = "generate audio from a trained model"


def add_arguments(p) -> None:
    p.add_argument("model_dir", metavar="MODEL_DIR")
    p.add_argument("--seconds", type=float, default=2.0)
    p.add_argument("--prime", metavar="FILE", help="audio the model continues")
    p.add_argument("--with-prime", action="store_true", help="write the prime before the continuation")
    p.add_argument("--temperature", type=float, default=1.0)
    p.add_argument("--top-k", type=int, default=0)
    p.add_argument("--noise", type=float, default=0.0, help="noise std fed back in regression models")
    p.add_argument("--voices", type=int, default=1, help="independent voices, written as channels")
    p.add_argument("--seed", type=int, default=None)
    p.add_argument("--backend", choices=("numba", "torch"), default="numba")
    p.add_argument("-o", "--output", required=True, metavar="OUT")


def run(args) -> int:
    import numpy as np

    from ..audio.dataset import load_clip
    from ..audio.generate import generate
    from ..audio.model_dir import load_model_dir
    from ..io.audio import write_audio

    model, adapter = load_model_dir(args.model_dir)
    prime = load_clip(args.prime, adapter.sample_rate) if args.prime else None
    audio = generate(model, adapter, args.seconds, prime=prime, temperature=args.temperature, top_k=args.top_k,
                     noise=args.noise, voices=args.voices, seed=args.seed, backend=args.backend)  # fmt: skip
    if args.with_prime and prime is not None:
        audio = np.concatenate([np.repeat(prime, audio.shape[0], axis=0), audio], axis=1)
    out = write_audio(args.output, audio, adapter.sample_rate)
    print(f"wrote {out}: {audio.shape[0]} voice(s), {audio.shape[1] / adapter.sample_rate:.2f} s at {adapter.sample_rate} Hz")
    return 0
