"""Multi-scale spectral loss (DDSP, Engel et al. 2020): L1 between STFT magnitudes and log magnitudes.

For each FFT size ``n`` (those longer than the signal skipped): ``hop = round(n * (1 - overlap))``,
a periodic Hann window of ``n`` samples, ``torch.stft(..., center=True, pad_mode="constant")``
(``n // 2`` zeros each side; frame ``t`` centred on sample ``t * hop``; ``1 + S // hop`` frames for
even ``n``), no normalization (magnitudes scale with the window's sum). With ``M`` the magnitudes,

    loss_n = mean |M_pred - M_target| + log_weight * mean |log(M_pred + eps) - log(M_target + eps)|,

means over batch, bins and frames; the loss is the sum of ``loss_n`` over the sizes kept.
"""

from __future__ import annotations

import math

import numpy as np

from ..errors import ParameterError, ParameterTypeError

FFT_SIZES = (2048, 1024, 512, 256, 128, 64)


def _options(fft_sizes, overlap, log_weight, eps):
    if isinstance(fft_sizes, (int, np.integer)) and not isinstance(fft_sizes, bool):
        fft_sizes = (fft_sizes,)
    try:
        sizes = tuple(fft_sizes)
    except TypeError:
        raise ParameterTypeError(f"fft_sizes must be a sequence of integers; got {fft_sizes!r}") from None
    if not sizes:
        raise ParameterError(f"fft_sizes must name at least one FFT size; got {fft_sizes!r}")
    for n in sizes:
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)):
            raise ParameterTypeError(f"fft_sizes must hold integers; got {n!r} in {fft_sizes!r}")
        if n < 2:
            raise ParameterError(f"fft_sizes must be >= 2; got {n!r} in {fft_sizes!r}")
    for name, value in (("overlap", overlap), ("log_weight", log_weight), ("eps", eps)):
        if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
            raise ParameterTypeError(f"{name} must be a number; got {value!r}")
        if not math.isfinite(value):
            raise ParameterError(f"{name} must be finite; got {value!r}")
    if not 0 <= overlap < 1:
        raise ParameterError(f"overlap must be in [0, 1); got {overlap!r}")
    if log_weight < 0:
        raise ParameterError(f"log_weight must be >= 0; got {log_weight!r}")
    if eps <= 0:
        raise ParameterError(f"eps must be > 0; got {eps!r}")
    hops = []
    for n in sizes:
        hop = int(round(n * (1 - overlap)))
        if hop < 1:
            raise ParameterError(
                f"overlap={overlap!r} leaves a hop of {n} * (1 - overlap) < 1 sample for FFT size {n}"
            )
        hops.append(hop)
    return [(int(n), h) for n, h in zip(sizes, hops)], float(log_weight), float(eps)


def _pair(pred, target):
    import torch

    for name, x in (("pred", pred), ("target", target)):
        if not isinstance(x, torch.Tensor):
            raise ParameterTypeError(f"{name} must be a torch.Tensor; got {type(x).__name__}")
        if not x.is_floating_point():
            raise ParameterTypeError(f"{name} must have a floating-point dtype; got {x.dtype}")
    if pred.shape != target.shape:
        raise ParameterError(
            f"pred and target must have the same shape; got pred {tuple(pred.shape)}, target {tuple(target.shape)}"
        )
    if pred.ndim not in (1, 2):
        raise ParameterError(
            f"pred and target must have shape (samples,) or (batch, samples); got {tuple(pred.shape)}"
        )
    if pred.ndim == 1:
        pred, target = pred[None], target[None]
    if pred.shape[0] == 0:
        raise ParameterError(f"pred and target hold no sequence; got shape {tuple(pred.shape)}")
    return pred, target.to(pred.dtype)


def multiscale_spectral_loss(
    pred, target, *, fft_sizes=FFT_SIZES, overlap: float = 0.75, log_weight: float = 1.0, eps: float = 1e-7
):
    """Multi-scale spectral distance between two batches of signals, differentiable in both.

    Parameters
    ----------
    pred, target : torch.Tensor, float, shape (batch, samples) or (samples,)
        Audio of the same shape (``pred`` usually from the synthesizer, ``target`` the recording).
    fft_sizes : sequence of int, samples, keyword-only
        FFT (and Hann window) sizes; those longer than ``samples`` are skipped.
    overlap : float in [0, 1), keyword-only
        Overlap of successive frames: ``hop = round(size * (1 - overlap))`` samples.
    log_weight : float >= 0, keyword-only
        Weight of the log-magnitude term.
    eps : float > 0, keyword-only
        Added to magnitudes before the log.

    Returns
    -------
    torch.Tensor, scalar, ``pred``'s dtype
        Sum over the FFT sizes kept of the mean (over batch, bins and frames) L1 distance of the
        magnitudes plus ``log_weight`` times that of the log magnitudes (see the module's docstring).

    Raises
    ------
    ParameterError
        Shapes that differ (both named) or are not 1-D/2-D; every FFT size longer than the signal;
        bad option values.
    ParameterTypeError
        Inputs that are not floating-point tensors; options of the wrong type.
    """
    import torch

    pred, target = _pair(pred, target)
    sizes, log_weight, eps = _options(fft_sizes, overlap, log_weight, eps)
    S = pred.shape[-1]
    kept = [(n, h) for n, h in sizes if n <= S]
    if not kept:
        raise ParameterError(
            f"every FFT size in fft_sizes={tuple(n for n, _ in sizes)} is longer than the signal "
            f"({S} samples); pass longer signals or smaller fft_sizes"
        )
    total = pred.new_zeros(())
    for n, hop in kept:
        window = torch.hann_window(n, periodic=True, dtype=pred.dtype, device=pred.device)

        def mag(x, n=n, hop=hop, window=window):
            spec = torch.stft(
                x, n, hop_length=hop, window=window, center=True, pad_mode="constant", return_complex=True
            )
            return spec.abs()

        mp, mt = mag(pred), mag(target)
        loss = (mp - mt).abs().mean()
        if log_weight:
            loss = loss + log_weight * (torch.log(mp + eps) - torch.log(mt + eps)).abs().mean()
        total = total + loss
    return total


def spectral_distance(
    pred, target, *, fft_sizes=FFT_SIZES, overlap: float = 0.75, log_weight: float = 1.0, eps: float = 1e-7
) -> float:
    """:func:`multiscale_spectral_loss` as a Python float, for evaluation (no gradient).

    Parameters
    ----------
    pred, target : np.ndarray or torch.Tensor, float, shape (batch, samples) or (samples,)
        NumPy arrays are computed in their own float dtype (float32 or float64).
    fft_sizes, overlap, log_weight, eps
        As for :func:`multiscale_spectral_loss`.

    Returns
    -------
    float
    """
    import torch

    def as_tensor(x, name):
        if isinstance(x, torch.Tensor):
            return x.detach()
        if isinstance(x, (np.ndarray, list, tuple)):
            a = np.asarray(x)
            if a.dtype.kind != "f":
                raise ParameterTypeError(f"{name} must have a floating-point dtype; got {a.dtype}")
            return torch.from_numpy(np.ascontiguousarray(a))
        raise ParameterTypeError(f"{name} must be a NumPy array or torch.Tensor; got {type(x).__name__}")

    with torch.no_grad():
        loss = multiscale_spectral_loss(
            as_tensor(pred, "pred"),
            as_tensor(target, "target"),
            fft_sizes=fft_sizes,
            overlap=overlap,
            log_weight=log_weight,
            eps=eps,
        )
    return float(loss)


__all__ = ["FFT_SIZES", "multiscale_spectral_loss", "spectral_distance"]
