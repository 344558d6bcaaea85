"""The pids controller: how many processes and threads the group may hold at once.

Each ``fork()``/``clone()`` in the group is charged one; past ``pids.max`` the kernel refuses it with
EAGAIN ("Resource temporarily unavailable", busybox's "can't fork") — the caller sees an error, nothing
is killed. That is all a fork bomb needs: it stops at the limit while the host's process table, and
every other group, stays untouched. Same file names on v1 (``/sys/fs/cgroup/pids/...``) and v2.
"""

from __future__ import annotations

from .files import read_int, write

V1_HIERARCHIES = ("pids",)
V2_CONTROLLER = "pids"

FILES = [
    ("process limit", "pids/pids.max", "pids.max"),
    ("processes", "pids/pids.current", "pids.current"),
]


def v1_apply(dirs: dict[str, str], lim) -> None:
    if "pids" in dirs and lim.pids is not None:
        write(f"{dirs['pids']}/pids.max", lim.pids)


def v1_stats(dirs: dict[str, str], s: dict) -> None:
    if "pids" in dirs:
        v2_stats(dirs["pids"], s)


def v2_apply(d: str, lim) -> None:
    if lim.pids is not None:
        write(f"{d}/pids.max", lim.pids)


def v2_stats(d: str, s: dict) -> None:
    s["pids_current"] = read_int(f"{d}/pids.current")
    s["pids_max"] = read_int(f"{d}/pids.max")
