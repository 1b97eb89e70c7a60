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


def instrument_module(model_dir):
    """The :class:`~.instrument.ExportedInstrument` of the generator plugin playing the harmonic
    model ``model_dir`` (one voice per batch entry, the plugin's seed 0)."""
    from ..adapters.harmonic import GATE_OPEN_DB, NOISE_OFFSET, HarmonicAdapter
    from ..ddsp.features import LOUDNESS_FLOOR_DB
    from ..ddsp.render import Envelope
    from ..errors import ParameterError
    from ..plugin import get_plugin
    from .instrument import ExportedInstrument
    from .protocol import HOST_RATES

    generator = get_plugin("generator")(model_dir, polyphony=1)
    if not isinstance(generator.adapter, HarmonicAdapter):
        raise ParameterError(
            f"{model_dir}: the generator exports with a harmonic model (it plays the notes' pitches); "
            f"got a {generator.adapter.name!r} model"
        )
    return ExportedInstrument(
        generator.model,
        generator.adapter,
        generator.parameters,
        Envelope(),
        LOUDNESS_FLOOR_DB,
        GATE_OPEN_DB,
        NOISE_OFFSET,
        generator.seed,
        HOST_RATES,
    )
