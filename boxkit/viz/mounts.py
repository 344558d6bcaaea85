"""Mount propagation as a picture: mount trees side by side, peer groups joined across them.

Drawn from :func:`boxkit.nsinfo.mounts` of several mount namespaces (the host's, a copy made with
``unshare -m --propagation unchanged``, a boxkit container's). Each column is one namespace's tree of
mounts (a mount hangs below the mount it was made on). A mount is **shared** when its mountinfo line
has ``shared:N``: it belongs to peer group N, and every mount or unmount under one member is repeated
under every other. A new mount namespace starts as a copy of its parent's, and the copies of shared
mounts join the *same* peer groups: so a mount made in the container would appear on the host. That
is why a runtime's first mount call is ``mount(NULL, "/", NULL, MS_REC|MS_PRIVATE)``: after it the
container's mounts are in no group, and the lines between the columns are gone.
``master:N`` marks a slave (receives from group N, sends nothing back): what the copies of shared
mounts become when the new mount namespace belongs to a new user namespace (a *less privileged*
copy, mount_namespaces(7)), as in a rootless runtime.
"""

from __future__ import annotations

from ..i18n import N_, _, ngettext
from . import badge, new_figure

SHARED_FC, SLAVE_FC, PRIVATE_FC = "#82c99a", "#f7dc6f", "#e5e5e5"
#: what each kind of box is, in the figure's legend (the kinds the figure shows)
LEGEND = (("shared", N_("green: shared (the same shared:N are peers)")),
          ("slave", N_("yellow: slave (master:N receives from group N)")),
          ("private", N_("grey: private")))


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


def tag(m: dict) -> str:
    """A mount's propagation as mountinfo writes it: ``shared:N``, ``master:N`` (both, for a shared
    slave), or ``private``."""
    if m.get("shared") is not None:
        return f"shared:{m['shared']}" + (f" master:{m['master']}" if m.get("master") is not None else "")
    if m.get("master") is not None:
        return f"master:{m['master']}"
    return "private"


def _shown(target: str, demo: str | None) -> str:
    """The mount point as the figure writes it: under ``demo`` as ``demo/...``, else cut to 28 chars."""
    if demo and (target == demo or target.startswith(demo.rstrip("/") + "/")):
        return "demo" + target[len(demo.rstrip("/")):]
    return target if len(target) <= 28 else "…" + target[-27:]


def propagation_figure(trees: dict[str, list[dict]], title: str = "", max_rows: int = 18,
                       keep=None, recorded: bool = False, demo: str | None = None, per_row: int = 2):
    """``trees``: label → :func:`boxkit.nsinfo.mounts` rows, drawn ``per_row`` columns to a row of
    panels (two: readable at notebook width). ``keep(mount)`` may drop mounts that do not matter to the
    story (the panel says how many were left out). ``demo``: a directory whose mounts are written as
    ``demo/...`` (the caption gives its path), so long temporary paths are not cut.

    Green boxes are shared (``shared:N``; the same N in two panels are peers, joined by a green
    two-headed arrow: a mount under either appears under the other). Yellow boxes are slaves
    (``master:N``), joined to their master by a one-headed arrow: mounts flow to them, never back.
    The legend names only the kinds the figure shows."""
    from matplotlib.patches import FancyBboxPatch

    labels = list(trees)
    rows_by = {}
    for lab in labels:
        rows = _ordered(trees[lab])
        if keep is not None:
            rows = [(m, d) for m, d in rows if keep(m)]
        rows_by[lab] = rows
    per_row = max(1, min(per_row, len(labels)))
    bands = -(-len(labels) // per_row)
    nrows = min(max_rows, max(len(r) for r in rows_by.values()) or 1)
    colw, band_h, margin = 10.0, nrows + 2.2, 1.6
    fig = new_figure(figsize=(4.7 * per_row + 0.4, 1.5 + 0.36 * band_h * bands), dpi=100)
    ax = fig.add_axes((0, 0, 1, 1))
    ax.set_xlim(0, colw * per_row + margin)
    ax.set_ylim(-3.4 if demo else -2.7, band_h * bands + 1.4)
    ax.axis("off")
    t = badge(title or _("Mount propagation: what a new mount namespace shares with the host"), recorded)
    ax.text((colw * per_row + margin) / 2, band_h * bands + 0.8, t,
            ha="center", fontsize=min(11.5, 11.5 * 44 * per_row / max(len(t), 1)), weight="bold")
    shared_at: dict[int, list[tuple[int, int, float, float, float]]] = {}
    slaves: list[tuple[int, int, int, float, float]] = []
    kinds = set()
    for c, lab in enumerate(labels):
        band, col = divmod(c, per_row)
        x0 = margin + col * colw + 0.2
        top = band_h * (bands - band)
        rows = rows_by[lab]
        # the tree's key is an English phrase marked in nsinfo (N_): said here, in the learner's language
        ax.text(x0, top - 0.6, _(lab), fontsize=10, weight="bold")
        for r, (m, depth) in enumerate(rows[:nrows]):
            y = top - 1.6 - r
            x = x0 + 0.45 * min(depth, 6)
            kind = "shared" if m.get("shared") is not None else "slave" if m.get("master") is not None \
                else "private"
            kinds.add(kind)
            fc = {"shared": SHARED_FC, "slave": SLAVE_FC, "private": PRIVATE_FC}[kind]
            right = x0 + colw - 0.9
            ax.add_patch(FancyBboxPatch((x, y - 0.36), right - x, 0.72, boxstyle="round,pad=0.02",
                                        fc=fc, ec="#777", lw=0.6, gid=f"{lab}:{m['id']}:{tag(m)}"))
            ax.text(x + 0.15, y, _shown(m["target"], demo), fontsize=8.5, family="monospace", va="center")
            ax.text(right - 0.1, y, tag(m), fontsize=8.5, family="monospace", va="center", ha="right",
                    weight="normal" if kind == "private" else "bold")
            if m.get("shared") is not None:
                shared_at.setdefault(m["shared"], []).append((band, col, x, right, y))
            elif m.get("master") is not None:
                slaves.append((m["master"], band, col, x, y))
        if len(rows) > nrows:
            more = len(rows) - nrows
            ax.text(x0, top - 1.6 - nrows, ngettext("… {n} more mounts", "… {n} more mounts", more).format(n=more),
                    fontsize=8, color="#555")
    green, amber = "#1a7f37", "#b7950b"
    joined = 0
    for group, spots in shared_at.items():
        spots.sort()
        for (b1, c1, _x1, r1, y1), (b2, c2, x2, _r2, y2) in zip(spots, spots[1:], strict=False):
            if (b1, c1) != (b2, c2) and b1 == b2:
                ax.annotate("", xy=(x2 - 0.05, y2), xytext=(r1 + 0.05, y1), gid=f"peer:{group}",
                            arrowprops={"arrowstyle": "<->", "color": green, "lw": 1.3})
                joined += 1
    flows = 0
    for group, band, col, x, y in slaves:
        src = next((s for s in shared_at.get(group, []) if (s[0], s[1]) != (band, col)), None)
        if src is None:
            continue
        b1, c1, x1, r1, y1 = src
        if b1 == band:
            start, end, style = (r1 + 0.05, y1), (x - 0.05, y), "arc3"
        else:   # a panel below: the arrow runs down the left margin, left of the panels' titles
            start, end = (x1 - 0.05, y1), (x - 0.05, y)
            lane = margin + col * colw - 0.25 - 0.3 * flows      # one lane per arrow, never shared
            pt = 4.7 * 72 / colw                                  # points per data unit
            style = (f"arc,angleA=180,angleB=180,armA={(x1 - lane) * pt:.0f},"
                     f"armB={(x - lane) * pt:.0f},rad=6")
        ax.annotate("", xy=end, xytext=start, gid=f"slave:{group}",
                    arrowprops={"arrowstyle": "->", "color": amber, "lw": 1.3, "connectionstyle": style})
        flows += 1
    legend = [_(name) for kind, name in LEGEND if kind in kinds]
    ax.text(0.4, -0.7, "; ".join(legend), fontsize=8.5, color="#333", gid="legend")
    ax.text(0.4, -1.45, _("{joined} peer link(s) (<->: a mount under either end appears under the other); "
                          "{flows} slave link(s) (->: mounts flow one way only)").format(joined=joined, flows=flows),
            fontsize=8.5, color="#333", gid="links")
    ax.text(0.4, -2.2, _("a runtime makes / private (MS_REC|MS_PRIVATE) first, so its container's mounts "
                         "never reach the host"), fontsize=8.5, color="#333")
    if demo:
        # i18n: "demo" is how the figure writes the directory's path (demo/...): keep it
        ax.text(0.4, -2.95, _("demo = {demo}, a tmpfs made shared on the host").format(demo=demo), fontsize=8.5,
                color="#333")
    return fig
