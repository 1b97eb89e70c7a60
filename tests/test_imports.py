import subprocess
import sys


def test_import_is_light():
    code = (
        "import sys, cwrnn_audio; cwrnn_audio.CWRNNConfig(); "
        "print(sorted(m for m in ('librosa', 'matplotlib', 'torch', 'numba', 'mido') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_lazy_names_resolve():
    import cwrnn_audio

    assert cwrnn_audio.CWRNN.__name__ == "CWRNN"
    assert callable(cwrnn_audio.load)
    assert {"CWRNN", "load"} <= set(dir(cwrnn_audio))
