"""Figures of image layers and overlay costs, drawn from real images in the store.

* :func:`layers_figure` — one or more images as stacks of layers (bottom first, as overlayfs stacks
  them); a layer that two images share is drawn once per image in the same colour, with a line
  joining the two; its width shows its size. The seed notes' ``overlay1.png`` (an app and its two
  dependencies) and ``overlay2.png`` (2.0 reuses them, only the app layer is new) are this figure.
* :func:`copyup_figure` — the first write to a lower file against its size (copy-up copies the file).
* :func:`containers_figure` — N containers of one image: the image once plus N small upper dirs,
  against what N full copies would cost.
"""

from __future__ import annotations

import os

_PALETTE = ["#9aa5b1", "#7fb3d5", "#82c99a", "#f0b27a", "#c39bd3", "#f7dc6f", "#76d7c4", "#e59866"]


def _label(created_by: str) -> str:
    s = created_by
    if s.startswith("boxkit base image"):
        return "base: busybox" if "busybox" in s else "base: host"
    if s.startswith("COPY "):
        import json

        try:
            args = json.loads(s[5:])
            return f"COPY {' '.join(args[:-1])} → {args[-1]}"
        except ValueError:
            pass
    return s[:38]


def _size(n: int) -> str:
    return f"{n / 1e6:.1f} MB" if n >= 1e6 else f"{n / 1e3:.0f} kB"


def layers_figure(images: dict[str, list[dict]], title: str = "", highlight_new: bool = True):
    """``images``: ref → :meth:`boxkit.images.store.Store.layers_of` rows (bottom first)."""
    from matplotlib.patches import FancyBboxPatch

    from . import new_figure

    refs = list(images)
    depth = max(len(v) for v in images.values())
    fig = new_figure(figsize=(4.2 * len(refs) + 1, 1.0 * depth + 1.6), dpi=100)
    ax = fig.add_axes((0, 0, 1, 1))
    ax.set_xlim(0, 10 * len(refs))
    ax.set_ylim(-0.6, depth + 1.4)
    ax.axis("off")
    colours: dict[str, str] = {}
    seen_before: set[str] = set()
    centres: dict[tuple[int, str], tuple[float, float]] = {}
    for col, ref in enumerate(refs):
        x0 = col * 10 + 1
        ax.text(x0 + 4, depth + 0.55, ref, ha="center", fontsize=13, weight="bold")
        for row, layer in enumerate(images[ref]):
            d = layer["diff_id"]
            colour = colours.setdefault(d, _PALETTE[len(colours) % len(_PALETTE)])
            new = highlight_new and col > 0 and d not in seen_before
            ax.add_patch(FancyBboxPatch((x0, row + 0.08), 8, 0.8, boxstyle="round,pad=0.02", fc=colour,
                                        ec="#c0392b" if new else "#333", lw=2.5 if new else 1))
            ax.text(x0 + 0.3, row + 0.55, _label(layer["created_by"]), fontsize=9.5, va="center")
            ax.text(x0 + 7.7, row + 0.28, f"{_size(layer['size'])} tar  {d[7:19]}", fontsize=8, va="center",
                    ha="right", family="monospace", color="#222")
            if new:
                ax.text(x0 + 8.2, row + 0.48, "new", color="#c0392b", fontsize=9, weight="bold", va="center")
            centres[(col, d)] = (x0, row + 0.48)
        seen_before.update(r["diff_id"] for r in images[ref])
    for col in range(1, len(refs)):
        for layer in images[refs[col]]:
            a, b = centres.get((col - 1, layer["diff_id"])), centres.get((col, layer["diff_id"]))
            if a and b:
                ax.annotate("", xy=(b[0], b[1]), xytext=(a[0] + 8, a[1]),
                            arrowprops={"arrowstyle": "-", "color": "#555", "ls": "--"})
    if title:
        ax.text(5 * len(refs), depth + 1.1, title, ha="center", fontsize=12)
    ax.text(0.2, -0.4, "layers bottom first, as overlayfs stacks them; a dashed line joins a layer stored once "
            "and used by both", fontsize=8.5, color="#555")
    return fig


def copyup_figure(points: list[tuple[int, float]], recorded: bool = False):
    from . import new_figure

    fig = new_figure(figsize=(7, 4), dpi=100)
    ax = fig.add_subplot()
    xs = [p[0] for p in points]
    ys = [p[1] * 1000 for p in points]
    ax.loglog(xs, ys, "o-", color="#1f6fb2")
    ax.set_xlabel("size of the lower file (bytes)")
    ax.set_ylabel("first 1-byte append (ms)")
    ax.set_title("copy-up: the first write copies the whole file" + (" (RECORDED)" if recorded else ""))
    ax.grid(True, which="both", alpha=0.3)
    return fig


def containers_figure(cost: dict, recorded: bool = False):
    from . import new_figure

    fig = new_figure(figsize=(7, 4), dpi=100)
    ax = fig.add_subplot()
    n = cost["containers"]
    mb = 1e6
    ax.bar(["shared layers\n+ upper dirs"], [cost["image_bytes"] / mb], color="#7fb3d5", label="image layers (once)")
    ax.bar(["shared layers\n+ upper dirs"], [sum(cost["upper_bytes"]) / mb], bottom=[cost["image_bytes"] / mb],
           color="#c0392b", label=f"{n} upper dirs")
    ax.bar([f"{n} full copies"], [cost["without_sharing_bytes"] / mb], color="#bbb", label="without sharing")
    ax.set_ylabel("MB on disk")
    ax.set_title(f"{n} containers of one image" + (" (RECORDED)" if recorded else ""))
    ax.legend()
    return fig


def draw_docs_figures(outdir: str) -> None:
    """``docs/img/overlay1.png`` and ``overlay2.png`` from the seed app built for real (in a private
    BOXKIT_ROOT, removed afterwards)."""
    import shutil
    import tempfile

    from ..images.measure import build_seed_app
    from ..images.store import Store

    work = tempfile.mkdtemp(prefix="bk-fig-", dir="/var/tmp")
    old = os.environ.get("BOXKIT_ROOT")
    os.environ["BOXKIT_ROOT"] = os.path.join(work, "root")
    try:
        v1, v2 = build_seed_app(work)
        s = Store()
        f1 = layers_figure({v1: s.layers_of(v1)}, "version 1.0: an app with two dependencies")
        f1.savefig(os.path.join(outdir, "overlay1.png"), bbox_inches="tight")
        f2 = layers_figure({v1: s.layers_of(v1), v2: s.layers_of(v2)},
                           "version 2.0 reuses the dependencies; only the app layer is new")
        f2.savefig(os.path.join(outdir, "overlay2.png"), bbox_inches="tight")
    finally:
        if old is None:
            os.environ.pop("BOXKIT_ROOT", None)
        else:
            os.environ["BOXKIT_ROOT"] = old
        shutil.rmtree(work, ignore_errors=True)
