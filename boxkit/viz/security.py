"""Notebook 06's picture: the security layers of a container, each with the way it refuses, and each
probe drawn twice: what it met in its first container (a default one unless the probe names another
setting), and what it met with that layer removed.

A :class:`Probe` holds what two real containers said; the figure only draws it. A layer refuses in a
way of its own — an errno before the call runs, an errno inside it, a setuid bit ignored without a
word, an empty file, a file that is not there — so each band names that way (:data:`HOW`) beside the
messages the probes got.
"""

from __future__ import annotations

from typing import NamedTuple

from ..i18n import N_, _
from . import new_figure

REFUSED, ALLOWED, UNTRIED = "#c0392b", "#1a7f37", "#8c959f"
LAYER_FILL = "#dde5ee"

# how each layer refuses, as the kernel does it (the probes' messages are the evidence)
HOW = {
    "seccomp": N_("a BPF program run at the entry of every system call: the call never starts (EPERM)"),
    "capabilities": N_("the call runs and asks capable(): EPERM"),
    "no_new_privs": N_("execve ignores the setuid bit: no error, and no root"),
    "masked paths": N_("/dev/null is mounted over the file: it reads as empty"),
    "read-only paths": N_("a read-only mount: a write fails with EROFS"),
    "devices": N_("a nodev mount: EACCES; the v1 devices cgroup: EPERM"),
    "a cgroup of its own": N_("a v1 mount shows the container's own group: no release_agent there"),
}
# the layers' names as a band shows them (seccomp, capabilities, no_new_privs, devices are the kernel's)
NAMES = {
    "masked paths": N_("masked paths"),
    "read-only paths": N_("read-only paths"),
    "a cgroup of its own": N_("a cgroup of its own"),
}


class Probe(NamedTuple):
    """One action tried twice: in a container started with ``setting`` ("default" unless the action
    needs more to get that far; ``refused``, ``said``) and with ``layer`` removed by ``without``
    (``works_without``: True, False, or None when not tried)."""

    layer: str
    probe: str
    refused: bool
    said: str
    without: str
    works_without: bool | None
    said_without: str = ""
    setting: str = "default"


def layer_order(probes) -> list[str]:
    """The layers in the order the probes first name them (top of the stack first)."""
    seen: list[str] = []
    for p in probes:
        if p[0] not in seen:
            seen.append(p[0])
    return seen


def layer_name(layer: str) -> str:
    """A layer's name as the figure prints it, in the current language (the kernel's own names —
    seccomp, capabilities, no_new_privs, devices — as they are)."""
    return _(NAMES[layer]) if layer in NAMES else layer


def setting_name(setting: str) -> str:
    """A container's setting as the figure prints it: ``default`` in words, a flag as it is."""
    return _("default") if setting == "default" else setting


def _short(text: str, width: int = 54) -> str:
    """One line of at most ``width`` characters; a longer one keeps its start and its end, where an
    error message says why (``cannot create …: Read-only file system``)."""
    text = " ".join(str(text).split())
    if len(text) <= width:
        return text
    head = (width - 1) // 2
    return text[:head].rstrip() + "…" + text[-(width - 1 - head):].lstrip()


def stack_figure(probes, title: str | None = None):
    """One band per layer (its name and way of refusing), one row per probe: the outcome in the first
    container (its ``setting``; red: refused, green: allowed) and, after the arrow, the outcome without
    that layer (green: it worked, red: still refused, grey: not tried)."""
    if title is None:
        title = _("what stops root in a box, and how each layer refuses")
    probes = [Probe(*p) for p in probes]
    layers = layer_order(probes)
    rows = len(probes)
    fig = new_figure(figsize=(9.0, 0.62 * rows + 0.55 * len(layers) + 0.9), dpi=100)
    ax = fig.subplots()
    y = 0.0
    row_h, head_h = 0.62, 0.55
    for layer in layers:
        mine = [p for p in probes if p.layer == layer]
        band = head_h + row_h * len(mine)
        top = -y
        ax.add_patch(_box(0.0, top - band + 0.04, 10.0, band - 0.08, LAYER_FILL))
        ax.text(0.12, top - 0.2, layer_name(layer), ha="left", va="center", fontsize=10,
                weight="bold")
        # the note starts a little right of the rows' boxes: a layer's name in Portuguese is longer
        ax.text(2.6, top - 0.2, _(HOW[layer]) if layer in HOW else "", ha="left", va="center", fontsize=8,
                style="italic")
        for i, p in enumerate(mine):
            cy = top - head_h - row_h * i - row_h / 2
            ax.text(0.12, cy, _short(p.probe, 28), ha="left", va="center", fontsize=8.5)
            ax.add_patch(_box(2.3, cy - 0.24, 3.55, 0.48, REFUSED if p.refused else ALLOWED, alpha=0.9))
            # i18n: {setting} is the container's setting ("default" is translated, others are flags)
            said = _("{setting}: refused") if p.refused else _("{setting}: allowed")
            setting = setting_name(p.setting)
            ax.text(4.075, cy + 0.09, _short(said.format(setting=setting), 40),
                    ha="center", va="center", fontsize=7.5, color="white", weight="bold")
            ax.text(4.075, cy - 0.11, _short(p.said), ha="center", va="center", fontsize=6.5, color="white")
            ax.annotate("", xy=(6.3, cy), xytext=(5.9, cy),
                        arrowprops={"arrowstyle": "->", "color": "#444", "lw": 1.2})
            color = {True: ALLOWED, False: REFUSED, None: UNTRIED}[p.works_without]
            # i18n: {without} is how the layer was removed (a setting: --cap-add=ALL, seccomp=unconfined)
            outcome = {True: _("{without}: works"), False: _("{without}: still refused"),
                       None: _("{without}: not tried")}[p.works_without]
            ax.add_patch(_box(6.35, cy - 0.24, 3.55, 0.48, color, alpha=0.9))
            ax.text(8.125, cy + 0.09, _short(outcome.format(without=p.without), 40), ha="center", va="center",
                    fontsize=7.5, color="white", weight="bold")
            ax.text(8.125, cy - 0.11, _short(p.said_without), ha="center", va="center", fontsize=6.5,
                    color="white")
        y += band
    ax.set_xlim(0, 10.0)
    ax.set_ylim(-y, 0.05)
    ax.axis("off")
    ax.set_title(title, fontsize=11)
    fig.tight_layout()
    return fig


def _box(x: float, y: float, w: float, h: float, color: str, alpha: float = 1.0):
    from matplotlib.patches import FancyBboxPatch

    return FancyBboxPatch((x, y), w, h, boxstyle="round,pad=0.02", facecolor=color, edgecolor="none",
                          alpha=alpha)
