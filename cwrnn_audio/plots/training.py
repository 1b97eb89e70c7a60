"""Loss curves."""

from __future__ import annotations

from .figure import pyplot, save_png


def loss_curve(history: dict, path):
    """Training and validation loss per epoch, best epoch marked."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6, 3.5))
    epochs = range(1, len(history["train_loss"]) + 1)
    ax.plot(epochs, history["train_loss"], marker="o", label="training")
    ax.plot(epochs, history["val_loss"], marker="o", label="validation")
    if history.get("best_epoch"):
        ax.axvline(history["best_epoch"], color="0.5", ls="--", lw=1, label="best (saved)")
    ax.set_xlabel("epoch")
    ax.set_ylabel("loss")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    out = save_png(fig, path)
    plt.close(fig)
    return out
