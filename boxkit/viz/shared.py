"""Notebook 09's pictures: what ``docker stop`` does to a PID 1, and what a container reuses.

* :func:`stop_timeline_figure` draws measured ``stop()`` runs on one time axis: the SIGTERM, the grace
  period in which nothing happens when PID 1 has no handler, the SIGKILL, the end.
* :func:`closure_figure` draws a program's ELF closure (:func:`boxkit.sharing.closure_tree`: the loader
  and the libraries it names, each once, under the first file that names it) above two bars that put
  the ``host`` image beside the host's files (:func:`boxkit.sharing.census`): how many of them it
  holds, and how many bytes it adds on disk.

Both only draw what was measured; the numbers on them are the measurement's.
"""

from __future__ import annotations

from ..i18n import N_, _
from . import new_figure

PROGRAM, LIBRARY, OTHER, LOADED = "#1f4e79", "#4f81bd", "#7f9f3f", "#b07aa1"
TERM, KILL, IDLE, HOST = "#1a7f37", "#c0392b", "#e8e8e8", "#c9d3de"
#: the closure figure's legend: the colour of each kind of file
LEGEND = ((PROGRAM, N_("the program")), (LIBRARY, N_("a library of the host's /usr")),
          (OTHER, N_("a library elsewhere (python's prefix)")), (LOADED, N_("opened at run time (dlopen)")))


def _size(n: float) -> str:
    for unit in ("bytes", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "bytes" else f"{n:.1f} {unit}"
        n /= 1024
    return ""


# --- docker stop, on a time axis ---------------------------------------------------------------------


def stop_timeline_figure(runs, grace: float, title: str | None = None):
    """``runs``: ``[(label, stop_time, sigkill_after_grace), ...]`` as :meth:`Container.stop` measured
    them with ``timeout=grace``. One lane per run, top first."""
    if title is None:
        title = _("docker stop: SIGTERM, then SIGKILL after the grace period")
    fig = new_figure(figsize=(9, 0.95 * len(runs) + 1.5), dpi=100)
    ax = fig.subplots()
    end = max([grace] + [t for _l, t, _k in runs]) * 1.12
    for i, (_label, took, killed) in enumerate(runs):
        y = len(runs) - 1 - i
        if killed:
            ax.barh(y, grace, left=0, height=0.5, color=IDLE, edgecolor="#999999")
            ax.text(grace / 2, y, _("SIGTERM dropped: PID 1 has no handler, nothing happens"),
                    ha="center", va="center", fontsize=9)
            ax.plot([grace], [y], marker="v", color=KILL, markersize=11)
            ax.text(grace, y + 0.38, _("SIGKILL at {seconds} s").format(seconds=f"{grace:g}"), ha="center", fontsize=9,
                    color=KILL)
            ax.plot([took], [y], marker="X", color="black", markersize=9)
            ax.text(0, y - 0.42, "SIGTERM", ha="left", fontsize=8, color=TERM)
            ax.text(took, y - 0.42, _("ended: {seconds} s").format(seconds=f"{took:.3f}"), ha="right", fontsize=8)
        else:
            ax.text(end * 0.02, y, _("SIGTERM: the container ended after {ms} ms").format(ms=f"{took * 1000:.0f}"),
                    va="center", fontsize=9, color=TERM)
        ax.plot([0], [y], marker="v", color=TERM, markersize=11)
    ax.set_yticks(range(len(runs)), [r[0] for r in reversed(runs)], fontsize=10)
    ax.set_ylim(-0.8, len(runs) - 0.2)
    ax.set_xlim(-end * 0.02, end)
    ax.set_xlabel(_("seconds after stop() sent SIGTERM"))
    for side in ("top", "right", "left"):
        ax.spines[side].set_visible(False)
    ax.set_title(title)
    fig.tight_layout()
    return fig


# --- the closure of one program, and the image beside the host ---------------------------------------


def spanning_parents(tree) -> dict[str, str]:
    """Each file's parent in the drawn tree: the first file, one link nearer the root, that names it
    (files in breadth-first order). The other files that name it are counted, not drawn."""
    depth = tree.depth()
    parent: dict[str, str] = {}
    for f in tree.files():
        for c in tree.children.get(f, []):
            if c not in parent and c != tree.root and depth[c] == depth[f] + 1:
                parent[c] = f
    return parent


def tree_layout(tree) -> dict[str, tuple[int, float]]:
    """(column, row) of every file: the column is its depth, each file sits under its spanning parent;
    leaves take one row each, a parent the middle of its children's rows."""
    depth = tree.depth()
    kids: dict[str, list[str]] = {}
    for c, p in spanning_parents(tree).items():
        kids.setdefault(p, []).append(c)
    pos: dict[str, tuple[int, float]] = {}
    row = [0.0]

    def place(f: str) -> float:
        mine = kids.get(f, [])
        if not mine:
            y = row[0]
            row[0] += 1
        else:
            ys = [place(c) for c in mine]
            y = (ys[0] + ys[-1]) / 2
        pos[f] = (depth[f], y)
        return y

    place(tree.root)
    return pos


def closure_figure(tree, census=None, title: str | None = None):
    """The closure of ``tree.root``: each file under the first file that names it (dashed: opened at
    run time), with how many files of the closure name it; and, given a ``census``, the image's files
    and bytes beside the host's."""
    import matplotlib.patches as mpatches

    pos = tree_layout(tree)
    rows = max(y for _x, y in pos.values()) + 1
    cols = max(x for x, _y in pos.values()) + 1
    height = 0.55 * rows + 1.2 + (2.3 if census else 0)
    fig = new_figure(figsize=(9, height), dpi=100)
    if census:
        ax, bars = fig.subplots(2, 1, gridspec_kw={"height_ratios": [0.55 * rows + 0.6, 1.9]})
    else:
        ax, bars = fig.subplots(), None
    colw, boxw, boxh = 3.1, 2.75, 0.7

    def xy(f):
        x, y = pos[f]
        return x * colw, rows - 1 - y

    first = spanning_parents(tree)
    named_by: dict[str, int] = {}
    for f in tree.files():
        for c in tree.children.get(f, []):
            named_by[c] = named_by.get(c, 0) + 1
    prefixes = ("/usr/", "/lib")
    for c, f in first.items():
        (x0, y0), (x1, y1) = xy(f), xy(c)
        style = dict(color=LOADED, lw=1.6, ls="--") if c in tree.loaded else dict(color="#555555", lw=1.4)
        ax.plot([x0 + boxw, x1], [y0, y1], zorder=1, **style)
    for f in tree.files():
        x, y = xy(f)
        if f == tree.root:
            color = PROGRAM
        elif f in tree.loaded:
            color = LOADED
        else:
            color = LIBRARY if f.startswith(prefixes) else OTHER
        ax.add_patch(mpatches.FancyBboxPatch((x, y - boxh / 2), boxw, boxh, boxstyle="round,pad=0.03",
                                             facecolor=color, edgecolor="none", zorder=2))
        name = tree.names.get(f, f.rsplit("/", 1)[-1])
        if len(name) > 27:
            name = name[:25] + "…"
        ax.text(x + boxw / 2, y + 0.1, name, ha="center", va="center", fontsize=9, color="white",
                weight="bold", zorder=3)
        more = named_by.get(f, 0)
        sub = _size(tree.sizes.get(f, 0))
        if more > 1:
            # i18n: {size} is the file's size (12.3 KiB); {n} files of the closure name it (n > 1)
            sub = _("{size}, named by {n} files").format(size=sub, n=more)
        ax.text(x + boxw / 2, y - 0.18, sub, ha="center", va="center", fontsize=8, color="white", zorder=3)
    ax.set_xlim(-0.1, cols * colw)
    ax.set_ylim(-0.7, rows - 0.3)
    ax.axis("off")
    used = {PROGRAM} | {LOADED if f in tree.loaded else LIBRARY if f.startswith(prefixes) else OTHER
                        for f in tree.files() if f != tree.root}
    ax.legend(handles=[mpatches.Patch(color=c, label=_(t)) for c, t in LEGEND if c in used],
              loc="lower left", fontsize=8, frameon=False)
    total = sum(tree.sizes.get(f, 0) for f in tree.files())
    ax.set_title(title or _("{program} needs {n} files ({size} with the program): the pieces the image carries "
                            "for it").format(program=tree.names[tree.root], n=len(tree.files()) - 1,
                                             size=_size(total)),
                 loc="left", fontsize=11)
    if census:
        _census_bars(bars, census)
    fig.tight_layout()
    return fig


def _census_bars(ax, c) -> None:
    roots = " + ".join(c.host_roots)
    rows = [(_("files"), c.host_files, c.shared,
             _("the host image: {shared} of the host's {total} files; {own} files of its own").format(
                 shared=c.shared, total=c.host_files, own=c.own)),
            (_("bytes"), c.host_bytes, c.shared_bytes,
             _("the host image: {shared} of the host's {total}; {own} on disk are the image's own").format(
                 shared=_size(c.shared_bytes), total=_size(c.host_bytes), own=_size(c.own_bytes)))]
    for i, (label, whole, part, said) in enumerate(rows):
        y = 1 - i
        ax.barh(y, 1.0, height=0.5, color=HOST)
        ax.barh(y, part / whole if whole else 0, height=0.5, color=PROGRAM)
        ax.text(0.012 + (part / whole if whole else 0), y, said, va="center",
                fontsize=9)
        ax.text(-0.01, y, label, ha="right", va="center", fontsize=10)
    ax.set_xlim(0, 1)
    ax.set_ylim(-0.5, 1.5)
    ax.set_xticks([])
    ax.set_yticks([])
    for side in ("top", "right", "left", "bottom"):
        ax.spines[side].set_visible(False)
    ax.set_title(_("The host image beside the host's files in {roots}.\n"
                   "A shared file is a hard link: the host's inode, no byte stored twice.").format(roots=roots),
                 loc="left",
                 fontsize=10)
