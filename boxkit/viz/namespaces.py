"""The namespace figure: one container's processes seen from inside and from the host.

Drawn from :func:`boxkit.nsinfo.snapshot` of a real container: the container's processes carry two
PIDs (the host's and their own, where the first is 1), and the namespace table says which namespaces
are the container's own (a different inode) and which it shares with the host.
"""

from __future__ import annotations


def namespace_figure(snap: dict, recorded: bool = False):
    from matplotlib.patches import FancyBboxPatch

    from . import new_figure

    fig = new_figure(figsize=(10, 5.6), dpi=100)
    ax = fig.add_axes((0, 0, 1, 1))
    ax.set_xlim(0, 100)
    ax.set_ylim(0, 60)
    ax.axis("off")
    title = "A container is a process in its own namespaces"
    if recorded:
        title += " (RECORDED)"
    ax.text(50, 57.5, title, ha="center", va="center", fontsize=14, weight="bold")

    # the host: the whole kernel
    ax.add_patch(FancyBboxPatch((2, 2), 96, 52, boxstyle="round,pad=0.4", fc="#f4f6f8", ec="#555"))
    ax.text(4, 51.5, f"host  ({snap.get('host_hostname', 'host')})  — one Linux kernel", fontsize=11,
            weight="bold", va="center")
    y = 46
    for p in snap["host"]:
        ax.text(5, y, f"PID {p['host_pid']:>6}  {p['comm']}", family="monospace", fontsize=9.5, va="center")
        y -= 3.2
    ax.text(5, y, "…every other host process", fontsize=9, color="#666", va="center", style="italic")

    # the container: a namespace boundary inside the same kernel
    cx, cy, cw, ch = 36, 6, 60, 43
    ax.add_patch(FancyBboxPatch((cx, cy), cw, ch, boxstyle="round,pad=0.4", fc="#e8f1fb", ec="#1f6fb2", lw=2))
    name = snap.get("hostname") or "container"
    ax.text(cx + 2, cy + ch - 2.5, f"container  ({name})", fontsize=11, weight="bold", color="#1f6fb2",
            va="center")
    ax.text(cx + 2, cy + ch - 6.5, "PID inside   PID on host   command", family="monospace", fontsize=9,
            color="#333", va="center")
    y = cy + ch - 10
    for p in snap["container"][:6]:
        ax.text(cx + 2, y, f"{p['pids'][-1]:>10}   {p['host_pid']:>11}   {p['comm']}", family="monospace",
                fontsize=9.5, va="center", weight="bold" if p["pids"][-1] == 1 else "normal")
        y -= 3.2
    # namespace table
    y = cy + 17
    ax.text(cx + 2, y + 3.5, "namespace          inode in the container", family="monospace", fontsize=9,
            color="#333", va="center")
    for i, r in enumerate(snap["rows"]):
        col, row = i // 4, i % 4
        own = r["host"] != r["container"]
        x = cx + 2 + col * 29
        yy = y - row * 3.4
        mark = "own" if own else "shared"
        ax.text(x, yy, f"{r['type']:<6} {mark:<6}", family="monospace", fontsize=9, va="center",
                color="#1a7f37" if own else "#888", weight="bold" if own else "normal")
        ax.text(x + 12, yy, f"{r['container']}", family="monospace", fontsize=8, va="center",
                color="#1a7f37" if own else "#888")
    ax.text(cx + 2, cy + 1.5, "own = a different inode than the host process beside it (/proc/PID/ns/*)",
            fontsize=8, color="#555", va="center")
    return fig
