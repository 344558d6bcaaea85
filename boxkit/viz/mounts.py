"""Mount propagation as a picture: mount trees side by side, peer groups joined across them.

Drawn from :func:`boxkit.nsinfo.mounts` of several mount namespaces (the host's, a copy made with
``unshare -m --propagation unchanged``, a boxkit container's). Each column is one namespace's tree of
mounts (a mount hangs below the mount it was made on). A mount is **shared** when its mountinfo line
has ``shared:N``: it belongs to peer group N, and every mount or unmount under one member is repeated
under every other. A new mount namespace starts as a copy of its parent's, and the copies of shared
mounts join the *same* peer groups: so a mount made in the container would appear on the host. That
is why a runtime's first mount call is ``mount(NULL, "/", NULL, MS_REC|MS_PRIVATE)``: after it the
container's mounts are in no group, and the lines between the columns are gone.
``master:N`` marks a slave (receives from group N, sends nothing back).
"""

from __future__ import annotations

from . import new_figure

SHARED_FC, SLAVE_FC, PRIVATE_FC = "#82c99a", "#f7dc6f", "#e5e5e5"


def _ordered(mounts: list[dict]) -> list[tuple[dict, int]]:
    """Depth-first (mount, depth), the root first, children by mount point."""
    ids = {m["id"] for m in mounts}
    kids: dict[int, list[dict]] = {}
    for m in mounts:
        kids.setdefault(m["parent"] if m["parent"] in ids and m["parent"] != m["id"] else -1, []).append(m)
    out: list[tuple[dict, int]] = []

    def walk(pid: int, depth: int) -> None:
        for m in sorted(kids.get(pid, []), key=lambda m: m["target"]):
            out.append((m, depth))
            walk(m["id"], depth + 1)

    walk(-1, 0)
    return out


def _tag(m: dict) -> str:
    if m.get("shared") is not None:
        return f"shared:{m['shared']}" + (f" master:{m['master']}" if m.get("master") is not None else "")
    if m.get("master") is not None:
        return f"master:{m['master']}"
    return "private"


def propagation_figure(trees: dict[str, list[dict]], title: str = "", max_rows: int = 18,
                       keep=None, recorded: bool = False):
    """``trees``: label → :func:`boxkit.nsinfo.mounts` rows. ``keep(mount)`` may drop mounts that do
    not matter to the story (the rows still say how many were left out)."""
    from matplotlib.patches import FancyBboxPatch

    labels = list(trees)
    cols = len(labels)
    colw = 10.0
    rows_by = {}
    for lab in labels:
        rows = _ordered(trees[lab])
        if keep is not None:
            rows = [(m, d) for m, d in rows if keep(m)]
        rows_by[lab] = rows
    nrows = min(max_rows, max(len(r) for r in rows_by.values()) or 1)
    fig = new_figure(figsize=(4.4 * cols + 0.6, 1.6 + 0.33 * nrows), dpi=100)
    ax = fig.add_axes((0, 0, 1, 1))
    ax.set_xlim(0, colw * cols)
    ax.set_ylim(-2.2, nrows + 2.0)
    ax.axis("off")
    t = title or "Mount propagation: shared mounts are peers across namespaces, private ones are alone"
    ax.text(colw * cols / 2, nrows + 1.5, t + (" (RECORDED)" if recorded else ""), ha="center", fontsize=12,
            weight="bold")
    where: dict[int, list[tuple[float, float, float]]] = {}
    for c, lab in enumerate(labels):
        x0 = c * colw + 0.4
        rows = rows_by[lab]
        ax.text(x0, nrows + 0.6, lab, fontsize=10.5, weight="bold")
        for r, (m, depth) in enumerate(rows[:nrows]):
            y = nrows - r - 0.5
            x = x0 + 0.45 * min(depth, 6)
            fc = SHARED_FC if m.get("shared") is not None else SLAVE_FC if m.get("master") is not None else PRIVATE_FC
            target = m["target"] if len(m["target"]) <= 30 else "…" + m["target"][-29:]
            ax.add_patch(FancyBboxPatch((x, y - 0.36), colw - 1.0 - (x - x0), 0.72, boxstyle="round,pad=0.02",
                                        fc=fc, ec="#777", lw=0.6, gid=f"{lab}:{m['id']}:{_tag(m)}"))
            ax.text(x + 0.15, y, target, fontsize=7.5, family="monospace", va="center")
            ax.text(x0 + colw - 1.1, y, _tag(m), fontsize=7.5, family="monospace", va="center", ha="right",
                    weight="bold" if fc != PRIVATE_FC else "normal")
            if m.get("shared") is not None:
                where.setdefault(m["shared"], []).append((c, x0 + colw - 1.0, y))
        if len(rows) > nrows:
            ax.text(x0, -0.3, f"… {len(rows) - nrows} more mounts", fontsize=8, color="#555")
    # a line between columns for every peer group with members in both: propagation runs along it
    joined = 0
    for spots in where.values():
        spots.sort()
        for (c1, xr, y1), (c2, _xr2, y2) in zip(spots, spots[1:], strict=False):
            if c2 != c1:
                ax.annotate("", xy=(c2 * colw + 0.4 + 0.05, y2), xytext=(xr, y1),
                            arrowprops={"arrowstyle": "<->", "color": "#1a7f37", "lw": 1.2})
                joined += 1
    ax.text(0.4, -1.0, f"green: shared (a peer group); grey: private; yellow: slave. {joined} peer link(s) "
            "across namespaces: a mount under one end appears under the other", fontsize=8.5, color="#333",
            gid="legend")
    ax.text(0.4, -1.7, "a runtime makes / private (MS_REC|MS_PRIVATE) first, so its container's mounts never "
            "reach the host", fontsize=8.5, color="#333")
    return fig
