"""The cpuset controller: which CPUs (and memory nodes) the group's processes may run on.

``cpuset.cpus`` is a list such as ``0`` or ``0-2,5``; the scheduler never places the group's threads
elsewhere. The course pins two containers to one CPU to make weights visible (they only matter when a
CPU is contended). Limited only when a cpuset is asked for (``--cpuset-cpus``); on v1 every container
still gets a cpuset group of its own, holding its parent's CPUs, so that it never sits at the
hierarchy's root (see :mod:`boxkit.cgroups`, "Why every hierarchy"). On v2 the controller is switched
on only when asked for.

A v1 quirk: a new cpuset group starts with *empty* ``cpuset.cpus`` and ``cpuset.mems`` and refuses
processes (ENOSPC) until both are filled, so boxkit copies its parent's values first
(:func:`v1_prepare`), for boxkit's own base directory too. v2 groups inherit their parent's set.

The values are the ``cpus`` and ``mems`` of the OCI resources' ``cpu`` section
(:class:`boxkit.cgroups.cpu.CPU`); ``cpuset.mems`` lists NUMA memory nodes the same way.
"""

from __future__ import annotations

import os

from .files import read, write

V1_HIERARCHIES = ("cpuset",)
V2_CONTROLLER = "cpuset"

FILES = [
    ("CPUs allowed", "cpuset/cpuset.cpus", "cpuset.cpus"),
]


def wanted(res) -> bool:
    """Asked for at all? (Otherwise no v2 controller to switch on, and no v1 limit to write.)"""
    return res.cpu is not None and (res.cpu.cpus is not None or res.cpu.mems is not None)


def v1_prepare(d: str) -> None:
    """Fill a fresh v1 cpuset group's cpus and mems from its parent's."""
    parent = os.path.dirname(d)
    for f in ("cpuset.cpus", "cpuset.mems"):
        write(os.path.join(d, f), read(os.path.join(parent, f)).strip())


def v1_apply(dirs: dict[str, str], res) -> None:
    if "cpuset" in dirs:
        v2_apply(dirs["cpuset"], res)


def v1_stats(dirs: dict[str, str], s: dict) -> None:
    pass


def v2_apply(d: str, res) -> None:
    if not wanted(res):
        return
    if res.cpu.cpus is not None:
        write(f"{d}/cpuset.cpus", res.cpu.cpus)
    if res.cpu.mems is not None:
        write(f"{d}/cpuset.mems", res.cpu.mems)


def v2_stats(d: str, s: dict) -> None:
    pass
