"""Notebook 06's picture: the security layers of a container as a stack, each probe drawn on the
layer that stopped it, with what it did once that layer alone was removed.

A *verdict* is ``(layer, probe, refused, works_without)``: ``refused`` is what the probe met in a
default container, ``works_without`` what it met with only that layer taken away (None: not tried).
Both come from real containers; the figure only draws them.
"""

from __future__ import annotations

from . import new_figure

REFUSED, ALLOWED, UNTRIED = "#c0392b", "#1a7f37", "#8c959f"


def layer_order(verdicts) -> list[str]:
    """The layers in the order the verdicts first name them (top of the stack first)."""
    seen: list[str] = []
    for layer, *_ in verdicts:
        if layer not in seen:
            seen.append(layer)
    return seen


def stack_figure(verdicts, title: str = "what stops root in a box"):
    layers = layer_order(verdicts)
    per = {la: [v for v in verdicts if v[0] == la] for la in layers}
    width = max([len(p) for p in per.values()] + [1])
    fig = new_figure(figsize=(3.2 + 2.6 * width, 0.75 * len(layers) + 1.4), dpi=100)
    ax = fig.subplots()
    for i, layer in enumerate(layers):
        y = len(layers) - 1 - i
        ax.add_patch(_box(-3.0, y + 0.08, 2.9, 0.84, "#dde5ee"))
        ax.text(-1.55, y + 0.5, layer, ha="center", va="center", fontsize=10, weight="bold")
        for j, (_la, probe, refused, works_without) in enumerate(per[layer]):
            x = j * 2.6
            ax.add_patch(_box(x, y + 0.08, 2.5, 0.84, REFUSED if refused else ALLOWED, alpha=0.85))
            without = {True: "works without it", False: "refused without it too",
                       None: "not tried without it"}[works_without]
            ax.text(x + 1.25, y + 0.62, probe, ha="center", va="center", fontsize=8.5, color="white",
                    weight="bold")
            ax.text(x + 1.25, y + 0.3, ("refused" if refused else "allowed") + "; " + without,
                    ha="center", va="center", fontsize=7, color="white")
    ax.set_xlim(-3.1, 2.6 * width)
    ax.set_ylim(0, len(layers))
    ax.axis("off")
    ax.set_title(title)
    fig.tight_layout()
    return fig


def _box(x: float, y: float, w: float, h: float, color: str, alpha: float = 1.0):
    from matplotlib.patches import FancyBboxPatch

    return FancyBboxPatch((x, y), w, h, boxstyle="round,pad=0.02", facecolor=color, edgecolor="none",
                          alpha=alpha)
