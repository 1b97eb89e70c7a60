"""Effect: audio in, audio out, through a CW-RNN trained on (dry, processed) pairs."""
from __future__ import annotations

import numpy as np

from cwrnn_audio.errors import ParameterError
from cwrnn_audio.plugin import Parameter, Plugin


class Effect(Plugin):
    """A CW-RNN effect, one voice per channel, streamed by the Numba kernel.

    ``model``: a model folder (``cwrnn-audio train effect`` / ``train_effect``) or None for the
    bundled example (``samples/models/effect_drive``: a NumPy overdrive with a tone filter).
    """

    name = "effect"
    parameters = (Parameter("mix", 0.0, 1.0, 1.0), Parameter("output_gain_db", -24.0, 24.0, 0.0, " dB"))

    def __init__(self, model=None, **values):
        from cwrnn_audio.audio.model_dir import load_model_dir

        if model is None:
            import cwrnn_audio_samples

            model = cwrnn_audio_samples.path("models/effect_drive")
        self.model, self.adapter = load_model_dir(model)
        c = self.model.config
        if (c.input_size, c.output_size) != (1, 1):
            raise ParameterError(f"{model}: an effect model maps 1 input to 1 output; got {c.input_size} -> {c.output_size}")
        self.weights = self.model.kernel_weights()
        super().__init__(**values)

    def _prepare(self, sample_rate, max_block_size, num_channels):
        from cwrnn_audio.kernels.forward import forward_kernel

        if sample_rate != self.adapter.sample_rate:
            raise ParameterError(
                f"{self.name}: the model was trained at {self.adapter.sample_rate} Hz; got sample_rate={sample_rate} "
                "(resample the audio, or train a model at this rate)"
            )
        c = self.model.config
        C, M, n = num_channels, max_block_size, c.hidden_size
        self._h = np.zeros((C, n), np.float32)
        self._t = np.zeros(C, np.int64)
        self._S = np.zeros((C, n), np.float32)
        self._ok = np.zeros((C, c.num_modules), np.uint8)
        self._x = np.zeros((C, M, 1), np.float32)
        self._y = np.zeros((C, M, 1), np.float32)
        self._out = np.zeros((C, M), np.float32)
        self._scratch = np.zeros((2, n), np.float32)
        self._phase = np.zeros(c.num_modules, np.int64)
        self._kernel = forward_kernel
        self._process(np.zeros((C, 1), np.float32))  # compiles (or loads the cache) now, not in process
        self._reset()

    def _reset(self):
        self._h[...] = 0
        self._t[...] = 0
        self._ok[...] = 0

    def _process(self, audio):
        n = audio.shape[1]
        w = self.weights
        mix = self._values["mix"]
        gain = 10.0 ** (self._values["output_gain_db"] / 20.0)
        x, y = self._x[:, :n], self._y[:, :n]
        np.copyto(x[:, :, 0], audio)
        # all channels in one call: they share the clock, so the kernel steps them in pairs
        self._kernel(
            x, self._h, self._t, self._S, self._ok, w.WH, w.WI, w.bH, w.WO, w.bO, w.offsets, w.periods, w.act,
            y, self._scratch, self._phase,
        )  # fmt: skip
        if mix == 1.0 and gain == 1.0:
            return y[:, :, 0]
        out = self._out[:, :n]
        np.multiply(y[:, :, 0], mix * gain, out=out)
        if mix < 1.0:
            out += ((1.0 - mix) * gain) * audio
        return out

    def _state_arrays(self):
        return {"h": self._h, "t": self._t}

    def _load_state_arrays(self, arrays):
        self._h[...] = arrays["h"]
        self._t[...] = arrays["t"]
        self._ok[...] = 0  # the slow-input caches are rebuilt from h, identically
