"""A CW-RNN for playing, without torch: the configuration and float32 NumPy weights, run by the Numba
kernels. Model folders load as this for streaming and plugins (``load_model_dir(..., torch=False)``),
so a host process that only plays a model never imports torch; :meth:`RuntimeModel.to_torch` builds
the ``torch.nn.Module`` when a caller asks for one (training, the torch path).
"""

from __future__ import annotations

import numpy as np

from ..checks import valid_choice, valid_int
from ..core.config import TENSOR_NAMES, CWRNNConfig
from ..errors import ParameterTypeError
from ..io.model_file import check_weights, read_model_file

BACKENDS = ("numba", "torch")


class RuntimeModel:
    """``config`` and the weights of a CW-RNN (named and shaped as in the model file), checked.

    It offers what playing needs, with the signatures of :class:`~cwrnn_audio.nn.module.CWRNN`:
    :meth:`stream`, :meth:`kernel_weights`, :meth:`numpy_weights`, :meth:`save`.
    """

    file_kind = "CWRNN"  # what its files say it is (core/kinds.py): the torch module's files

    def __init__(self, config: CWRNNConfig, weights: dict, *, source: str = "weights"):
        if not isinstance(config, CWRNNConfig):
            raise ParameterTypeError(f"config must be a CWRNNConfig; got {type(config).__name__}")
        check_weights(config, weights, source=source)
        self.config = config
        # float32 as the torch module holds them, read-only so a snapshot taken from them stays one
        self._weights = {k: np.array(weights[k], dtype=np.float32) for k in TENSOR_NAMES}
        for a in self._weights.values():
            a.flags.writeable = False

    @classmethod
    def load(cls, path) -> RuntimeModel:
        """Read and check a ``.safetensors`` model file (see :func:`~cwrnn_audio.io.model_file.read_model_file`)."""
        config, tensors = read_model_file(path)
        return cls(config, tensors, source=str(path))

    @property
    def hidden_size(self) -> int:
        return self.config.hidden_size

    @property
    def num_parameters(self) -> int:
        return self.config.num_parameters

    def numpy_weights(self) -> dict:
        """The weights as float32 NumPy arrays (copies), named as in the model file."""
        return {k: v.copy() for k, v in self._weights.items()}

    def kernel_weights(self):
        """The weights in the Numba kernels' layout."""
        from ..kernels.weights import pack

        return pack(self.config, **self._weights)

    def stream(self, *, backend: str = "numba", voices: int = 1):
        """A stateful runner, as :meth:`CWRNN.stream`; ``backend="torch"`` builds the torch module."""
        valid_choice(backend, BACKENDS, name="backend")
        voices = valid_int(voices, name="voices", minimum=1)
        if backend == "torch":
            return self.to_torch().stream(backend="torch", voices=voices)
        from .stream import NumbaStream

        return NumbaStream(self.config, self.kernel_weights(), voices=voices)

    def to_torch(self, *, map_location="cpu"):
        """The same network as a :class:`~cwrnn_audio.nn.module.CWRNN` (imports torch)."""
        from ..nn.module import CWRNN

        return CWRNN.from_weights(self.config, self._weights).to(map_location)

    def save(self, path) -> None:
        """Write a ``.safetensors`` model file (atomically), as :meth:`CWRNN.save` does."""
        from ..io.model_file import save_model

        save_model(self, path)

    def __repr__(self) -> str:
        return f"RuntimeModel({self.config!r})"
