"""The two drivers, v1 and v2, as one loop over the controller modules.

Each controller is a module that knows its own files on both versions — :mod:`.memory`, :mod:`.cpu`,
:mod:`.pids`, :mod:`.cpuset`, :mod:`.devices` (v1 only), :mod:`.io` — with the same five names:
``V1_HIERARCHIES`` (the v1 trees it needs), ``V2_CONTROLLER`` (the name to switch on in
``cgroup.subtree_control``), ``FILES`` (rows of *what, v1 file, v2 file*), and ``v1_apply`` /
``v1_stats`` / ``v2_apply`` / ``v2_stats``. The drivers below only call them in turn:

* :class:`V1` gets the group's directory in *each* hierarchy (``{"memory": ".../memory/boxkit/ID",
  "cpu": ".../cpu/boxkit/ID", ...}``): v1 has one tree per controller.
* :class:`V2` gets the group's *one* directory: v2 has a single tree whose files carry the
  controller's name as a prefix.

Stats come back as one dict in one vocabulary on both versions (``memory_current``, ``oom_kills``,
``cpu_usage_usec``, ``pids_current``, ...), which :class:`boxkit.cgroups.Stats` holds.
:data:`FILE_MAP` — every module's ``FILES`` in order — is the table the cgroups notebook prints with
the host's column highlighted: the course's v1 ↔ v2 mapping comes from the drivers themselves.
"""

from __future__ import annotations

from . import cpu, cpuset, devices, io, memory, pids
from .cpu import PERIOD_US, shares_to_weight
from .devices import RULES as DEVICE_RULES
from .files import read, read_int, read_kv, write
from .memory import V1_UNLIMITED

CONTROLLERS = (memory, cpu, pids, cpuset, io, devices)

FILE_MAP: list[tuple[str, str, str]] = [row for c in CONTROLLERS for row in c.FILES] + [
    ("pressure (PSI)", "— (none)", "memory.pressure, cpu.pressure, io.pressure"),
]

__all__ = ["CONTROLLERS", "DEVICE_RULES", "FILE_MAP", "PERIOD_US", "V1", "V1_UNLIMITED", "V2", "read",
           "read_int", "read_kv", "shares_to_weight", "v1_hierarchies", "v2_controllers", "write"]


def v1_hierarchies(lim) -> list[str]:
    """The v1 trees a container's group spans: cpuset only when a cpuset is asked for."""
    out = []
    for c in CONTROLLERS:
        if c is cpuset and not cpuset.wanted(lim):
            continue
        out += c.V1_HIERARCHIES
    return out


def v2_controllers(lim) -> list[str]:
    """The v2 controllers to switch on for boxkit's subtree."""
    return [c.V2_CONTROLLER for c in CONTROLLERS
            if c.V2_CONTROLLER and not (c is cpuset and not cpuset.wanted(lim))]


class V1:
    """Limits and stats on v1, given the group's directory in each hierarchy."""

    @staticmethod
    def apply(dirs: dict[str, str], lim) -> None:
        for c in CONTROLLERS:
            c.v1_apply(dirs, lim)

    @staticmethod
    def stats(dirs: dict[str, str]) -> dict:
        s: dict = {}
        for c in CONTROLLERS:
            c.v1_stats(dirs, s)
        s.setdefault("psi", None)   # v1 has no pressure files
        return s


class V2:
    """Limits and stats on v2, given the group's one directory."""

    @staticmethod
    def apply(d: str, lim) -> None:
        for c in CONTROLLERS:
            c.v2_apply(d, lim)

    @staticmethod
    def stats(d: str) -> dict:
        s: dict = {}
        for c in CONTROLLERS:
            c.v2_stats(d, s)
        s.setdefault("psi", None)
        return s
