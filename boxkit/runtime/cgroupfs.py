"""The cgroup file systems inside a container: ``/sys/fs/cgroup`` as its cgroup namespace sees it.

A container that reads its own limits (a JVM sizing its heap, Go's automaxprocs) looks in
``/sys/fs/cgroup``. With a cgroup namespace (``CLONE_NEWCGROUP``, Linux 4.6) a *fresh* mount of a
hierarchy has the container's own group as its root, so ``memory.max`` (v2) or
``memory/memory.limit_in_bytes`` (v1) there are the container's. On cgroup v1 each hierarchy is its own
file system: a tmpfs gets one mount per hierarchy, with the ``cpu,cpuacct`` style co-mounts linked by
each name, as runc lays them out. Without a cgroup namespace a fresh mount would show the host's whole
tree, so the container's group is bind-mounted instead (runc does the same). Read-only unless asked.
"""

from __future__ import annotations

import os

from .. import _sys
from .._sys import MS_BIND, MS_NODEV, MS_NOEXEC, MS_NOSUID, MS_RDONLY, MS_REC, MS_REMOUNT
from .inroot import remount_ro, secure_join
from .plan import Plan


def own_cgroups() -> dict[str, str]:
    own = {}
    with open("/proc/self/cgroup") as f:
        for line in f:
            _n, ctrls, path = line.rstrip("\n").split(":", 2)
            for c in ctrls.split(",") if ctrls else ["unified"]:
                own[c] = path
    return own


def mount_cgroup(target: str, m: dict, sys: _sys.Sys, cgroupns: bool) -> None:
    """``type: cgroup``: the host's cgroup file systems as the container's cgroup namespace sees them.
    v2 (or a ``cgroup2`` entry): one mount. v1: a tmpfs holding one mount per hierarchy, as runc does.
    Without a cgroup namespace a fresh mount would show the host's whole tree: the container's own
    group is bind-mounted instead (runc does the same), so /sys/fs/cgroup/memory is its group."""
    os.makedirs(target, exist_ok=True)
    ro = m["flags"] & MS_RDONLY
    base = MS_NOSUID | MS_NODEV | MS_NOEXEC
    v1 = []
    unified = None
    with open("/proc/self/mountinfo") as f:
        for line in f:
            left, _, right = line.partition(" - ")
            fields, rfields = left.split(), right.split()
            if len(rfields) < 3 or not fields[4].startswith("/sys/fs/cgroup"):
                continue
            if rfields[0] == "cgroup":
                opts = [o for o in rfields[2].split(",") if o not in ("rw", "ro")]
                v1.append((os.path.basename(fields[4]), ",".join(opts)))
            elif rfields[0] == "cgroup2":
                unified = os.path.basename(fields[4]) if fields[4] != "/sys/fs/cgroup" else ""
    own = {} if cgroupns else own_cgroups()

    def bind_own(d: str, host_mnt: str, key: str) -> None:
        src = secure_join(host_mnt, own.get(key, "/"))
        sys.mount(src, d, None, MS_BIND | MS_REC)
        sys.mount(None, d, None, MS_BIND | MS_REMOUNT | base | ro)

    if m["type"] == "cgroup2" or (not v1 and unified == ""):
        if own:
            bind_own(target, "/sys/fs/cgroup", "unified")
        else:
            sys.mount("cgroup2", target, "cgroup2", base | (m["flags"] & MS_RDONLY))
        return
    sys.mount("tmpfs", target, "tmpfs", base, "mode=755")
    for name, opts in v1:
        d = os.path.join(target, name)
        if os.path.islink(d):
            continue
        os.makedirs(d, exist_ok=True)
        if own:
            key = next((o for o in opts.split(",") if o in own), name)
            bind_own(d, os.path.join("/sys/fs/cgroup", name), key)
        else:
            sys.mount("cgroup", d, "cgroup", base | ro, opts)
        for part in name.split(","):   # cpu,cpuacct is reachable as cpu and as cpuacct
            if part != name and not os.path.lexists(os.path.join(target, part)):
                os.symlink(name, os.path.join(target, part))
    if unified:
        d = os.path.join(target, unified)
        os.makedirs(d, exist_ok=True)
        if own:
            bind_own(d, os.path.join("/sys/fs/cgroup", unified), "unified")
        else:
            sys.mount("cgroup2", d, "cgroup2", base | ro)
    if ro:
        remount_ro(target, sys, base)


def mount_cgroupfs(root: str, plan: Plan, sys: _sys.Sys | None = None) -> None:
    """``cgroupfs=True``: the container's cgroup files, read-only, at ``/sys/fs/cgroup`` — as docker
    mounts them, so that a cgroup-aware program (a JVM, .NET, Go with automaxprocs — not ``nproc``,
    which counts the CPUs it may run on) reads its real memory and CPU limits there. In a cgroup
    namespace (the default) a fresh mount of each hierarchy has the container's own group as its root; without one, its group is bound. Before
    the pivot, while the host's cgroup mounts still say which hierarchies exist."""
    sys = sys or _sys.SYS
    mount_cgroup(secure_join(root, "/sys/fs/cgroup"), {"type": "cgroup", "flags": MS_RDONLY}, sys,
                 cgroupns="cgroup" in plan.ns)
