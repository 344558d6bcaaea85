"""The hugetlb controller: how much of the kernel's huge-page pool the group may take.

A huge page (2 MiB or 1 GiB on x86-64, instead of 4 KiB) maps a large region with one TLB entry. The
pages that ``mmap(MAP_HUGETLB)`` or a ``hugetlbfs`` file use come from a pool the administrator set
aside (``/sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages``), shared by the whole host, and the
memory controller does not count them. This controller does, per page size: past the group's limit the
fault fails (SIGBUS on first touch), so one container cannot take the pool. Each size has its own file:

======================  ==================================  ==========================
what                    v1 (``/sys/fs/cgroup/hugetlb/...``)  v2
======================  ==================================  ==========================
limit, 2 MiB pages      ``hugetlb.2MB.limit_in_bytes``       ``hugetlb.2MB.max``
======================  ==================================  ==========================

The sizes are named as the kernel names them in those files (``2MB``, ``1GB``, ``64KB``); a bundle
asking for a size this kernel lacks is refused before anything is made (:func:`sizes` lists them, and
:mod:`boxkit.oci.resources` checks). ``boxkit run`` sets no huge-page limits; on v2 the controller is
switched on only when a limit is asked for, as cpuset's. Nothing is read back for the stats.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from .files import write

V1_HIERARCHIES = ("hugetlb",)
V2_CONTROLLER = "hugetlb"
POOLS = "/sys/kernel/mm/hugepages"

FILES = [
    ("huge-page limit, per page size", "hugetlb/hugetlb.<size>.limit_in_bytes", "hugetlb.<size>.max"),
]


@dataclass(frozen=True)
class HugepageLimit:
    """One row of ``linux.resources.hugepageLimits``."""

    page_size: str   # as the kernel's file names say it: "2MB", "1GB"
    limit: int       # bytes


def wanted(res) -> bool:
    return bool(res.hugepage_limits)


def size_name(kib: int) -> str:
    """A pool's size in KiB as the controller's files name it: 2048 → ``2MB``, 1048576 → ``1GB``."""
    for unit, scale in (("GB", 1 << 20), ("MB", 1 << 10)):
        if kib % scale == 0:
            return f"{kib // scale}{unit}"
    return f"{kib}KB"


def sizes(pools: str = POOLS) -> list[str]:
    """The huge-page sizes this kernel has (one ``hugepages-<N>kB`` directory each), smallest first."""
    try:
        names = os.listdir(pools)
    except OSError:
        return []
    kib = sorted(int(n[len("hugepages-"):-len("kB")]) for n in names
                 if n.startswith("hugepages-") and n.endswith("kB") and n[len("hugepages-"):-len("kB")].isdigit())
    return [size_name(k) for k in kib]


def v1_apply(dirs: dict[str, str], res) -> None:
    h = dirs.get("hugetlb")
    if not h:
        return
    for hp in res.hugepage_limits:
        write(f"{h}/hugetlb.{hp.page_size}.limit_in_bytes", hp.limit)


def v1_stats(dirs: dict[str, str], s: dict) -> None:
    pass


def v2_apply(d: str, res) -> None:
    for hp in res.hugepage_limits:
        write(f"{d}/hugetlb.{hp.page_size}.max", hp.limit)


def v2_stats(d: str, s: dict) -> None:
    pass
