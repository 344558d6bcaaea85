"""The two drivers, v1 and v2, as one loop over the controller modules.

Each controller is a module that knows its own files on both versions — :mod:`.memory`, :mod:`.cpu`,
:mod:`.pids`, :mod:`.cpuset`, :mod:`.io`, :mod:`.devices` (v1 only), :mod:`.hugetlb`, :mod:`.network`
(net_cls and net_prio, v1 only) — with the same five names: ``V1_HIERARCHIES`` (the v1 trees it needs),
``V2_CONTROLLER`` (the name to switch on in ``cgroup.subtree_control``), ``FILES`` (rows of *what, v1
file, v2 file*), ``v1_apply`` / ``v2_apply`` (write the fields the module owns) and ``v1_stats`` /
``v2_stats`` (read its counters). A module whose controller is used only on request (cpuset, hugetlb,
network) also has ``wanted(res)``. The drivers below only call them in turn:

* :class:`V1` gets the group's directory in *each* hierarchy (``{"memory": ".../memory/boxkit/ID",
  "cpu": ".../cpu/boxkit/ID", ...}``): v1 has one tree per controller.
* :class:`V2` gets the group's *one* directory: v2 has a single tree whose files carry the
  controller's name as a prefix.

What they apply is a :class:`~boxkit.cgroups.resources.Resources`, the OCI resources typed, whichever
front asked (a :class:`~boxkit.spec.Limits` is translated first: :func:`.resources.of`). A module whose
directory the group lacks (the host does not mount that hierarchy) writes nothing; ``boxkit-runtime``
has refused a bundle asking for such a limit before any group was made (:mod:`boxkit.oci.resources`).
Every write goes through :func:`.files.write`: one ``write(2)`` to a file that exists.

Stats come back as one dict in one vocabulary on both versions (``memory_current``, ``oom_kills``,
``cpu_usage_usec``, ``pids_current``, ...), which :class:`boxkit.cgroups.Stats` holds.
:data:`FILE_MAP` — the ``FILES`` of the course's six controllers, in order — is the table the cgroups
notebook prints with the host's column highlighted: the course's v1 ↔ v2 mapping comes from the drivers
themselves.
"""

from __future__ import annotations

from . import cpu, cpuset, devices, hugetlb, io, memory, network, pids
from .cpu import PERIOD_US, shares_to_weight
from .devices import RULES as DEVICE_RULES
from .files import read, read_int, read_kv, write
from .memory import V1_UNLIMITED
from .resources import of

COURSE = (memory, cpu, pids, cpuset, io, devices)   # the ones the course shows (FILE_MAP)
CONTROLLERS = COURSE + (hugetlb, network)
ON_REQUEST = (cpuset, hugetlb, network)              # no v1 limit, no v2 controller unless wanted()

FILE_MAP: list[tuple[str, str, str]] = [row for c in COURSE for row in c.FILES] + [
    ("pressure (PSI)", "— (none)", "memory.pressure, cpu.pressure, io.pressure"),
]

__all__ = ["CONTROLLERS", "DEVICE_RULES", "FILE_MAP", "PERIOD_US", "V1", "V1_UNLIMITED", "V2", "read",
           "read_int", "read_kv", "shares_to_weight", "v1_hierarchies", "v2_controllers", "write"]


def _used(c, res) -> bool:
    return c not in ON_REQUEST or c.wanted(res)


def v1_hierarchies(limits) -> list[str]:
    """The v1 trees whose limits a container uses: cpuset, hugetlb, net_cls/net_prio only when asked for."""
    res = of(limits)
    return [h for c in CONTROLLERS if _used(c, res) for h in c.V1_HIERARCHIES]


def v2_controllers(limits) -> list[str]:
    """The v2 controllers to switch on for boxkit's subtree."""
    res = of(limits)
    return [c.V2_CONTROLLER for c in CONTROLLERS if c.V2_CONTROLLER and _used(c, res)]


class V1:
    """Limits and stats on v1, given the group's directory in each hierarchy."""

    @staticmethod
    def apply(dirs: dict[str, str], limits) -> None:
        res = of(limits)
        for c in CONTROLLERS:
            c.v1_apply(dirs, res)

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
    def apply(d: str, limits) -> None:
        res = of(limits)
        for c in CONTROLLERS:
            c.v2_apply(d, res)

    @staticmethod
    def stats(d: str) -> dict:
        s: dict = {}
        for c in CONTROLLERS:
            c.v2_stats(d, s)
        s.setdefault("psi", None)
        return s
