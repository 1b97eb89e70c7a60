"""Figures for the hyper-parameter search (``paper tune``)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..core.kinds import KINDS
from .figure import pyplot, save_png

STYLES = {"sgd": ("C0", "o"), "adam": ("C3", "s")}


def best_per_lr(records: list[dict], optimizer: str) -> tuple[np.ndarray, np.ndarray]:
    """(lrs, scores): for each learning rate tried with ``optimizer``, the lowest mean NMSE over the
    other axes (clip and, for the LSTM, forget-gate bias). Infinite scores (diverged) stay infinite."""
    best: dict[float, float] = {}
    for r in records:
        if r["optimizer"] == optimizer:
            best[r["lr"]] = min(best.get(r["lr"], np.inf), r["mean"])
    lrs = np.array(sorted(best), float)
    return lrs, np.array([best[lr] for lr in lrs], float)


def tuning_curves(data: dict, path, *, method: str) -> Path:
    """Dev NMSE (log) against learning rate (log) for ``method``: one panel per size, one curve per
    optimizer (each point the best over clip and forget bias), the chosen setting starred.
    Learning rates where every setting diverged leave a gap in the curve."""
    plt = pyplot()
    sizes = [str(s) for s in data["sizes"]]
    by_size = data["scores"][method]
    fig, axes = plt.subplots(
        1, len(sizes), figsize=(max(6.0, 3.6 * len(sizes)), 3.6), sharey=True, squeeze=False
    )
    for ax, size in zip(axes[0], sizes):
        records = by_size.get(size, [])
        for opt in data["search_space"]["optimizers"]:
            lrs, y = best_per_lr(records, opt)
            if lrs.size == 0:
                continue
            color, marker = STYLES.get(opt, ("C2", "^"))
            y = np.where(np.isfinite(y) & (y > 0), y, np.nan)
            label = "SGD (Nesterov)" if opt == "sgd" else opt.capitalize()
            ax.plot(lrs, y, color=color, marker=marker, ms=4, lw=1.2, label=label)
        c = data["chosen"][method].get(size)
        if c is not None and np.isfinite(c["score"]["mean"]) and c["score"]["mean"] > 0:
            clip = "none" if c["clip"] is None else f"{c['clip']:g}"
            extra = f", fb {c['forget_bias']:g}" if "forget_bias" in c else ""
            ax.plot(
                [c["lr"]],
                [c["score"]["mean"]],
                ls="none",
                marker="*",
                ms=14,
                mfc="gold",
                mec="k",
                label=f"chosen: {c['optimizer']} {c['lr']:.0e}, clip {clip}{extra}",
            )
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_title(f"{size} parameters")
        ax.set_xlabel("learning rate")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=7, loc="best")
    axes[0][0].set_ylabel("dev NMSE, mean over runs\n(best over clip, forget bias)")
    fig.suptitle(
        f"{KINDS[method].label if method in KINDS else method}: learning-rate search on development excerpts"
    )
    fig.tight_layout()
    out = save_png(fig, path)
    plt.close(fig)
    return out
