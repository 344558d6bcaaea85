"""Figures of image layers and overlay costs, drawn from real images in the store.

* :func:`layers_figure` — one or more images as stacks of layers (bottom first, as overlayfs stacks
  them); a layer that two images share is drawn once per image in the same colour, with a line
  joining the two; its width is its bytes on disk. Under it: what the store holds (each distinct
  layer once) against the sum of the images' sizes, and what a layer id is (a content digest). The seed notes' ``overlay1.png`` (an app and its two
  dependencies) and ``overlay2.png`` (2.0 reuses them, only the app layer is new) are this figure.
* :func:`copyup_figure` — the first one-byte append to a lower file against its size (the open for
  writing copies the whole file up).
* :func:`containers_figure` — N containers of one image: the image once plus N small upper dirs,
  against what N full copies would cost.
"""

from __future__ import annotations

import os

from ..i18n import _, ngettext
from . import badge, new_figure

_PALETTE = ["#9aa5b1", "#7fb3d5", "#82c99a", "#f0b27a", "#c39bd3", "#f7dc6f", "#76d7c4", "#e59866"]


def _label(created_by: str) -> str:
    s = created_by
    if s.startswith("boxkit base image"):
        # i18n: the base layer of a boxkit image: {name} is busybox or host
        return _("base: {name}").format(name="busybox" if "busybox" in s else "host")
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


MIN_W = 0.12   # a layer too small to see at scale is drawn this wide (and says so)
MAX_W = 4.0    # the largest layer of the figure (two images side by side fit 900 px)


def _bytes(layer: dict) -> int:
    """Bytes on disk (the unpacked directory) where the store measured them, else the tar's."""
    return int(layer.get("disk") or layer.get("size") or 0)


def layer_width(nbytes: int, largest: int) -> float:
    """A layer's box width: in proportion to its bytes on disk, never thinner than :data:`MIN_W`."""
    return max(MIN_W, MAX_W * nbytes / largest) if largest else MIN_W


def disk_totals(images: dict[str, list[dict]]) -> dict:
    """What the images cost: ``stored`` (each distinct layer once, as the store keeps them) against
    ``summed`` (each image's size added up, as if nothing were shared)."""
    distinct = {r["diff_id"]: _bytes(r) for rows in images.values() for r in rows}
    return {"stored": sum(distinct.values()), "summed": sum(_bytes(r) for rows in images.values() for r in rows),
            "layers": len(distinct)}


def layers_figure(images: dict[str, list[dict]], title: str = "", highlight_new: bool = True):
    """``images``: ref → :meth:`boxkit.images.store.Store.layers_of` rows (bottom first). Each layer is
    a box as wide as its bytes on disk; a layer two images share is drawn in each, in one colour,
    joined by a dashed line; below, what the store holds against the sum of the images' sizes."""
    from matplotlib.patches import FancyBboxPatch

    refs = list(images)
    depth = max(len(v) for v in images.values())
    largest = max(_bytes(r) for v in images.values() for r in v) or 1
    # one image as before; two side by side in 9 inches, 900 px: a notebook column shows them unscaled
    fig = new_figure(figsize=(max(5.6, 4.1 * len(refs) + 0.8), 1.0 * depth + 2.6), dpi=100)
    ax = fig.add_axes((0, 0, 1, 1))
    ax.set_xlim(0, 10 * len(refs))
    ax.set_ylim(-1.9, depth + 1.4)
    ax.axis("off")
    colours: dict[str, str] = {}
    seen_before: set[str] = set()
    ends: dict[tuple[int, str], tuple[float, float, float]] = {}
    for col, ref in enumerate(refs):
        x0 = col * 10 + 0.6
        total = sum(_bytes(r) for r in images[ref])
        ax.text(x0 + 4.3, depth + 0.55, f"{ref}  ({_size(total)})", ha="center", fontsize=12, weight="bold")
        for row, layer in enumerate(images[ref]):
            d = layer["diff_id"]
            colour = colours.setdefault(d, _PALETTE[len(colours) % len(_PALETTE)])
            new = highlight_new and col > 0 and d not in seen_before
            w = layer_width(_bytes(layer), largest)
            ax.add_patch(FancyBboxPatch((x0, row + 0.1), w, 0.76, boxstyle="round,pad=0.02", fc=colour,
                                        ec="#c0392b" if new else "#333", lw=2.5 if new else 1,
                                        gid=f"layer:{col}:{d}"))
            tiny = w == MIN_W and _bytes(layer) * MAX_W / largest < MIN_W
            # i18n: {size} is the layer's size (12.3 MB), {id} the start of its diff id (sha256:...)
            on_disk = _("{size} on disk (not to scale)  {id}") if tiny else _("{size} on disk  {id}")
            tx = x0 + w + 0.15
            ax.text(tx, row + 0.62, _label(layer["created_by"]), fontsize=9.5, va="center")
            ax.text(tx, row + 0.3, on_disk.format(size=_size(_bytes(layer)), id=d[:19]), fontsize=8,
                    va="center", family="monospace", color="#333")
            if new:
                # i18n: beside a layer (also beside a new file in an overlay's upper dir)
                ax.text(x0 - 0.1, row + 0.48, _("new"), color="#c0392b", fontsize=9, weight="bold", va="center",
                        ha="right")
            ends[(col, d)] = (x0, x0 + w, row + 0.48)
        seen_before.update(r["diff_id"] for r in images[ref])
    for col in range(1, len(refs)):
        for layer in images[refs[col]]:
            a, b = ends.get((col - 1, layer["diff_id"])), ends.get((col, layer["diff_id"]))
            if a and b:
                ax.annotate("", xy=(b[0], b[2]), xytext=(col * 10 - 0.3, a[2]),
                            arrowprops={"arrowstyle": "-", "color": "#555", "ls": "--"})
    if title:
        ax.text(5 * len(refs), depth + 1.1, title, ha="center", fontsize=12)
    note = _("layers bottom first, as overlayfs stacks them; a box is as wide as its bytes on disk")
    if len(refs) > 1:
        t = disk_totals(images)
        note = _("layers bottom first, as overlayfs stacks them; a box is as wide as its bytes on disk; "
                 "a dashed line joins a layer stored once and used by both")
        ax.text(0.3, -0.75, _("on disk: {stored} for both images ({n} distinct layers, each stored once), "
                              "not the {summed} their sizes add up to").format(
                    stored=_size(t["stored"]), n=t["layers"], summed=_size(t["summed"])),
                fontsize=10, weight="bold", color="#1f4e89", gid="totals")
    ax.text(0.3, -0.35, note, fontsize=8.5, color="#555")
    ax.text(0.3, -1.35, _("a layer's id is its content digest: sha256 of its uncompressed tar (the diff id);\n"
                          "the same files packed the same way are the same layer, whichever build made them"),
            fontsize=8.5, color="#555", va="center", gid="digest-note")
    return fig


def copyup_figure(points: list[tuple[int, float]], recorded: bool = False):
    fig = new_figure(figsize=(7, 4), dpi=100)
    ax = fig.add_subplot()
    xs = [p[0] for p in points]
    ys = [p[1] * 1000 for p in points]
    ax.loglog(xs, ys, "o-", color="#1f6fb2")
    ax.set_xlabel(_("size of the lower file (bytes)"))
    ax.set_ylabel(_("first 1-byte append (ms)"))
    ax.set_title(badge(_("copy-up: the first open for writing copies the whole file"), recorded))
    ax.grid(True, which="both", alpha=0.3)
    return fig


def containers_figure(cost: dict, recorded: bool = False):
    fig = new_figure(figsize=(7, 4), dpi=100)
    ax = fig.add_subplot()
    n = cost["containers"]
    mb = 1e6
    shared = _("shared layers\n+ upper dirs")
    ax.bar([shared], [cost["image_bytes"] / mb], color="#7fb3d5", label=_("image layers (once)"))
    ax.bar([shared], [sum(cost["upper_bytes"]) / mb], bottom=[cost["image_bytes"] / mb],
           color="#c0392b", label=ngettext("{n} upper dirs", "{n} upper dirs", n).format(n=n))
    ax.bar([ngettext("{n} full copies", "{n} full copies", n).format(n=n)], [cost["without_sharing_bytes"] / mb],
           color="#bbb", label=_("without sharing"))
    ax.set_ylabel(_("MB on disk"))
    ax.set_title(badge(ngettext("{n} containers of one image", "{n} containers of one image", n).format(n=n),
                       recorded))
    ax.legend()
    return fig


def draw_docs_figures(outdir: str) -> None:
    """``docs/img/overlay1.png`` and ``overlay2.png`` from the seed app built for real, in this host's
    image store, as notebook 03 builds it: so the figures show the same ``busybox`` base layer (its
    diff id) as the notebook run on the same host. A new cache scope makes it a first build; the COPY
    layers are reproducible, so their diff ids are the notebook's wherever it runs."""
    import shutil
    import tempfile
    import uuid

    # lazy: image_experiments loads build and the runtime (~60 ms); only this figure builds
    from ..image_experiments import build_seed_app
    from ..images.store import Store  # lazy: the image store only for this figure

    work = tempfile.mkdtemp(prefix="bk-fig-", dir="/var/tmp")
    try:
        v1, v2 = build_seed_app(work, cache_scope=f"figures-{uuid.uuid4().hex[:12]}")
        s = Store()
        f1 = layers_figure({v1: s.layers_of(v1)}, _("version 1.0: an app with two dependencies"))
        f1.savefig(os.path.join(outdir, "overlay1.png"), bbox_inches="tight")
        f2 = layers_figure({v1: s.layers_of(v1), v2: s.layers_of(v2)},
                           _("version 2.0 reuses the dependencies; only the app layer is new"))
        f2.savefig(os.path.join(outdir, "overlay2.png"), bbox_inches="tight")
    finally:
        shutil.rmtree(work, ignore_errors=True)
