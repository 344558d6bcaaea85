"""The pids controller: how many processes and threads the group may hold at once.

Each ``fork()``/``clone()`` in the group is charged one; past ``pids.max`` the kernel refuses it with
EAGAIN ("Resource temporarily unavailable", busybox's "can't fork") — the caller sees an error, nothing
is killed. That is all a fork bomb needs: it stops at the limit while the host's process table, and
every other group, stays untouched. Same file names on v1 (``/sys/fs/cgroup/pids/...``) and v2.

The value is :attr:`~boxkit.cgroups.resources.Resources.pids` (OCI's ``linux.resources.pids.limit``):
above zero a limit; -1 or 0 mean none (``max``), as runc reads them.
"""

from __future__ import annotations

from .files import read_int, write

V1_HIERARCHIES = ("pids",)
V2_CONTROLLER = "pids"

FILES = [
    ("process limit", "pids/pids.max", "pids.max"),
    ("processes", "pids/pids.current", "pids.current"),
]


def v1_apply(dirs: dict[str, str], res) -> None:
    if "pids" in dirs:
        v2_apply(dirs["pids"], res)


def v1_stats(dirs: dict[str, str], s: dict) -> None:
    if "pids" in dirs:
        v2_stats(dirs["pids"], s)


def v2_apply(d: str, res) -> None:
    if res.pids is not None:
        write(f"{d}/pids.max", res.pids if res.pids > 0 else "max")


def v2_stats(d: str, s: dict) -> None:
    s["pids_current"] = read_int(f"{d}/pids.current")
    s["pids_max"] = read_int(f"{d}/pids.max")
