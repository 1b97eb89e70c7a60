"""Piano-roll pictures of note lists."""

from __future__ import annotations

from .figure import pyplot, save_png


def piano_roll(path, *groups, title: str = ""):
    """Draw ``(label, notes)`` groups as coloured bars, time in seconds against pitch."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(10, 4))
    pitches = []
    for i, (label, notes) in enumerate(groups):
        color = f"C{i}"
        for n in notes:
            ax.broken_barh([(n.start, max(n.end - n.start, 1e-3))], (n.pitch - 0.4, 0.8), color=color)
            pitches.append(n.pitch)
        ax.plot([], [], color=color, lw=6, label=f"{label} ({len(notes)} notes)")
    if pitches:
        ax.set_ylim(min(pitches) - 2, max(pitches) + 2)
    ax.set_xlabel("time (s)")
    ax.set_ylabel("MIDI pitch")
    ax.grid(alpha=0.3)
    ax.legend(loc="upper right")
    ax.set_title(title)
    fig.tight_layout()
    out = save_png(fig, path)
    plt.close(fig)
    return out
