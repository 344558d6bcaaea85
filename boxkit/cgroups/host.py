"""Which cgroup layout this host has, found the way runc and crun find it.

A *control group* is a directory in a special file system; writing a PID into its ``cgroup.procs``
moves that process in, and writing ``memory.max`` (or ``memory.limit_in_bytes``) limits every process
inside. Linux has two generations:

* **v1**: one file system *per controller* (``/sys/fs/cgroup/memory``, ``/sys/fs/cgroup/cpu``, ...),
  each with its own tree; a process sits in one group of each tree.
* **v2**: one unified tree (``/sys/fs/cgroup`` is ``cgroup2``); a group's controllers are switched on
  for its children by writing ``+memory +cpu`` to ``cgroup.subtree_control``, and processes may live
  only in leaves (the *no internal processes* rule).
* **hybrid** (this course's CI host, systemd's old default): v1 for the controllers plus a ``cgroup2``
  tree at ``/sys/fs/cgroup/unified`` holding the few controllers no v1 hierarchy took (none, or only
  ``hugetlb`` on this course's host). crun refuses such a host when a controller sits alone on the v2
  side; boxkit uses v1 for every controller the v1 side has.

The mode comes from ``statfs("/sys/fs/cgroup").f_type`` (``CGROUP2_SUPER_MAGIC`` vs a tmpfs), the v1
mount points from ``/proc/self/mountinfo`` — every v1 hierarchy, *named* ones too (``name=systemd``,
a tree with no controller that systemd uses to track services): boxkit gives each container a group
in all of them (see :mod:`boxkit.cgroups`, "Why every hierarchy").
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

CGROUP2_SUPER_MAGIC = 0x63677270
TMPFS_MAGIC = 0x01021994
BASE = "/sys/fs/cgroup"
SUBTREE = "boxkit"   # boxkit's own subtree at the top of each hierarchy


@dataclass
class CgroupHost:
    mode: str                                   # "v1" | "v2" | "hybrid" | "none"
    # every mounted v1 hierarchy: controller (or "name=systemd" for a named one) -> mount point
    v1: dict[str, str] = field(default_factory=dict)
    v2_root: str | None = None                  # the cgroup2 mount
    v2_controllers: list[str] = field(default_factory=list)

    @property
    def version(self) -> int:
        """Which driver boxkit uses: 2 on a pure v2 host, 1 otherwise."""
        return 2 if self.mode == "v2" else 1

    def controllers(self) -> list[str]:
        """The resource controllers (a named v1 hierarchy such as ``name=systemd`` controls nothing)."""
        return sorted(self.v2_controllers if self.version == 2 else (c for c in self.v1 if "=" not in c))


def _statfs_type(path: str) -> int | None:
    # lazy: _sys loads ctypes (~12 ms); reading cgroup files (cli, viz) needs no syscall
    from .._sys import SYS

    return SYS.statfs_type(path)


def _mountinfo(path: str = "/proc/self/mountinfo") -> list[tuple[str, str, str]]:
    """(mount point, fstype, super options) for each line."""
    out = []
    with open(path) as f:
        for line in f:
            left, _, right = line.partition(" - ")
            mnt = left.split()[4]
            fstype, _src, opts = (right.split() + ["", "", ""])[:3]
            out.append((mnt.replace("\\040", " "), fstype, opts))
    return out


V1_CONTROLLER_NAMES = ("memory", "cpu", "cpuacct", "pids", "cpuset", "devices", "freezer", "blkio",
                       "hugetlb", "io", "net_cls", "net_prio", "perf_event", "rdma", "misc")


def parse(mountinfo: list[tuple[str, str, str]], base_type: int | None, base: str = BASE) -> CgroupHost:
    v1: dict[str, str] = {}
    v2_root = None
    for mnt, fstype, opts in mountinfo:
        if fstype == "cgroup" and mnt.startswith(base):
            for opt in opts.split(","):
                # a named hierarchy (name=systemd) has no controller, yet it is a tree a container
                # must not sit at the root of: see CgroupHost.v1
                if opt in V1_CONTROLLER_NAMES or opt.startswith("name="):
                    v1.setdefault(opt, mnt)
        elif fstype == "cgroup2" and mnt.startswith(base):
            v2_root = mnt
    if base_type == CGROUP2_SUPER_MAGIC:
        mode = "v2"
        v2_root = base
    elif v1 and v2_root:
        mode = "hybrid"
    elif v1:
        mode = "v1"
    elif v2_root:
        mode = "v2"
    else:
        mode = "none"
    ctrls: list[str] = []
    if v2_root:
        try:
            with open(os.path.join(v2_root, "cgroup.controllers")) as f:
                ctrls = f.read().split()
        except OSError:
            pass
    return CgroupHost(mode, v1, v2_root, ctrls)


_cached: CgroupHost | None = None


def detect(refresh: bool = False) -> CgroupHost:
    global _cached
    if _cached is None or refresh:
        _cached = parse(_mountinfo(), _statfs_type(BASE))
    return _cached
