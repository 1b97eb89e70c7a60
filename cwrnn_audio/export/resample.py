"""The plugins' streaming resampler (:class:`~cwrnn_audio.runtime.resample.StreamResampler`) in TorchScript.

Designed by the Python class (the same taps, delay and output grid), run here as one gather of
windows and one product per block: output ``k`` sits at ``u = k*M + advance`` on the fine grid, reads the
``K`` inputs ending at ``u // L`` with the taps of phase ``u % L``. Its state is the last ``hist``
inputs per stream and two counters, so a stream cut into any blocks gives the same samples.
"""

from __future__ import annotations

from typing import Dict, List

import torch


def tables(r) -> Dict[str, torch.Tensor]:
    """The taps and grid (``L, M, advance, hist``) of a :class:`StreamResampler` ``r``."""
    return {"taps": torch.from_numpy(r.taps.copy()), "grid": torch.tensor([r.L, r.M, r.advance, r.hist])}


def ready(grid: List[int], n_in_total: int) -> int:
    """Outputs computable once ``n_in_total`` inputs have arrived (``StreamResampler.ready``)."""
    L, M, advance = grid[0], grid[1], grid[2]
    return max(0, (n_in_total * L - 1 - advance) // M + 1)


def push(
    taps: torch.Tensor, grid: List[int], buf: torch.Tensor, x: torch.Tensor, n_in: int, k0: int, n_out: int
):
    """Push ``x`` ``(B, n)`` after ``buf`` ``(B, hist)`` (inputs ``n_in - hist ..``); returns outputs
    ``k0 .. k0 + n_out`` ``(B, n_out)`` and the new ``buf``."""
    L, M, advance, hist = grid[0], grid[1], grid[2], grid[3]
    K = taps.shape[1]
    full = torch.cat([buf, x], 1)
    u = (torch.arange(n_out, device=x.device) + k0) * M + advance
    j = torch.div(u, L, rounding_mode="floor")
    # the K-sample windows as rows (a view), then one row gather: 96 us a 512-sample block at 48 kHz
    # where gathering the K * n_out samples one by one took 149
    seg = full.unfold(1, K, 1).index_select(1, j - n_in + hist - K + 1)
    out = torch.linalg.vecdot(seg, taps.index_select(0, u - j * L))
    return out, full[:, full.shape[1] - hist :]


def needs(grid: List[int], n_out_total: int) -> int:
    """Inputs the first ``n_out_total`` outputs read (``StreamResampler.needs``)."""
    L, M, advance = grid[0], grid[1], grid[2]
    return 0 if n_out_total <= 0 else ((n_out_total - 1) * M + advance) // L + 1
