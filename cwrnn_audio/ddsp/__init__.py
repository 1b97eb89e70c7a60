"""Harmonic-plus-noise synthesis (DDSP, Engel et al. 2020): a network drives a synthesizer.

- ``synth.py``: the differentiable synthesizer in torch (training), one frame of parameters per
  ``hop`` samples: overall amplitude, a distribution over harmonics of f0, noise-band magnitudes.
- ``cwrnn_audio.kernels.harmonic``: the same synthesizer in Numba, streaming, block-size invariant.

Frame ``i``'s parameters hold at sample ``(i + 1) * hop - 1``; the samples of frame ``i``
interpolate linearly from frame ``i - 1`` (frame 0 from itself), so synthesis is causal and a
stream needs no look-ahead.
"""
