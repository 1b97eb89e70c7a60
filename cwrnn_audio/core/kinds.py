"""The network kinds, each described once: its names, constructor, flat parameter layout and files.

Everything that asks "which network is this, and how is it built, laid out, saved, loaded or
streamed" reads :data:`KINDS` (through :func:`kind` by name or :func:`kind_of` by model):
the model-folder registry, checkpoints, the flat-vector trainers, the experiments, the MIDI trainer
and the CLI. References are lazy ``"module:attr"`` strings, so importing this module loads no torch.

A simple RNN (``srn``) is a CW-RNN with one module of period 1 (the paper's baseline): it shares
the CW-RNN's class, layout, files and kernels and differs only in how it is built.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import ParameterError, ParameterTypeError
from ..lazy import resolve


@dataclass(frozen=True)
class NetworkKind:
    name: str  # what users type: --architecture, the experiments' methods
    label: str  # what plots and tables print
    cls: str  # the torch module, "module:attr"
    file_kind: str  # config.json's "kind": the class name written there
    layout: tuple  # the flat parameter order the Numba population kernels expect
    save: str  # save(model, path): safetensors + JSON
    load: str  # load(path) -> the torch module
    population_kernels: tuple = ()  # Numba trainers of populations: (one network a thread, SIMD lanes)
    runtime_load: str | None = None  # load(path) -> a NumPy model that streams without torch
    # runs on module clocks: its kernels take offsets and periods, it streams through the Numba
    # stream (``model.run``/``stream``), and the fused GPU kernels serve it
    clocked: bool = False

    def population_kernel(self, *, lanes: bool):
        """The Numba trainer of populations of this kind: in SIMD lanes or one network a thread."""
        return resolve(self.population_kernels[1 if lanes else 0])

    def module_class(self):
        return resolve(self.cls)

    def build(self, *, input_size: int, output_size: int, hidden: int, **options):
        """A new network of ``hidden`` units (the CW-RNN's split over ``options['num_modules']``
        modules, default 8; the SRN's in one module; the LSTM's cells)."""
        cls = self.module_class()
        if self.name == "srn":
            return cls(
                input_size=input_size, output_size=output_size, module_sizes=[hidden], periods=[1], **options
            )
        if self.name == "cwrnn":
            options.setdefault("num_modules", 8)
            return cls(input_size=input_size, output_size=output_size, hidden_size=hidden, **options)
        return cls(input_size=input_size, output_size=output_size, hidden_size=hidden, **options)


_CWRNN = dict(
    cls="cwrnn_audio.nn.module:CWRNN",
    file_kind="CWRNN",
    layout=("W_H", "W_I", "b_H", "W_O", "b_O"),
    save="cwrnn_audio.io.model_file:save_model",
    load="cwrnn_audio.nn.module:load",
    population_kernels=(
        "cwrnn_audio.kernels.population:train_cwrnn_population",
        "cwrnn_audio.kernels.lanes:train_cwrnn_lanes",
    ),
    runtime_load="cwrnn_audio.runtime.model:RuntimeModel.load",
    clocked=True,
)
KINDS: dict[str, NetworkKind] = {  # in the paper's order (its tables and figures)
    "srn": NetworkKind(name="srn", label="SRN", **_CWRNN),
    "lstm": NetworkKind(
        name="lstm",
        label="LSTM",
        cls="cwrnn_audio.nn.lstm:LSTMNet",
        file_kind="LSTMNet",
        layout=("W_x", "W_h", "b", "W_O", "b_O"),
        save="cwrnn_audio.io.lstm_file:save_lstm",
        load="cwrnn_audio.io.lstm_file:load_lstm",
        population_kernels=(
            "cwrnn_audio.kernels.population:train_lstm_population",
            "cwrnn_audio.kernels.lanes:train_lstm_lanes",
        ),
    ),
    "cwrnn": NetworkKind(name="cwrnn", label="CW-RNN", **_CWRNN),
}
#: the kinds the sequence trainers build (``--architecture``): the model and its baseline
SEQUENCE_KINDS = ("cwrnn", "lstm")
#: one kind per class name written in ``config.json`` (the SRN is saved as the CW-RNN it is)
BY_FILE_KIND = {k.file_kind: k for k in KINDS.values() if k.name != "srn"}


def kind(name, *, source: str = "kind") -> NetworkKind:
    """The kind called ``name`` (``"cwrnn"``, ``"srn"``, ``"lstm"``)."""
    if not isinstance(name, str):
        raise ParameterTypeError(f"{source} must be one of {sorted(KINDS)}; got {name!r}")
    if name not in KINDS:
        raise ParameterError(f"{source} must be one of {sorted(KINDS)}; got {name!r}")
    return KINDS[name]


def file_kind(name, *, source: str = "config.json") -> NetworkKind:
    """The kind whose files say ``"kind": name`` (``"CWRNN"``, ``"LSTMNet"``)."""
    if not isinstance(name, str):
        raise ParameterTypeError(f"{source}: 'kind' must be one of {sorted(BY_FILE_KIND)}; got {name!r}")
    if name not in BY_FILE_KIND:
        raise ParameterError(f"{source}: 'kind' must be one of {sorted(BY_FILE_KIND)}; got {name!r}")
    return BY_FILE_KIND[name]


def kind_of(model) -> NetworkKind:
    """The kind of a torch network (an SRN answers as the CW-RNN it is); ParameterTypeError for
    anything else."""
    for cls in type(model).__mro__:
        if cls.__name__ in BY_FILE_KIND and BY_FILE_KIND[cls.__name__].module_class() is cls:
            return BY_FILE_KIND[cls.__name__]
    raise ParameterTypeError(
        f"model must be one of {sorted(k.cls.split(':')[1] for k in BY_FILE_KIND.values())}; "
        f"got {type(model).__name__}"
    )
