"""From a model folder to the module an exporter scripts: the plugin loads and checks the folder,
so a file exports exactly what the plugin plays."""

from __future__ import annotations


def effect_module(model_dir):
    """The :class:`~.effect.ExportedEffect` of the effect plugin playing ``model_dir``."""
    from ..plugin import get_plugin
    from .effect import ExportedEffect

    effect = get_plugin("effect")(model_dir)
    return ExportedEffect(effect.model, int(effect.adapter.sample_rate), effect.parameters)


def instrument_module(model_dir):
    """The :class:`~.instrument.ExportedInstrument` of the generator plugin playing the harmonic
    model ``model_dir`` (one voice per batch entry, the plugin's seed 0), performed by the folder's
    expression model where it has one, as the plugin plays it."""
    from ..adapters.harmonic import GATE_OPEN_DB, NOISE_OFFSET, HarmonicAdapter
    from ..ddsp.features import LOUDNESS_FLOOR_DB
    from ..ddsp.render import Envelope
    from ..errors import ParameterError
    from ..expression.score import HORIZON_S
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
        generator.expression_model,
        HORIZON_S,
    )
