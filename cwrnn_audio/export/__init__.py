"""Models leave Python: TorchScript files for nn~ (Max/MSP, PureData) and other libtorch hosts.

:func:`export_model` writes a model folder's plugin as one TorchScript file following nn~'s
protocol (a ``<method>_params`` buffer per method, ``get_methods``, ``get_attributes``,
``get_<attr>``/``set_<attr>``, ``set_sample_rate``) plus ``reset()``. The file holds weights and
code only; loading it runs no Python. What exports is named in :data:`EXPORTERS`.
"""

from __future__ import annotations

import os
from pathlib import Path

from ..errors import ParameterError, ParameterTypeError

#: plugin name -> how its model becomes a TorchScript module ("module:attr")
EXPORTERS = {
    "effect": "cwrnn_audio.export.build:effect_module",
    "generator": "cwrnn_audio.export.build:instrument_module",
}
#: the plugin that plays a model folder of each encoding, where ``plugin`` is not given
BY_ENCODING = {"raw": "effect", "harmonic": "generator"}


def plugin_for(model_dir) -> str:
    """The exporting plugin that plays ``model_dir``, from its encoding (:data:`BY_ENCODING`)."""
    from ..models.folder import load_model_dir
    from ..plugin.base import model_folder

    folder = model_folder(model_dir, "effect_drive", name="export")
    codec = load_model_dir(folder, torch=False).codec
    encoding = getattr(codec, "name", type(codec).__name__)
    if encoding not in BY_ENCODING:
        raise ParameterError(
            f"{folder}: a {encoding!r} model does not export; these do: "
            + ", ".join(f"{e} (the {p} plugin)" for e, p in BY_ENCODING.items())
        )
    return BY_ENCODING[encoding]


def export_model(model_dir, path, *, plugin: str | None = None) -> Path:
    """Write ``model_dir`` played by ``plugin`` as a TorchScript file at ``path`` (atomically).

    Parameters
    ----------
    model_dir : str or os.PathLike
        A model folder the plugin plays, or a bundled model's name (``"effect_drive"``).
    path : str or os.PathLike
        The ``.ts`` file to write; its folder is created.
    plugin : str, keyword-only
        One of :data:`EXPORTERS`; default: the one that plays the folder's encoding (a raw-audio
        model: the effect; a harmonic model: the generator, as an instrument).

    Returns the path written. Raises :class:`ParameterError` for a plugin that does not export, a
    model folder the plugin refuses, or a path that cannot be written.
    """
    from ..lazy import resolve

    if plugin is None:
        plugin = plugin_for(model_dir)
    if not isinstance(plugin, str):
        raise ParameterTypeError(f"plugin must be one of {sorted(EXPORTERS)}; got {plugin!r}")
    if plugin not in EXPORTERS:
        raise ParameterError(f"plugin {plugin!r} does not export; these do: {sorted(EXPORTERS)}")
    if not isinstance(path, (str, os.PathLike)):
        raise ParameterTypeError(f"path must be a file path; got {path!r}")
    path = Path(os.fspath(path))
    if path.is_dir():
        raise ParameterError(f"{path}: is a folder; give the file to write (e.g. {path / 'model.ts'})")
    module = resolve(EXPORTERS[plugin])(model_dir)
    import torch

    from ..io.atomic import atomic_path

    scripted = torch.jit.script(module)
    try:
        with atomic_path(path) as tmp:
            scripted.save(str(tmp))
    except OSError as exc:
        raise ParameterError(f"{path}: cannot write the exported model ({exc.strerror or exc})") from None
    return path
