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

**Where boxkit's subtree goes: below the cgroup of the process that starts containers.** Each line
of ``/proc/self/cgroup`` names the group this process sits in, per hierarchy (``4:memory:/a/b``,
``0::/a/b`` on v2). A pod's limits, a hub's per-learner group, a ``docker run --cgroup-parent`` are all
such a group: containers made *below* it are bounded by it (memory and pids limits are hierarchical),
containers made at the hierarchy's root escape it. A cgroup namespace (``CLONE_NEWCGROUP``) hides the
question: its member sees its own group as ``/``. A privileged Kubernetes pod on cgroup v2 gets no
cgroup namespace (kubernetes/kubernetes#112937, containerd/cri#1415) and sees the node's whole tree,
its own group deep inside it: so boxkit reads ``/proc/self/cgroup`` and puts ``boxkit/`` there, the way
kubernetes/test-infra#37440 fixed docker-in-docker pods. :func:`parents` says where, per hierarchy:

* ``BOXKIT_CGROUP_PARENT`` unset or ``auto``: the process's own group, except a systemd unit that was
  not delegated to it (a ``.scope``, ``.service`` or ``.slice`` without systemd's ``trusted.delegate``
  or ``user.delegate`` attribute, systemd 251+): systemd owns that tree and a root shell's session scope
  is not the place for foreign groups, so the hierarchy's root is, as docker's cgroupfs driver does.
* ``self``: the own group, always. ``/`` or an absolute path: that path in every hierarchy (docker's
  ``--cgroup-parent``).
* A path already inside boxkit's subtree (a spare waiting in its pre-group) or ending in the leaf
  ``init`` (where v2's no-internal-processes rule made boxkit, or ``deploy/cgroup-nest.sh``, move the
  processes) counts as the group above it, so every process of one starter agrees on one parent.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from ..i18n import N_

CGROUP2_SUPER_MAGIC = 0x63677270
TMPFS_MAGIC = 0x01021994
BASE = "/sys/fs/cgroup"
SUBTREE = "boxkit"   # boxkit's own subtree, below the parent group in each hierarchy
LEAF = "init"        # where a v2 parent's own processes move (the no-internal-processes rule)
PARENT_ENV = "BOXKIT_CGROUP_PARENT"


@dataclass
class CgroupHost:
    mode: str                                   # "v1" | "v2" | "hybrid" | "none"
    # every mounted v1 hierarchy: controller (or "name=systemd" for a named one) -> mount point
    v1: dict[str, str] = field(default_factory=dict)
    v2_root: str | None = None                  # the cgroup2 mount
    v2_controllers: list[str] = field(default_factory=list)
    # where boxkit's subtree goes, per hierarchy key (a v1 controller, "name=systemd", or "" for v2): a path
    # inside the hierarchy, "/" for its root; and why (see parents())
    parents: dict[str, str] = field(default_factory=dict)
    parent_rule: str = "root"

    def parent(self, key: str = "") -> str:
        """The parent group's directory in hierarchy ``key`` (v2: the one tree, whatever the key)."""
        if self.version == 2:
            return os.path.join(self.v2_root or BASE, self.parents.get("", "/").lstrip("/")).rstrip("/")
        return os.path.join(self.v1[key], self.parents.get(key, "/").lstrip("/")).rstrip("/")

    def base(self, key: str = "") -> str:
        """boxkit's own directory in hierarchy ``key``: ``<parent>/boxkit``."""
        return os.path.join(self.parent(key), SUBTREE)

    def bases(self) -> list[str]:
        """boxkit's directory in every hierarchy (one on v2; co-mounted v1 controllers share one)."""
        if self.version == 2:
            return [self.base()]
        return sorted({self.base(k) for k in self.v1})

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


def own_groups(text: str) -> dict[str, str]:
    """``/proc/<pid>/cgroup`` as {hierarchy key: path}: each v1 controller and named hierarchy by its
    name, the v2 tree by ``""``."""
    out: dict[str, str] = {}
    for line in text.splitlines():
        parts = line.split(":", 2)
        if len(parts) != 3:
            continue
        _n, ctrls, path = parts
        for c in ctrls.split(",") if ctrls else [""]:
            out[c] = path
    return out


def owner_of(path: str) -> str:
    """The group that owns ``path``: itself, or the group above boxkit's subtree or a leaf ``init``."""
    parts = [p for p in path.split("/") if p]
    if SUBTREE in parts:
        parts = parts[: parts.index(SUBTREE)]
    elif parts and parts[-1] == LEAF:
        parts = parts[:-1]
    return "/" + "/".join(parts)


_SYSTEMD_UNIT = (".scope", ".service", ".slice")


def _delegated_by_systemd(directory: str) -> bool:
    """Did systemd delegate the group at ``directory``? ``Delegate=yes`` sets the ``trusted.delegate``
    attribute (``user.delegate`` for a user's manager), systemd 251+."""
    for attr in ("trusted.delegate", "user.delegate"):
        try:
            if os.getxattr(directory, attr).strip(b"\0") in (b"1", b"yes", b"true"):
                return True
        except OSError:
            continue
    return False


def systemd_undelegated(directory: str) -> bool:
    """Is ``directory`` a systemd unit's group that systemd did not delegate?"""
    return os.path.basename(directory).endswith(_SYSTEMD_UNIT) and not _delegated_by_systemd(directory)


def delegation(directory: str) -> str:
    """Whether the group at ``directory`` was handed to this user, in one sentence: a systemd
    delegation (its attribute), a directory owned by this user (what any delegation does: the manager
    chowns ``cgroup.procs`` and ``cgroup.subtree_control``), or neither (root writes where it likes)."""
    if _delegated_by_systemd(directory):
        return N_("delegated by systemd (Delegate=yes)")
    try:
        procs = os.stat(os.path.join(directory, "cgroup.procs"))
    except OSError:
        return N_("not readable")
    if procs.st_uid == os.geteuid() and procs.st_uid != 0:
        return N_("delegated to this user (its cgroup.procs is theirs)")
    return N_("not a delegated subtree: root writes there")


def parents(host: CgroupHost, own: dict[str, str], setting: str | None,
            undelegated=systemd_undelegated) -> tuple[dict[str, str], str]:
    """Where boxkit's subtree goes in each hierarchy of ``host``, and the rule that chose it (see the
    module's docstring). ``own`` is :func:`own_groups` of this process; ``setting`` the value of
    ``BOXKIT_CGROUP_PARENT``. Raises ValueError for a setting that is neither a rule nor an absolute
    path."""
    keys = [""] if host.version == 2 else list(host.v1)
    setting = (setting or "auto").strip()
    if setting.startswith("/"):
        if ".." in setting.split("/"):
            raise ValueError(f"{PARENT_ENV}={setting}: a parent may not contain '..'")
        fixed = "/" + "/".join(p for p in setting.split("/") if p and p != ".")
        return {k: fixed for k in keys}, ("root" if fixed == "/" else "configured")
    if setting not in ("auto", "self"):
        raise ValueError(f"{PARENT_ENV}={setting}: give 'auto', 'self' or an absolute cgroup path")
    out: dict[str, str] = {}
    rule = "root"
    for k in keys:
        path = owner_of(own.get(k, "/"))
        if path != "/" and setting == "auto":
            mount = (host.v2_root or BASE) if host.version == 2 else host.v1[k]
            if undelegated(os.path.join(mount, path.lstrip("/"))):
                path = "/"
                rule = "root (a systemd unit not delegated)" if rule == "root" else rule
        if path != "/":
            rule = "own cgroup"
        out[k] = path
    return out, rule


def _own_parents(host: CgroupHost) -> None:
    if host.mode == "none":
        return
    try:
        with open("/proc/self/cgroup") as f:
            own = own_groups(f.read())
    except OSError:
        own = {}
    try:
        host.parents, host.parent_rule = parents(host, own, os.environ.get(PARENT_ENV))
    except ValueError as e:
        # a bad setting is reported where a group is made (cgroups.create, exit 125); reading groups
        # goes on at the roots meanwhile
        host.parents, host.parent_rule = {}, f"invalid: {e}"


_cached: CgroupHost | None = None


def detect(refresh: bool = False) -> CgroupHost:
    global _cached
    if _cached is None or refresh:
        _cached = parse(_mountinfo(), _statfs_type(BASE))
        _own_parents(_cached)
    return _cached


_own_uid_map: str | None = None


def initial_user_namespace(uid_map: str | None = None) -> bool:
    """Is this process in the kernel's first user namespace (its uid_map maps every id to itself)?
    The process's own map is read once: groups_unavailable() asks at every container start, and the
    supervisor never changes its user namespace."""
    global _own_uid_map
    if uid_map is None:
        if _own_uid_map is None:
            try:
                with open("/proc/self/uid_map") as f:
                    _own_uid_map = f.read()
            except OSError:
                _own_uid_map = "0 0 4294967295"
        uid_map = _own_uid_map
    return uid_map.split() == ["0", "0", "4294967295"]


def groups_unavailable(host: CgroupHost | None = None, uid_map: str | None = None) -> str | None:
    """Why containers here start without a cgroup, or None where boxkit makes their groups.

    Root of a user namespace whose cgroup file system it may not write — a podman ``--userns=auto``
    learner on a cgroup v1 host, a Sysbox container on v1 — can still make every namespace, so its
    containers start, without groups, as rootless ones do; a start that asks for a limit is refused.
    In the first user namespace a read-only tree is not waved through: there a container at a
    hierarchy's root could reach its ``release_agent`` (see :mod:`boxkit.cgroups`), so the start fails.
    The kernel refuses ``release_agent`` to anyone outside the first user namespace (Linux 5.17,
    24f600856418, the fix of CVE-2022-0492)."""
    host = host or detect()
    if initial_user_namespace(uid_map):
        return None
    if host.mode == "none":
        return "no cgroup file system is mounted"
    key = "" if host.version == 2 else ("memory" if "memory" in host.v1 else next(iter(host.v1)))
    parent = host.parent(key)
    if os.access(parent, os.W_OK):
        return None
    return f"this user namespace's root may not write the cgroup tree at {parent}"

