"""Plugin states: the parameters and the running arrays as safetensors bytes (no pickle), checked
whole against the plugin before any of it is used."""

from __future__ import annotations

import json

import numpy as np

from ..errors import ParameterError, ParameterTypeError


def dump_state(plugin) -> bytes:
    """``plugin``'s (prepared) state as safetensors bytes."""
    from safetensors.numpy import save

    arrays = {k: np.ascontiguousarray(v) for k, v in plugin._state_arrays().items()}
    meta = {
        "plugin": plugin.name,
        "parameters": json.dumps(plugin._values),
        "prepared": json.dumps(plugin.prepared),
        "model": plugin.model_fingerprint,
    }
    return save(arrays, metadata=meta)


def checked_state(plugin, data) -> tuple[dict, dict]:
    """``(parameter values, arrays)`` of a state for ``plugin`` (prepared), every part checked
    (see :class:`~cwrnn_audio.plugin.Plugin`); ParameterError names what is wrong."""
    from safetensors.numpy import load

    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise ParameterTypeError(
            f"{plugin.name}: a state is bytes from get_state(); got {type(data).__name__}"
        )
    data = bytes(data)
    try:
        arrays = load(data)
        meta = _metadata(data)
        owner, model = meta["plugin"], meta.get("model")
        params, prepared = json.loads(meta["parameters"]), json.loads(meta["prepared"])
    except Exception as exc:
        raise ParameterError(f"{plugin.name}: not a plugin state ({type(exc).__name__}: {exc})") from None
    if owner != plugin.name:
        raise ParameterError(f"{plugin.name}: the state belongs to plugin {owner!r}")
    plugin._check_prepared()
    if not isinstance(prepared, list) or tuple(prepared) != plugin.prepared:
        raise ParameterError(
            f"{plugin.name}: the state was taken prepared as {prepared}; this one is {plugin.prepared}"
        )
    if model != plugin.model_fingerprint:
        raise ParameterError(
            f"{plugin.name}: the state was taken with another model (weights {str(model)[:16]!r}, "
            f"this instance's {plugin.model_fingerprint[:16]!r})"
        )
    if not isinstance(params, dict) or set(params) != set(plugin._values):
        raise ParameterError(
            f"{plugin.name}: the state's parameters {params!r} are not this plugin's {sorted(plugin._values)}"
        )
    values = {k: plugin._param(k).check(v) for k, v in params.items()}
    template = plugin._state_arrays()
    if set(arrays) != set(template):
        missing, extra = sorted(set(template) - set(arrays)), sorted(set(arrays) - set(template))
        raise ParameterError(
            f"{plugin.name}: the state lacks arrays {missing} and has unknown arrays {extra}"
        )
    for k, want in template.items():
        got = arrays[k]
        rows_free = k in plugin.variable_rows and got.ndim == want.ndim
        if got.dtype != want.dtype or (
            got.shape != want.shape and not (rows_free and got.shape[1:] == want.shape[1:])
        ):
            raise ParameterError(
                f"{plugin.name}: state array {k!r} is {got.dtype} {got.shape}; "
                f"this instance needs {want.dtype} {want.shape}"
            )
        if got.dtype.kind == "f" and not np.isfinite(got).all():
            raise ParameterError(f"{plugin.name}: state array {k!r} holds NaN or infinite values")
    plugin._check_state_arrays(arrays)
    return values, arrays


def _metadata(data: bytes) -> dict:
    n = int.from_bytes(data[:8], "little")
    return json.loads(data[8 : 8 + n]).get("__metadata__", {})
