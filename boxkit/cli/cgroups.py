"""``boxkit stats``: what running containers use right now, read from their cgroup files.

Like ``docker stats``: one row per running container, refreshed every second until Ctrl-C
(``--no-stream`` prints one table and exits). Nothing is asked of the container or its supervisor:
the numbers are the kernel's own counters in ``/sys/fs/cgroup/.../boxkit/<id>``, which any root
process may read. CPU % needs two readings of the CPU time used (a counter in microseconds), so the
first table appears after one interval: 100 % is one full core, as in docker.
"""

from __future__ import annotations

import argparse
import json
import sys
import time

from ..errors import NotFoundError, SpecError
from ..i18n import N_


def register(subparsers) -> None:
    p = subparsers.add_parser("stats", help="live resource use of running containers (cgroup counters)",
                              description="Show memory, CPU, pids and OOM kills of running containers, "
                                          "read from their cgroups (docker stats).")
    p.add_argument("containers", nargs="*", metavar="CONTAINER", help="ids (or a prefix) or names; default: all")
    p.add_argument("--no-stream", action="store_true", help="print one table and exit")
    p.add_argument("--json", action="store_true", help="print one JSON list and exit (implies --no-stream)")
    p.add_argument("--interval", type=float, default=1.0, help="seconds between tables (default 1)")
    p.set_defaults(func=cmd_stats)


def running() -> list[dict]:
    """state.json of every running container of this BOXKIT_ROOT, oldest id first."""
    # lazy: boxkit.cli loads no runtime module, so --help and the other verbs stay light
    from ..runtime import state

    out = []
    for cid in state.list_ids():
        st = state.read(cid)
        if st and state.owner_alive(st) and state.alive(st["pid"], st.get("starttime")):
            out.append(dict(st, id=cid))
    return out


def select(rows: list[dict], wanted: list[str]) -> list[dict]:
    """Match each wanted word to exactly one container by name, id or unique id prefix."""
    chosen = []
    for w in wanted:
        hits = [r for r in rows if r.get("name") == w or r["id"] == w] or [r for r in rows if r["id"].startswith(w)]
        if not hits:
            raise NotFoundError(N_("container"), w, hint=N_("boxkit ps lists running containers"))
        if len(hits) > 1:
            raise SpecError(N_("container"), w, N_("the id prefix matches more than one container"))
        chosen.append(hits[0])
    return chosen


def _size(n: int | None) -> str:
    if n is None:
        return "-"
    for unit, shift in (("GiB", 30), ("MiB", 20), ("KiB", 10)):
        if n >= 1 << shift:
            return f"{n / (1 << shift):.1f}{unit}"
    return f"{n}B"


def snapshot(rows: list[dict], interval: float) -> list[dict]:
    """Two readings ``interval`` seconds apart; one dict per container still running."""
    # lazy: boxkit.cgroups costs ~10 ms; only the cgroups verb reads it
    from ..cgroups import open_group

    groups = {r["id"]: open_group(r["id"]) for r in rows}
    first = {cid: (time.monotonic(), g.stats()) for cid, g in groups.items() if g is not None}
    time.sleep(interval)
    out = []
    for r in rows:
        g = groups.get(r["id"])
        if g is None or r["id"] not in first:
            continue
        t0, a = first[r["id"]]
        b = g.stats()
        if b.memory_current is None and b.cpu_usage_usec is None and b.pids_current is None:
            continue   # ended between the readings: its group is gone
        dt = time.monotonic() - t0
        cpu = None
        if a.cpu_usage_usec is not None and b.cpu_usage_usec is not None and dt > 0:
            cpu = 100.0 * (b.cpu_usage_usec - a.cpu_usage_usec) / 1e6 / dt
        out.append({"id": r["id"], "name": r.get("name") or "", "cpu_percent": cpu,
                    "memory_current": b.memory_in_use, "memory_limit": b.memory_limit,
                    "memory_peak": b.memory_peak, "pids_current": b.pids_current, "pids_max": b.pids_max,
                    "nr_throttled": b.nr_throttled, "oom_kills": b.oom_kills, "psi": b.psi})
    return out


def table(stats: list[dict]) -> str:
    head = ("CONTAINER ID", "NAME", "CPU %", "MEM USAGE / LIMIT", "MEM %", "PEAK", "PIDS", "THROTTLED", "OOM")
    lines = []
    for s in stats:
        lim = s["memory_limit"]
        mem_pct = f"{100 * s['memory_current'] / lim:.1f}%" if lim and s["memory_current"] is not None else "-"
        pids = "-" if s["pids_current"] is None else str(s["pids_current"]) + (
            f"/{s['pids_max']}" if s["pids_max"] is not None else "")
        lines.append((s["id"], s["name"], "-" if s["cpu_percent"] is None else f"{s['cpu_percent']:.1f}%",
                      f"{_size(s['memory_current'])} / {_size(lim) if lim else 'no limit'}", mem_pct,
                      _size(s["memory_peak"]), pids, str(s["nr_throttled"]), str(s["oom_kills"])))
    widths = [max(len(h), *(len(row[i]) for row in lines)) for i, h in enumerate(head)]
    return "\n".join("  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)).rstrip()
                     for row in [head, *lines])


def cmd_stats(a: argparse.Namespace) -> int:
    if a.interval <= 0:
        raise SpecError(N_("interval"), a.interval, N_("must be a positive number of seconds"))
    rows = running()
    ids = [r["id"] for r in select(rows, a.containers)] if a.containers else None
    once = a.no_stream or a.json
    tty = sys.stdout.isatty() and not once
    while True:
        now = [r for r in (running() if not once else rows) if ids is None or r["id"] in ids]
        stats = snapshot(now, min(a.interval, 1.0) if once else a.interval)
        if a.json:
            print(json.dumps(stats))
            return 0
        if tty:
            sys.stdout.write("\033[H\033[2J")   # home + clear, as docker stats redraws
        print(table(stats), flush=True)
        if once:
            return 0
        if ids is not None and not stats:
            return 0   # every container asked for has ended
