"""From a model folder to the module an exporter scripts: the plugin loads and checks the folder,
so a file exports exactly what the plugin plays."""

from __future__ import annotations


def effect_module(model_dir):
    """The :class:`~.effect.ExportedEffect` of the effect plugin playing ``model_dir``."""
    import numpy as np
    import torch

    from ..core.clock import block_upper_mask
    from ..plugin import get_plugin
    from .effect import ExportedEffect

    effect = get_plugin("effect")(model_dir)
    c = effect.model.config
    weights = {k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in effect.model.numpy_weights().items()}
    weights["W_H"] = weights["W_H"] * torch.from_numpy(np.asarray(block_upper_mask(c.module_sizes)))
    return ExportedEffect(
        weights,
        c.periods,
        c.offsets,
        c.output_activation == "tanh",
        int(effect.adapter.sample_rate),
        effect.parameters,
    )
