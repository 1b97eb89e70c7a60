"""Figures for the sequence-generation experiment."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..core.kinds import KINDS
from .figure import pyplot, save_png


def box_plots(results: dict, path) -> Path:
    """One panel per parameter budget, a box of NMSE per method (log scale), as the paper's figure;
    with tuned results, a second row of panels for them."""
    plt = pyplot()
    rows = [("paper's settings", results["nmse"])]
    if results.get("tuned"):
        rows.append(("tuned settings", results["tuned"]))
    sizes = sorted({int(s) for _, nm in rows for m in nm.values() for s in m})
    fig, axes = plt.subplots(
        len(rows), len(sizes), figsize=(3.2 * len(sizes), 3.6 * len(rows)), sharey=True, squeeze=False
    )
    for (title, nm), row in zip(rows, axes):
        methods = [m for m in KINDS if m in nm]
        for ax, size in zip(row, sizes):
            data, labels = [], []
            for m in methods:
                v = np.asarray(nm[m].get(str(size), []), float)
                v = v[np.isfinite(v) & (v > 0)]
                if v.size:
                    data.append(v)
                    labels.append(KINDS[m].label)
            if data:
                ax.boxplot(data, tick_labels=labels)
            ax.set_yscale("log")
            ax.set_title(f"{size} parameters" + (f", {title}" if len(rows) > 1 else ""))
            ax.grid(True, axis="y", alpha=0.3)
        row[0].set_ylabel("NMSE")
    fig.suptitle("Sequence generation: NMSE per run")
    fig.tight_layout()
    out = save_png(fig, path)
    plt.close(fig)
    return out


def best_outputs(outputs: dict, path, *, size: int) -> Path:
    """Target vs the best network's output for each method at one size."""
    plt = pyplot()
    targets = outputs["targets"]
    methods = [m for m in KINDS if f"{m}-{size}" in outputs]
    fig, axes = plt.subplots(len(methods), 1, figsize=(8, 2.2 * len(methods)), sharex=True, squeeze=False)
    for ax, m in zip(axes[:, 0], methods):
        y = outputs[f"{m}-{size}"]
        tgt = targets[int(outputs[f"{m}-{size}-excerpt"])]
        ax.plot(tgt, color="0.6", lw=2.0, label="target")
        ax.plot(y, color="C3", lw=1.0, label=f"{KINDS[m].label} (best run)")
        ax.set_ylim(-1.3, 1.3)
        ax.legend(loc="upper right", fontsize=8)
    axes[-1, 0].set_xlabel("sample (44.1 kHz)")
    fig.suptitle(f"Best network per method, {size} parameters")
    fig.tight_layout()
    out = save_png(fig, path)
    plt.close(fig)
    return out
