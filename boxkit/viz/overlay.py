"""The by-hand overlay as a picture: lower, upper, work and merged, path by path.

Drawn from :func:`boxkit.images.upper.scan_overlay` of a mounted overlay. Each path is a column; the
rows are the overlay's directories from the bottom up, as the kernel resolves a name: it looks in the
**upper** dir first and falls through to **lower** only where upper has nothing. So a column says it
all: a file in upper hides the lower one (a *copy-up* when both exist); a **whiteout** (a character
device 0/0 in upper) hides a lower file, and the merged row is empty above it; an **opaque** dir
(``trusted.overlay.opaque=y``) hides everything below it, so the lower files under it are missing from
merged too. **work** is beside the stack: scratch space on the upper's file system where each copy-up
is prepared, then renamed into upper in one step (so a crash never leaves half a file).
"""

from __future__ import annotations

from . import new_figure

ROWS = ("lower", "upper", "merged")
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


def overlay_figure(scan: dict[str, dict[str, str]], title: str = "", recorded: bool = False):
    """``scan``: ``{"lower"|"upper"|"work"|"merged": {path: kind}}``."""
    from matplotlib.patches import FancyBboxPatch, Rectangle

    paths = sorted(set().union(*(scan.get(r, {}) for r in ROWS)), key=lambda p: (p.split("/")[0], p))
    n = max(1, len(paths))
    cw = 2.0   # one column per path
    width = 3.2 + n * cw + 3.4
    fig = new_figure(figsize=(max(9.0, width * 0.78), 5.0), dpi=100)
    ax = fig.add_axes((0, 0, 1, 1))
    ax.set_xlim(0, width)
    ax.set_ylim(0, 10)
    ax.axis("off")
    t = title or "An overlay by hand: the kernel looks in upper first, then in lower"
    ax.text(width / 2, 9.5, t + (" (RECORDED)" if recorded else ""), ha="center", fontsize=12, weight="bold")
    ys = {"merged": 6.9, "upper": 4.5, "lower": 2.1}
    notes = {"merged": "merged  (what the\ncontainer sees as /)", "upper": "upper  (writable:\nevery change)",
             "lower": "lower  (read-only)"}
    for row in ROWS:
        y = ys[row]
        ax.add_patch(Rectangle((0.1, y - 0.15), 3.0 + n * cw, 1.6, fc="#f7f7f7", ec="#ccc", zorder=0))
        ax.text(0.25, y + 0.65, notes[row], fontsize=9, va="center", weight="bold")
    upper = scan.get("upper", {})
    for k, p in enumerate(paths):
        x = 3.2 + k * cw
        for row in ROWS:
            kind = scan.get(row, {}).get(p)
            if kind is None:
                continue
            y = ys[row]
            ax.add_patch(FancyBboxPatch((x, y), cw - 0.2, 1.3, boxstyle="round,pad=0.03", fc=FC[kind],
                                        ec="#c0392b" if kind in ("whiteout", "opaque") else "#555",
                                        lw=2 if kind in ("whiteout", "opaque") else 1,
                                        hatch="//" if kind == "opaque" else None, gid=f"{row}:{p}:{kind}"))
            name = p.rsplit("/", 1)[-1] + ("/" if kind in ("dir", "opaque") else "")
            ax.text(x + cw / 2 - 0.1, y + 0.85, name, ha="center", va="center", fontsize=8.5,
                    family="monospace", color="white" if kind == "whiteout" else "#111")
            sub = {"whiteout": "whiteout\nchar dev 0/0", "opaque": "opaque\n(xattr =y)"}.get(kind, "")
            if row == "lower" and p in scan.get("lower", {}) and p not in scan.get("merged", {}):
                sub = f"hidden by\n{_hidden(p, upper) or 'upper'}"
            elif row == "upper" and kind == "file" and p in scan.get("lower", {}):
                sub = "copy-up"
            elif row == "upper" and kind == "file":
                sub = "new"
            if sub:
                ax.text(x + cw / 2 - 0.1, y + 0.32, sub, ha="center", va="center", fontsize=6.8,
                        color="white" if kind == "whiteout" else "#c0392b", linespacing=0.95,
                        bbox={"fc": "white", "ec": "none", "pad": 0.6} if kind == "opaque" else None)
        ax.text(x + cw / 2 - 0.1, 1.5, p, ha="center", va="center", fontsize=7, color="#555", rotation=20,
                family="monospace")
    # work: beside the stack, on the upper's file system
    wx = 3.4 + n * cw
    work = scan.get("work", {})
    ax.add_patch(FancyBboxPatch((wx, 4.35), 2.9, 3.0, boxstyle="round,pad=0.05", fc="#fff7e6", ec="#b9770e",
                                gid="work"))
    ax.text(wx + 0.15, 7.0, "work", fontsize=9, weight="bold", va="center")
    lines = [f"{p}{'/' if k in ('dir', 'opaque') else ''}" for p, k in sorted(work.items())][:5]
    ax.text(wx + 0.15, 6.5, "\n".join(lines) or "(empty)", fontsize=7.5, family="monospace", va="top")
    ax.text(wx + 0.15, 4.55, "copy-ups are made here,\nthen renamed into upper", fontsize=7, color="#555")
    ax.text(0.2, 0.4, "a column is one path; the kernel takes the highest entry: upper hides lower, a whiteout "
            "deletes, an opaque dir hides all below it", fontsize=8.5, color="#555")
    return fig
