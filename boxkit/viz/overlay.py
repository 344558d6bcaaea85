"""The by-hand overlay as a picture: lower, upper, work and merged, path by path.

Drawn from :func:`boxkit.images.upper.scan_overlay` of a mounted overlay. Each path is a column; the
rows are the overlay's directories, merged on top, as the kernel resolves a name: it looks in the
**upper** dir first and falls through to **lower** only where upper has nothing. So a column says it
all: a file in upper hides the lower one (a *copy-up* when both exist); a **whiteout** (a character
device 0/0 in upper) hides a lower file, and the merged row is empty above it; an **opaque** dir
(``trusted.overlay.opaque=y``) hides everything below it, so the lower files under it are missing from
merged too. The columns are grouped by top directory, at most :data:`MAX_COLUMNS` to a panel, the
panels one above the other, so the figure stays readable at a notebook's width.

**work** is drawn under the panels: scratch space on the upper's file system where each copy-up is
prepared, then put into upper in one step (so a crash never leaves half a file): a directory, a
whiteout or a special file is made under a temporary name and renamed; a regular file, where the
upper's file system has ``O_TMPFILE``, is copied into an unnamed file opened in work and then linked
into upper (fs/overlayfs/copy_up.c, ``ovl_copy_up_tmpfile``). Each entry found
there is explained: a kernel with *whiteout inode sharing* also keeps one whiteout there (``#`` and a
hex number) and makes every new whiteout in upper a hard link to it (one inode for all of them).
"""

from __future__ import annotations

from ..i18n import _
from . import badge, new_figure

ROWS = ("lower", "upper", "merged")
MAX_COLUMNS = 4   # paths side by side in one panel: at 100 px an inch, a panel fits a notebook column
FC = {"file": "#dbe8f5", "dir": "#eef2f6", "whiteout": "#222222", "opaque": "#f0b27a"}


def _hidden(path: str, upper: dict[str, str]) -> str:
    """Why a lower ``path`` does not reach merged: the upper entry (or opaque parent) that hides it."""
    if path in upper:
        return upper[path]
    parts = path.split("/")
    for k in range(len(parts) - 1, 0, -1):
        if upper.get("/".join(parts[:k])) == "opaque":
            return "opaque"
    return ""


def _panels(paths: list[str], most: int = MAX_COLUMNS) -> list[list[str]]:
    """The paths grouped by their top directory (``etc`` with ``etc/config``...), each group cut into
    panels of at most ``most`` columns, so the figure stays readable at a notebook's width."""
    groups: dict[str, list[str]] = {}
    for p in paths:
        groups.setdefault(p.split("/")[0], []).append(p)
    return [g[i:i + most] for g in groups.values() for i in range(0, len(g), most)]


def _work_line(path: str, kind: str) -> str:
    """What one entry of the work dir is, in words."""
    if kind == "whiteout":
        return _("{path}: a whiteout (char dev 0/0) the kernel keeps here; each new whiteout in upper "
                 "is a hard link to it").format(path=path)
    if kind in ("dir", "opaque") and path == "work":
        return _("{path}/: scratch space; a copy-up is prepared here (a file as an unnamed O_TMPFILE), "
                 "then put into upper in one step").format(path=path)
    return _("{path}: left over from an operation in progress").format(
        path=path + ("/" if kind in ("dir", "opaque") else ""))


def overlay_figure(scan: dict[str, dict[str, str]], title: str = "", recorded: bool = False):
    """``scan``: ``{"lower"|"upper"|"work"|"merged": {path: kind}}``."""
    from matplotlib.patches import FancyBboxPatch, Rectangle

    paths = sorted(set().union(*(scan.get(r, {}) for r in ROWS)), key=lambda p: (p.split("/")[0], p))
    panels = _panels(paths) or [[]]
    work = sorted(scan.get("work", {}).items())[:4]
    cols = max(1, max(len(p) for p in panels))
    left, cw, rh, head = 1.8, min(1.75, 7.0 / cols), 0.9, 0.42
    width = left + cols * cw + 0.15
    panel_h = head + 3 * rh + 0.34
    work_h = 0.55 + 0.3 * max(1, len(work))
    height = 0.62 + len(panels) * panel_h + work_h + 0.62
    fig = new_figure(figsize=(width, height), dpi=100)
    ax = fig.add_axes((0, 0, 1, 1))
    ax.set_xlim(0, width)   # one unit is one inch: 100 px at the notebook's scale
    ax.set_ylim(0, height)
    ax.axis("off")
    t = badge(title or _("An overlay by hand: the kernel looks in upper first, then in lower"), recorded)
    ax.text(width / 2, height - 0.32, t, ha="center", va="center",
            fontsize=13, weight="bold")
    # i18n: the rows of the figure; merged, upper and lower are the overlay's own names: keep them
    notes = {"merged": _("merged\n(what the container\nsees as /)"), "upper": _("upper\n(writable:\nevery change)"),
             "lower": _("lower\n(read-only)")}
    empty = _("(empty)")
    upper = scan.get("upper", {})
    top = height - 0.62
    for panel in panels:
        ax.text(0.12, top - head / 2, _("under {dir}/").format(dir=panel[0].split("/")[0]) if panel else empty,
                fontsize=11, weight="bold", va="center", color="#1f4e89")
        for r, row in enumerate(("merged", "upper", "lower")):
            y = top - head - (r + 1) * rh
            ax.add_patch(Rectangle((0.08, y + 0.03), width - 0.16, rh - 0.06, fc="#f5f5f5", ec="#d0d0d0",
                                   zorder=0))
            ax.text(0.14, y + rh / 2, notes[row], fontsize=9.5, va="center", weight="bold", linespacing=1.0)
            for k, p in enumerate(panel):
                kind = scan.get(row, {}).get(p)
                if kind is None:
                    continue
                x = left + k * cw
                mark = kind in ("whiteout", "opaque")
                ax.add_patch(FancyBboxPatch((x + 0.06, y + 0.1), cw - 0.12, rh - 0.2, boxstyle="round,pad=0.02",
                                            fc=FC[kind], ec="#c0392b" if mark else "#555", lw=2 if mark else 1,
                                            hatch="//" if kind == "opaque" else None, gid=f"{row}:{p}:{kind}"))
                name = p.rsplit("/", 1)[-1] + ("/" if kind in ("dir", "opaque") else "")
                sub = {"whiteout": "whiteout\nchar dev 0/0", "opaque": "opaque\n(xattr =y)"}.get(kind, "")
                if row == "lower" and p not in scan.get("merged", {}):
                    # i18n: {what} is what hides it: whiteout, opaque, file, dir or upper (kept as they are)
                    sub = _("hidden by\n{what}").format(what=_hidden(p, upper) or "upper")
                elif row == "upper" and kind == "file":
                    # i18n: beside a new file in upper (also beside a new layer of an image)
                    sub = "copy-up" if p in scan.get("lower", {}) else _("new")
                ink = "white" if kind == "whiteout" else "#111"
                ax.text(x + cw / 2, y + rh / 2 + (0.15 if sub else 0), name, ha="center", va="center",
                        fontsize=10.5, family="monospace", color=ink)
                if sub:
                    ax.text(x + cw / 2, y + rh / 2 - 0.16, sub, ha="center", va="center", fontsize=8.5,
                            color="white" if kind == "whiteout" else "#c0392b", linespacing=0.95,
                            bbox={"fc": "white", "ec": "none", "pad": 0.5} if kind == "opaque" else None)
        base = top - head - 3 * rh
        for k, p in enumerate(panel):
            ax.text(left + k * cw + cw / 2, base - 0.17, p, ha="center", va="center", fontsize=9, color="#555",
                    family="monospace")
        top -= panel_h
    # work: on the upper's file system, beside the stack
    wy = top - work_h
    ax.add_patch(FancyBboxPatch((0.1, wy + 0.05), width - 0.2, work_h - 0.1, boxstyle="round,pad=0.02",
                                fc="#fff7e6", ec="#b9770e", gid="work"))
    ax.text(0.22, wy + work_h - 0.3, _("work  (on the upper's file system; the container never sees it)"),
            fontsize=10, weight="bold", va="center")
    lines = [_work_line(p, k) for p, k in work] or [empty]
    for i, line in enumerate(lines):
        ax.text(0.3, wy + work_h - 0.6 - 0.3 * i, line, fontsize=9, va="center", family="monospace"
                if line == empty else None)
    ax.text(0.12, wy - 0.3, _("a column is one path; the kernel takes its highest entry: upper hides lower,\n"
                              "a whiteout deletes, an opaque dir hides all below it"),
            fontsize=9.5, color="#555", va="center")
    return fig
