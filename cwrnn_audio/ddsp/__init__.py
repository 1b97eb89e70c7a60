"""Harmonic-plus-noise synthesis (DDSP, Engel et al. 2020): a network drives a synthesizer.

- ``synth.py``: the differentiable synthesizer in torch (training), one frame of parameters per
  ``hop`` samples: overall amplitude, a distribution over harmonics of f0, noise-band magnitudes.
- ``cwrnn_audio.kernels.harmonic``: the same synthesizer in Numba, streaming, block-size invariant.
- ``features.py``: analysis of a recording into frames (pYIN f0 and voicing, A-weighted loudness).
- ``loss.py``: the multi-scale spectral loss (training) and distance (evaluation).
- ``envelope.py``: the note envelope (attack, release, a velocity's level); light, the CLI reads its defaults.
- ``render.py``: notes to pitch and loudness curves, one voice per sounding note, to audio.
The codec that ties them to a CW-RNN is ``cwrnn_audio.adapters.harmonic`` (encoding "harmonic").

Frame ``i``'s parameters hold at sample ``(i + 1) * hop - 1``; the samples of frame ``i``
interpolate linearly from frame ``i - 1`` (frame 0 from itself), so synthesis is causal and a
stream needs no look-ahead.
"""
