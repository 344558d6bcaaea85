"""Namespace figures: one container's processes seen from both sides, and a user namespace's id map.

* :func:`namespace_figure` — drawn from :func:`boxkit.nsinfo.snapshot`. The host's process tree is
  the branch from PID 1 down to the container; the container's processes are a subtree of it, boxed
  because they are in a PID namespace of their own. Each of them has two PIDs (``NSpid`` in
  ``/proc/PID/status``: the host's number and the container's, where the first is 1), and the figure
  joins the two. Beside it, the inode of every namespace (``/proc/PID/ns/*``) on both sides: the same
  number means the same namespace (shared), a different one means the container has its own.
  The host sees the container's processes (they are in its tree); the container sees only the box.
  The host branch names its roles (:func:`fold_host`): PID 1, whatever started the notebook (folded
  into one row), the notebook's kernel, and boxkit's helper that forks each container.
* :func:`idmap_figure` — drawn from ``/proc/PID/uid_map`` (:func:`boxkit.nsinfo.id_map`). A map line
  ``inside outside count`` says that ids ``inside … inside+count-1`` in the namespace are ids
  ``outside …`` on the host. The figure draws both id ranges as bars on their own axes, joined, and the
  overflow id (65534, ``nobody``) that every unmapped host id shows as inside.
"""

from __future__ import annotations

import os
import sys

from ..i18n import _, ngettext
from . import badge, new_figure

OWN, SHARED, BOX_EC, BOX_FC = "#1a7f37", "#888888", "#1f6fb2", "#e8f1fb"


def _runs(names: list[str]) -> str:
    """``bash, bash, bash`` as ``bash ×3``, order kept."""
    out: list[list] = []
    for n in names:
        if out and out[-1][0] == n:
            out[-1][1] += 1
        else:
            out.append([n, 1])
    return ", ".join(n if k == 1 else f"{n} ×{k}" for n, k in out)


def fold_host(host: list[dict], me: int | None) -> list[dict]:
    """The host branch with its roles named: PID 1; the processes between PID 1 and ``me`` (whatever
    started Jupyter: a desktop, a shell, a sandbox's supervisor) folded into one row; ``me`` (the
    process that took the snapshot, a notebook's kernel or a script) and the processes between it and
    the container (boxkit's helper, which forks every container) named. Unchanged when ``me`` is not in
    the branch (a snapshot taken elsewhere)."""
    pids = [p["host_pid"] for p in host]
    if me not in pids:
        return host
    k = pids.index(me)
    # i18n: {comm} is a process's command name (python3), the process that draws the figure
    who = _("{comm}: this notebook's kernel") if "ipykernel" in sys.modules else _("{comm}: the program drawing this")
    rows = host[:1]
    between = host[1:k]
    if between:
        # i18n: {names} are command names (bash ×2, sshd)
        folded = ngettext("{n} more: what started it ({names})", "{n} more: what started it ({names})",
                          len(between)).format(n=len(between), names=_runs([p["comm"] for p in between]))
        rows.append({"host_pid": "…", "comm": folded, "ppid": host[0]["host_pid"], "folded": True})
    if k > 0:
        rows.append({**host[k], "comm": who.format(comm=host[k]["comm"])})
    helper = _("{comm}: boxkit's helper, it forks the containers")
    rows += [{**p, "comm": helper.format(comm=p["comm"])} for p in host[k + 1:]]
    return rows


def _tree_rows(snap: dict) -> list[dict]:
    """Rows top to bottom: the host branch, then the container's subtree in depth-first order, each
    with its depth and whether it is inside the container."""
    rows = [{**p, "depth": k, "inside": False} for k, p in enumerate(snap["host"])]
    inside = snap["container"]
    pids = {p["host_pid"] for p in inside}
    kids: dict[int, list[dict]] = {}
    for p in inside:
        kids.setdefault(p.get("ppid", 0) if p.get("ppid", 0) in pids else 0, []).append(p)
    base = len(rows)

    def walk(parent: int, depth: int) -> None:
        for p in sorted(kids.get(parent, []), key=lambda d: d["pids"][-1]):
            rows.append({**p, "depth": depth, "inside": True})
            walk(p["host_pid"], depth + 1)

    walk(0, base)
    return rows


def namespace_figure(snap: dict, recorded: bool = False, max_inside: int = 8):
    """``snap``: :func:`boxkit.nsinfo.snapshot` (or the same keys made by hand)."""
    from matplotlib.patches import FancyBboxPatch, Rectangle

    snap = {**snap, "host": fold_host(snap["host"], snap.get("viewer_pid", os.getpid()))}
    rows = _tree_rows(snap)
    inside = [r for r in rows if r["inside"]][:max_inside]
    rows = [r for r in rows if not r["inside"]] + inside
    n = len(rows)
    height = max(5.2, 1.9 + 0.42 * n)
    fig = new_figure(figsize=(12, height), dpi=100)
    ax = fig.add_axes((0, 0, 1, 1))
    ax.set_xlim(0, 120)
    top = 10 * height
    ax.set_ylim(0, top)
    ax.axis("off")
    title = badge(_("A container is a subtree of the host's processes, in namespaces of its own"), recorded)
    ax.text(60, top - 3, title, ha="center", va="center", fontsize=13, weight="bold")

    # left: the host's process tree, one row per process, indented by depth
    ax.text(2, top - 8, _("host ({hostname}): PID as the host numbers it").format(
        hostname=snap.get("host_hostname", "host")),
            fontsize=10, weight="bold", va="center")
    ax.text(50, top - 8, _("PID inside"), fontsize=10, weight="bold", va="center", color=BOX_EC, ha="center")
    step = 4.2
    y0 = top - 13
    ys = {}
    for k, r in enumerate(rows):
        y = y0 - k * step
        x = 3 + 2.2 * r["depth"]
        ys[r["host_pid"]] = (x, y)
        ax.text(x, y, f"{r['host_pid']}", family="monospace", fontsize=9.5, va="center", ha="left",
                weight="bold" if r["inside"] else "normal", gid=f"hostpid:{r['host_pid']}")
        ax.text(x + 6.5, y, r["comm"], fontsize=9, va="center", color="#333")
        parent = ys.get(r.get("ppid")) if k else None
        if parent is None and k:
            parent = ys.get(rows[k - 1]["host_pid"]) if not r["inside"] else None
        if parent:
            ax.plot([parent[0] + 0.6, parent[0] + 0.6, x - 0.3], [parent[1] - 1.2, y, y], color="#999", lw=0.8)
        if r["inside"]:
            # the same process, numbered again by the container's PID namespace
            ax.annotate("", xy=(48, y), xytext=(x + 6.5 + 1.1 * len(r["comm"]), y),
                        arrowprops={"arrowstyle": "<->", "color": BOX_EC, "lw": 1, "ls": ":"})
            ax.text(50, y, f"{r['pids'][-1]}", family="monospace", fontsize=10, va="center", ha="center",
                    color=BOX_EC, weight="bold", gid=f"innerpid:{r['pids'][-1]}")
    if inside:
        yt = ys[inside[0]["host_pid"]][1] + 2.1
        yb = ys[inside[-1]["host_pid"]][1] - 4.5   # room for the box's caption under the last row
        xl = ys[inside[0]["host_pid"]][0] - 1.2
        ax.add_patch(FancyBboxPatch((xl, yb), 56 - xl, yt - yb, boxstyle="round,pad=0.3", fc=BOX_FC,
                                    ec=BOX_EC, lw=2, zorder=0, gid="container-box"))
        ax.text(55, yb + 1.1, _("container ({hostname}): its own PID namespace").format(
            hostname=snap.get("hostname") or "container"),
                fontsize=8.5, color=BOX_EC, ha="right", va="center", style="italic")
    more = len([r for r in _tree_rows(snap) if r["inside"]]) - len(inside)
    if more > 0:
        ax.text(3, y0 - n * step, ngettext("… and {n} more in the container", "… and {n} more in the container",
                                           more).format(n=more), fontsize=8.5, color="#555")

    # right: every namespace inode, host beside container
    x0 = 62
    # i18n: a monospace header over three columns: keep "namespace" at character 0, the host's inode
    # i18n: at character 12 and the container's at character 27 (pad with spaces)
    ax.text(x0, top - 8, _("namespace   host inode     container inode"), family="monospace", fontsize=9.5,
            weight="bold", va="center")
    # i18n: a namespace of the container's own / one it shares with the host
    said = {True: _("own"), False: _("shared")}
    for k, r in enumerate(snap["rows"]):
        own = r["host"] != r["container"]
        y = top - 13 - k * step
        colour = OWN if own else SHARED
        ax.add_patch(Rectangle((x0 - 1, y - 1.8), 56, 3.6, fc="#eef7f0" if own else "#f6f6f6", ec="none"))
        ax.text(x0, y, f"{r['type']:<8}", family="monospace", fontsize=9.5, va="center", color="#222")
        ax.text(x0 + 12, y, f"{r['host']}", family="monospace", fontsize=9.5, va="center", color="#222")
        ax.text(x0 + 27, y, f"{r['container']}", family="monospace", fontsize=9.5, va="center", color=colour,
                weight="bold" if own else "normal")
        ax.text(x0 + 44, y, said[own], fontsize=9.5, va="center", color=colour,
                weight="bold" if own else "normal")
    yk = top - 13 - len(snap["rows"]) * step
    ax.text(x0, yk, _("own: a different inode than the host's (/proc/PID/ns/*); shared: the same namespace"),
            fontsize=8.5, color="#444", va="center")
    ax.text(x0, yk - 3, _("left: the host sees the whole tree; the container sees only its box, from 1"),
            fontsize=8.5, color="#444", va="center")
    return fig


def idmap_figure(lines: list[tuple[int, int, int]], kind: str = "uid", overflow: int = 65534,
                 unmapped_example: int | None = 0, recorded: bool = False):
    """``lines``: the ``(inside, outside, count)`` rows of ``/proc/PID/{kind}_map``. Each range is a
    bar on the inside axis (top) and on the host's axis (bottom), joined by a band; the overflow id
    is marked inside, with ``unmapped_example`` (a host id outside every range) pointing to it."""
    from matplotlib.patches import Polygon, Rectangle

    fig = new_figure(figsize=(11, 3.4), dpi=100)
    ax = fig.add_axes((0.06, 0.18, 0.9, 0.62))
    hi = max([o + c for _i, o, c in lines] + [i + c for i, _o, c in lines] + [overflow + 1])
    xmax = hi * 1.04
    ax.set_xlim(0, xmax)
    ax.set_ylim(0, 10)
    # i18n: {kind} is uid or gid
    ax.set_yticks([2, 8], [_("host {kind}s").format(kind=kind), _("{kind}s inside").format(kind=kind)])
    ax.set_xlabel(f"{kind}")
    for s in ("top", "right", "left"):
        ax.spines[s].set_visible(False)
    ax.axhline(2, color="#bbb", lw=0.8, zorder=0)
    ax.axhline(8, color="#bbb", lw=0.8, zorder=0)
    for i, o, c in lines:
        ax.add_patch(Rectangle((i, 7.2), c, 1.6, fc="#7fb3d5", ec="#1f6fb2", gid=f"inside:{i}:{c}"))
        ax.add_patch(Rectangle((o, 1.2), c, 1.6, fc="#f0b27a", ec="#b9770e", gid=f"outside:{o}:{c}"))
        ax.add_patch(Polygon([(i, 7.2), (i + c, 7.2), (o + c, 2.8), (o, 2.8)], closed=True, fc="#ddd",
                             ec="none", alpha=0.6, zorder=0))
        ax.text(i + c / 2, 9.4, f"{i} – {i + c - 1}", ha="center", fontsize=9, color="#1f6fb2")
        ax.text(o + c / 2, 0.2, f"{o} – {o + c - 1}", ha="center", fontsize=9, color="#b9770e")
        ax.text((i + o + c) / 2, 4.3, _("{kind}_map line: {inside} {outside} {count}").format(
            kind=kind, inside=i, outside=o, count=c), ha="center", va="center", fontsize=9,
                family="monospace")
    mapped = [o + overflow - i for i, o, c in lines if i <= overflow < i + c]
    ax.plot([overflow], [8], marker="v", color="#c0392b", ms=9, zorder=5)
    ax.text(overflow, 6.3, _("{overflow} (nobody): what an\nunmapped host {kind} shows as").format(
        overflow=overflow, kind=kind),
            ha="right", fontsize=8.5, color="#c0392b", va="center")
    if unmapped_example is not None and not any(o <= unmapped_example < o + c for _i, o, c in lines):
        ax.plot([unmapped_example], [2], marker="^", color="#c0392b", ms=9, zorder=5)
        ax.annotate(_("host {kind} {id}: in no range").format(kind=kind, id=unmapped_example),
                    xy=(unmapped_example, 2.1),
                    xytext=(unmapped_example + hi * 0.02, 4), fontsize=8.5, color="#c0392b",
                    arrowprops={"arrowstyle": "->", "color": "#c0392b"})
    title = badge(_("A user namespace's {kind} map").format(kind=kind), recorded)
    if mapped:
        # i18n: {title} is "A user namespace's uid map", with its RECORDED badge if it has one
        title = _("{title}; {overflow} inside is also host {kind} {id}").format(
            title=title, overflow=overflow, kind=kind, id=mapped[0])
    fig.suptitle(title, fontsize=12, weight="bold", y=0.97)
    return fig
