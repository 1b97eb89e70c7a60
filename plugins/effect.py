"""Effect: audio in, audio out, through a CW-RNN trained on (dry, processed) pairs."""

from __future__ import annotations

import numpy as np

from cwrnn_audio.errors import ParameterError
from cwrnn_audio.plugin import Parameter, Plugin
from cwrnn_audio.plugin.base import load_plugin_model


class Effect(Plugin):
    """A CW-RNN effect, one voice per channel, streamed by the Numba kernel.

    ``model``: a model folder (``cwrnn-audio train effect`` / ``train_effect``), a bundled model's
    name, or None for the bundled example (``effect_drive``: a NumPy overdrive with a tone filter).
    """

    name = "effect"
    parameters = (Parameter("mix", 0.0, 1.0, 1.0), Parameter("output_gain_db", -24.0, 24.0, 0.0, " dB"))

    def __init__(self, model=None, **values):
        model, (self.model, self.adapter, _), self.model_fingerprint = load_plugin_model(
            model, "effect_drive", name=self.name, domain="audio"
        )
        c = self.model.config
        if (c.input_size, c.output_size) != (1, 1):
            raise ParameterError(
                f"{model}: an effect model maps 1 input to 1 output; got {c.input_size} -> {c.output_size}"
            )
        self.weights = self.model.kernel_weights()
        super().__init__(**values)

    def _prepare(self, sample_rate, max_block_size, num_channels):
        from cwrnn_audio.kernels.state import KernelState
        from cwrnn_audio.runtime.resample import clock_start, host_to_model

        c = self.model.config
        C = num_channels
        # at another rate the model hears its own rate through a band-limited round trip
        self._into, self._back, self.latency_samples = host_to_model(
            sample_rate, self.adapter.sample_rate, C, max_block_size
        )
        M = self._into.max_out(max_block_size)
        self._t0 = clock_start(self._into, c.periods)
        self._voices = KernelState(self.weights, C)  # one voice per channel
        self._x = np.zeros((C, M, 1), np.float32)
        self._y = np.zeros((C, M, 1), np.float32)
        self._wet = np.zeros((C, max_block_size), np.float32)
        self._out = np.zeros((C, max_block_size), np.float32)
        self._dry = np.zeros((C, self.latency_samples + max_block_size), np.float32)  # dry delayed to the wet
        # compile (or load the cache) now, not in process: a slice of 1 frame and the whole buffer
        # differ in layout for several channels, so both kinds of kernel call are made here
        self._process(np.zeros((C, 1), np.float32))
        self._run_model(self._x, self._y)
        self._reset()

    def _reset(self):
        self._voices.reset(self._t0)
        self._dry[...] = 0
        self._into.reset()
        self._back.reset()

    def _run_model(self, x, y):
        # all channels in one call: they share the clock, so the kernel steps them in pairs
        self._voices.forward(x, y)

    def _process(self, audio):
        n = audio.shape[1]
        mix = self._values["mix"]
        gain = 10.0 ** (self._values["output_gain_db"] / 20.0)
        if self._into.identity:
            x, y = self._x[:, :n], self._y[:, :n]
            np.copyto(x[:, :, 0], audio)
            self._run_model(x, y)
            wet = y[:, :, 0]
        else:
            k = self._into.ready(self._into.n_in + n) - self._into.n_out
            x, y = self._x[:, :k], self._y[:, :k]
            self._into.process(audio, n, self._x[:, :, 0], k)
            self._run_model(x, y)
            wet = self._back.process(self._y[:, :, 0], k, self._wet, n)
        dry = audio
        if self.latency_samples:  # kept current at any mix, so turning the mix down is seamless
            lat, d = self.latency_samples, self._dry
            d[:, lat : lat + n] = audio
            dry = self._out[:, :n]
            np.copyto(dry, d[:, :n])
            d[:, :lat] = d[:, n : n + lat]
        if mix == 1.0 and gain == 1.0:
            return wet
        out = self._out[:, :n]
        if mix < 1.0:
            np.multiply(dry, (1.0 - mix) * gain, out=out)
            out += (mix * gain) * wet
        else:
            np.multiply(wet, gain, out=out)
        return out

    def _state_arrays(self):
        lat = self.latency_samples
        return {
            "h": self._voices.h,
            "t": self._voices.t,
            "dry": self._dry[:, :lat],
            **self._into.state_arrays("into."),
            **self._back.state_arrays("back."),
        }

    def _check_state_arrays(self, arrays):
        for k in (k for k in arrays if k == "t" or k.endswith("count")):
            if (arrays[k] < 0).any():
                raise ParameterError(f"{self.name}: state array {k!r} holds negative clock values")

    def _load_state_arrays(self, arrays):
        self._voices.set(arrays["h"], arrays["t"])  # the slow-input caches are rebuilt from h, identically
        self._dry[:, : self.latency_samples] = arrays["dry"]
        self._into.load_state_arrays(arrays, "into.")
        self._back.load_state_arrays(arrays, "back.")
