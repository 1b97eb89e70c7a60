"""The streaming runtime, the kernel cache and the configuration's limits (DEFECTS.md 1, 2 and 10)."""

from __future__ import annotations

import json
import os
import pickle

from harness import case, cli, no_traceback, python

MODEL = "cwrnn_audio.CWRNN(input_size={i}, output_size={o}, num_modules=2, module_size=4)"


def _refused(r, *needles):
    """A fresh process ended with a ParameterError naming ``needles``, not a crash."""
    assert r.returncode == 1, f"exit {r.returncode} (139/-11: SIGSEGV): {r.stderr[-500:]}"
    last = r.stderr.strip().splitlines()[-1] if r.stderr.strip() else ""
    assert "ParameterError" in last and all(n in last for n in needles), last


@case("D1 free_run with 64 voices of noise on a one-voice stream")
def free_run_voices(tmp_path):
    r = python(
        "import numpy as np, cwrnn_audio\n"
        f"s = {MODEL.format(i=1, o=1)}.stream(voices=1)\n"
        "s.free_run(np.zeros((64, 100000, 1), np.float32), np.zeros((64, 1), np.float32))\n"
    )
    _refused(r, "noise", "(1, N, 1)", "(64, 100000, 1)")


@case("D1 sample_classes with too many voices and too few class values")
def sample_classes_arrays(tmp_path):
    for call, needles in (
        (
            "s.sample_classes(np.full((64, 50000), 0.5), np.zeros(8, np.float32), np.zeros((64, 1), np.float32))",
            ("uniforms", "(1, N)", "(64, 50000)"),
        ),
        (
            "s.sample_classes(np.full((1, 50000), 0.5), np.zeros(1, np.float32), np.zeros((1, 1), np.float32))",
            ("class_values", "(8,)", "(1,)"),
        ),
    ):
        r = python(
            f"import numpy as np, cwrnn_audio\ns = {MODEL.format(i=1, o=8)}.stream(voices=1)\n{call}\n"
        )
        _refused(r, *needles)


@case("D1 free_run of a model with fewer inputs than outputs")
def free_run_sizes(tmp_path):
    r = python(
        "import numpy as np, cwrnn_audio\n"
        f"s = {MODEL.format(i=1, o=64)}.stream(voices=1)\n"
        "s.free_run(np.zeros((1, 1000, 64), np.float32), np.zeros((1, 1), np.float32))\n"
    )
    _refused(r, "input_size == output_size")


class _Payload:
    """Pickled, it creates ``marker`` when loaded: what a planted cache index can do."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.mkdir, (self.marker,))


RUN_KERNEL = (
    "import numpy as np\n"
    "from cwrnn_audio.kernels.sample import pick_class as k\n"
    "k(np.zeros(3, np.float32), 1.0, 0, 0.5)\n"
    "print(k._cache._cache_file._index_path)\n"
)


@case("D2 a pickle planted in a world-writable CWRNN_AUDIO_CACHE_DIR is not loaded")
def planted_index(tmp_path):
    env = {**os.environ, "CWRNN_AUDIO_CACHE_DIR": str(tmp_path / "mine")}
    r = python(RUN_KERNEL, env=env)  # learn the index file's name in a private folder
    assert r.returncode == 0, r.stderr[-500:]
    index = r.stdout.strip().splitlines()[-1]
    shared = tmp_path / "shared"
    sub = shared / os.path.basename(os.path.dirname(index))
    sub.mkdir(parents=True)
    marker = tmp_path / "code-ran"
    (sub / os.path.basename(index)).write_bytes(pickle.dumps(_Payload(str(marker))))
    for folder in (shared, sub):
        os.chmod(folder, 0o777)  # as a shared cache folder would be
    r = python(RUN_KERNEL, env={**os.environ, "CWRNN_AUDIO_CACHE_DIR": str(shared)})
    assert not marker.exists(), "the planted pickle ran"
    assert r.returncode == 0, r.stderr[-500:]
    assert "not caching compiled kernels in" in r.stderr and str(shared) in r.stderr, r.stderr[-500:]


@case("D10 64 modules with exponential periods refused at the configuration")
def exponential_64(tmp_path):
    r = python(
        "import numpy as np, cwrnn_audio\ncwrnn_audio.CWRNN(num_modules=64, module_size=1).run(np.zeros((4, 1), np.float32))\n"
    )
    _refused(r, "num_modules=64", "2**63 - 1")


@case("D10 a model file with a period of 2**63 is refused on load, naming the file")
def period_in_file(tmp_path):
    from safetensors import safe_open
    from safetensors.numpy import load_file, save_file

    from cwrnn_audio import CWRNN
    from cwrnn_audio.models import make_codec, save_model_dir

    codec = make_codec("raw", sample_rate=8000)
    model = CWRNN(input_size=1, output_size=1, num_modules=4, module_size=2)
    folder = save_model_dir(tmp_path / "model", model, codec)
    weights = folder / "model.safetensors"
    with safe_open(str(weights), "np") as f:
        meta = f.metadata()
    config = json.loads(meta["cwrnn_config"])
    config["periods"] = [1, 2, 4, 2**63]
    save_file(load_file(str(weights)), str(weights), metadata={**meta, "cwrnn_config": json.dumps(config)})
    r = cli("generate", folder, "-o", tmp_path / "out.wav", "--seconds", "0.01")
    no_traceback(r, code=2)
    assert "model.safetensors" in r.stderr and "2**63 - 1" in r.stderr, r.stderr[-500:]
