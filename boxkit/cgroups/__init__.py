"""cgroups: what a container may use, enforced by the kernel and read back as numbers.

Every container gets its own group under boxkit's subtree — ``<parent>/boxkit/<id>`` in each v1
hierarchy (``/sys/fs/cgroup/memory/boxkit/<id>`` where the parent is the root), ``<parent>/boxkit/<id>``
in the v2 tree. The parent is the group of the process that starts containers (a pod's, a learner's),
so that its limits bound them: :func:`boxkit.cgroups.host.parents` says which and why. The runtime's supervisor calls :func:`create` once the container's PID 1 exists, :meth:`Group.add`
to move it in (before it runs the user's command), and after the exit :meth:`Group.oom_killed`,
:meth:`Group.stats` and :meth:`Group.remove`. Anyone may read a running container's numbers with
:func:`open_group` — files are files — which is what :class:`~boxkit.cgroups.sampler.Sampler` does.

v2 specifics handled here: controllers are enabled for children through ``cgroup.subtree_control`` of
each ancestor, and the *no internal processes* rule forbids that on a group that holds processes — the
case of a privileged container whose whole cgroup namespace root is populated. boxkit then moves those
processes into a leaf (``<parent>/init``) first, as kubernetes/test-infra#37440 does for privileged
docker-in-docker pods.

The package, by concern: :mod:`.host` (which mode, where the trees are), :mod:`.resources` (what a
group is limited to: the OCI resources, typed, whichever front asked), one module per controller
(:mod:`.memory`, :mod:`.cpu`, :mod:`.pids`, :mod:`.cpuset`, :mod:`.devices`, :mod:`.io`,
:mod:`.hugetlb`, :mod:`.network`: each knows its v1 and v2 files and writes the fields it owns),
:mod:`.controllers` (the two drivers as a loop over them), :mod:`.files` (the only I/O),
:mod:`.sampler` (time series), and :mod:`.pregroup` (a group made and joined ahead of its container,
for the runtime's spare: why a start avoids writing ``cgroup.procs``). This module is the life cycle:
create, apply, add, stats, kill, remove, gc; ``boxkit-runtime`` makes its groups where a bundle's
``cgroupsPath`` says (:mod:`boxkit.oci.cgroup`) and applies the bundle's limits with
:meth:`Group.apply`. A group's base directory ``boxkit/`` stays between
containers (making it again would cost as much as the group itself); :func:`gc` removes it on v1 once
empty.

**Why every hierarchy, not only the ones whose limits are used.** On v1 each hierarchy's *root* group
has a file ``release_agent``: a program the kernel runs as root *on the host* when a group with
``notify_on_release=1`` empties. A container made with a cgroup namespace (``CLONE_NEWCGROUP``) that
mounts a v1 hierarchy gets the group it sits in as the mount's root (``cgroup1_mount`` takes the
namespace's root, not the hierarchy's). Where the container sits at ``/`` — in every hierarchy boxkit
had no limit for, and in named ones like ``name=systemd`` — that mount *is* the hierarchy's root, with
``release_agent`` in it: with ``CAP_SYS_ADMIN`` (``--cap-add SYS_ADMIN``) that is root on the host, the
shape of CVE-2022-0492. Linux 5.17 (commit 24f600856418) checks that the writer is in the initial user
namespace, which a root container without ``userns=True`` is. So, as runc does, every container gets a
group of its own in *every* mounted v1 hierarchy (:func:`v1_spanned`), named ones included, before its
cgroup namespace is made: a mount from inside then shows the container's own group, which has no
``release_agent`` (the file exists only at a hierarchy's root). The test that attempts the escape is
``tests/integration/test_security.py``.
"""

from __future__ import annotations

import errno
import os
import signal
import time
from dataclasses import dataclass, fields

from .. import proc
from ..errors import HostError, SpecError
from . import cpuset, memory, resources
from .controllers import (
    FILE_MAP,
    V1,
    V2,
    read_int,
    read_kv,
    v1_hierarchies,
    v2_controllers,
    write,
)
from .host import BASE, LEAF, PARENT_ENV, SUBTREE, CgroupHost, detect

__all__ = ["detect", "create", "open_group", "gc", "Group", "Stats", "CgroupHost", "FILE_MAP", "v1_spanned"]


def v1_spanned(host: CgroupHost, limits) -> list[str]:
    """The v1 hierarchies a container's group spans: those its limits use, then every other one the host
    mounts (freezer, ``name=systemd``, ...), so that the container sits at no hierarchy's root (see the
    module's docstring)."""
    want = [h for h in v1_hierarchies(limits) if h in host.v1]
    return want + [h for h in host.v1 if h not in want]


@dataclass
class Stats:
    memory_current: int | None = None
    memory_peak: int | None = None
    memory_limit: int | None = None
    oom_kills: int = 0
    cpu_usage_usec: int | None = None
    cpu_limit: float | None = None
    nr_periods: int = 0
    nr_throttled: int = 0
    throttled_usec: int = 0
    pids_current: int | None = None
    pids_max: int | None = None
    io_read_bytes: int | None = None
    io_write_bytes: int | None = None
    psi: dict | None = None

    @property
    def memory_in_use(self) -> int | None:
        """``memory_current`` capped by ``memory_peak`` (read just after it), where the kernel has a peak.

        ``page_counter_try_charge`` (mm/page_counter.c) adds a charge to the counter *first* and takes it
        back if the sum passes the limit, with no lock, so a read in between sees the limit plus a charge
        that is being refused — up to a whole transparent huge page (512 pages, 2 MiB). The peak
        (``memory.peak``, ``memory.max_usage_in_bytes``) is only raised by charges the kernel kept.
        Seen in the v2 VM (6.1, THP always) at 50 Hz: 500 MiB + 1.72 MiB under a 500 MiB limit; tight reads
        there: 2 of 572k above the limit (+311 pages), both above the peak, which stayed at the limit.
        Kernels without a peak file (v2 before 5.19) give ``memory_current`` as it is."""
        if self.memory_current is None or self.memory_peak is None:
            return self.memory_current
        return min(self.memory_current, self.memory_peak)

    @classmethod
    def from_dict(cls, d: dict) -> Stats:
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in names and (v is not None or k == "psi")})


def _fail(op: str, path: str, e: OSError) -> HostError:
    return HostError(op, path, errno=e.errno,
                     hint="run as root or see boxkit probe" if e.errno in (errno.EACCES, errno.EPERM, errno.EROFS)
                     else "see boxkit probe")


class Group:
    """One container's cgroup: a directory per v1 hierarchy, or one v2 directory."""

    def __init__(self, cid: str, host: CgroupHost, dirs: dict[str, str]):
        self.cid = cid
        self.host = host
        self.dirs = dirs            # controller -> directory (v2: every controller -> the one dir)

    @property
    def paths(self) -> list[str]:
        return sorted(set(self.dirs.values()))

    @property
    def procs_files(self) -> list[str]:
        return [os.path.join(d, "cgroup.procs") for d in self.paths]

    def apply(self, limits) -> None:
        """Write a container's limits into the group's files — a :class:`~.resources.Resources` (an OCI
        bundle's), or ``boxkit run``'s :class:`~boxkit.spec.Limits`, translated — each controller
        module its own fields. A refusal names the file the kernel refused (EINVAL, EBUSY...)."""
        res = resources.of(limits)
        try:
            if self.host.version == 2:
                V2.apply(self.paths[0], res)
            else:
                V1.apply(self.dirs, res)
        except OSError as e:
            raise _fail("cannot set limits on cgroup", getattr(e, "filename", None) or self.paths[0], e) from e

    def add(self, pid: int) -> None:
        for f in self.procs_files:
            try:
                write(f, pid)
            except OSError as e:
                raise _fail("cannot move process into cgroup", os.path.dirname(f), e) from e

    def stats(self) -> Stats:
        raw = V2.stats(self.paths[0]) if self.host.version == 2 else V1.stats(self.dirs)
        return Stats.from_dict(raw)

    def oom_killed(self) -> bool:
        """Did the kernel's OOM killer kill a process of this group? ``oom_kill`` in
        ``memory.oom_control`` (v1, Linux 4.13+) or ``memory.events`` (v2) — not ``memory.failcnt``."""
        if self.host.version == 2:
            return memory.v2_oom_kills(self.paths[0]) > 0 if self.paths else False
        return memory.v1_oom_kills(self.dirs) > 0

    def pids(self) -> list[int]:
        out: set[int] = set()
        for f in self.procs_files:
            try:
                with open(f) as fh:
                    out.update(int(x) for x in fh.read().split())
            except OSError:
                pass
        return sorted(out)

    def kill(self) -> None:
        if self.host.version == 2 and os.path.exists(os.path.join(self.paths[0], "cgroup.kill")):
            try:
                write(os.path.join(self.paths[0], "cgroup.kill"), 1)   # linux 5.14+
                return
            except OSError:
                pass
        for _ in range(50):
            pids = self.pids()
            if not pids:
                return
            for p in pids:
                try:
                    os.kill(p, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            time.sleep(0.01)

    def remove(self, timeout: float = 2.0) -> None:
        """rmdir every directory; a group empties a moment after its last process exits."""
        deadline = time.monotonic() + timeout
        for d in self.paths:
            while True:
                try:
                    os.rmdir(d)
                    break
                except FileNotFoundError:
                    break
                except OSError as e:
                    if e.errno != errno.EBUSY or time.monotonic() > deadline:
                        raise _fail("cannot remove cgroup", d, e) from e
                    self.kill()
                    time.sleep(0.005)
        # boxkit/ itself stays: recreating it costs as much as the group (a v1 memory cgroup is the
        # dearest mkdir here), and on v2 it carries the enabled controllers. remove_empty_bases() removes
        # it when the supervisor ends, gc() when it finds it empty.

    def __repr__(self) -> str:
        return f"<cgroup {self.cid} v{self.host.version} {self.paths[0] if self.paths else ''}>"


def remove_empty_bases(host: CgroupHost | None = None) -> None:
    """rmdir boxkit's own directory in every hierarchy where it holds no group any more: called when a
    supervisor ends (a notebook kernel exits, ``boxkit run`` returns) and by :func:`gc`, so nothing
    of ours stays on the host once the last container is gone."""
    host = host or detect()
    if host.mode == "none":
        return
    for base in host.bases():
        _remove_if_empty(base)


def _remove_if_empty(base: str) -> None:
    if os.path.basename(base) != SUBTREE:
        return
    try:
        os.rmdir(base)
    except OSError:
        pass   # another container still lives there (EBUSY), or it is gone already


def _v1_dirs(host: CgroupHost, cid: str, want: list[str]) -> dict[str, str]:
    return {c: os.path.join(host.base(c), cid) for c in want if c in host.v1}


def _v2_base(host: CgroupHost) -> str:
    return host.base()


def _check_parent(host: CgroupHost) -> None:
    if host.parent_rule.startswith("invalid"):
        raise SpecError("cgroup parent", os.environ.get(PARENT_ENV, ""), host.parent_rule.split(": ", 2)[-1],
                        hint=f"unset {PARENT_ENV}, or set it to auto, self or an absolute cgroup path")


def _available_v2(parent: str, host: CgroupHost) -> list[str]:
    """The controllers a v2 group may hand to its children: its ``cgroup.controllers`` (the root's
    are the host's; a nested parent has what its own parent enabled for it)."""
    try:
        with open(os.path.join(parent, "cgroup.controllers")) as f:
            return f.read().split()
    except OSError:
        return list(host.v2_controllers)


def _enable_v2(host: CgroupHost, lim) -> list[str]:
    """Switch controllers on for boxkit's subtree, moving the parent's processes to a leaf if needed."""
    root = host.parent()
    os.makedirs(root, exist_ok=True)   # a configured parent (BOXKIT_CGROUP_PARENT=/class) may not exist yet
    want = [c for c in v2_controllers(lim) if c in _available_v2(root, host)]
    base = _v2_base(host)
    os.makedirs(base, exist_ok=True)
    for parent in (root, base):
        ctl = os.path.join(parent, "cgroup.subtree_control")
        try:
            enabled = open(ctl).read().split()
        except OSError:
            enabled = []
        missing = [c for c in want if c not in enabled]
        if not missing:
            continue
        for attempt in range(4):
            try:
                write(ctl, " ".join("+" + c for c in missing))
                break
            except OSError as e:
                if e.errno != errno.EBUSY or parent != root or attempt == 3:
                    raise _fail("cannot enable cgroup controllers in", ctl, e) from e
                # a populated parent (the cgroup namespace root of a privileged container, a pod's group,
                # the starter's own group): the no-internal-process rule forbids children with
                # controllers while it holds processes, so they move to a leaf first (the host's true
                # root is exempt and never gets here). Again if some forked meanwhile.
                _move_all(root, os.path.join(root, LEAF))
    return want


def _move_all(src: str, leaf: str) -> None:
    os.makedirs(leaf, exist_ok=True)
    with open(os.path.join(src, "cgroup.procs")) as f:
        pids = f.read().split()
    for pid in pids:
        try:
            write(os.path.join(leaf, "cgroup.procs"), pid)
        except OSError:
            pass   # exited meanwhile, or a kernel thread that cannot move


def create(cid: str, limits) -> Group:
    """Make container ``cid``'s group under boxkit's subtree and write its limits (a
    :class:`~boxkit.spec.Limits` or :class:`~.resources.Resources`); a failure half-way removes it."""
    res = resources.of(limits)
    host = detect()
    _check_parent(host)
    if host.mode == "none":
        raise HostError("cannot create cgroup for", cid, errno=errno.ENOENT,
                        detail="no cgroup file system is mounted at /sys/fs/cgroup", hint="see boxkit probe")
    if host.version == 2:
        d = os.path.join(_v2_base(host), cid)
        for attempt in range(3):
            _enable_v2(host, res)
            try:
                os.mkdir(d)
                break
            except FileNotFoundError as e:
                # gc removed the empty boxkit/ between enabling its controllers and our mkdir: redo both
                if attempt == 2:
                    raise _fail("cannot create cgroup", d, e) from e
            except OSError as e:
                raise _fail("cannot create cgroup", d, e) from e
        group = Group(cid, host, {c: d for c in host.v2_controllers} or {"unified": d})
    else:
        group = Group(cid, host, {})
        try:
            _make_v1(group, v1_spanned(host, res))
        except OSError as e:
            group.remove()
            where = getattr(e, "filename", None) or next(iter(group.dirs.values()), BASE)
            raise _fail("cannot create cgroup", where, e) from e
    try:
        group.apply(res)
    except OSError:
        group.remove()
        raise
    return group


def _make_v1(group: Group, hierarchies: list[str]) -> None:
    """mkdir the group in each v1 hierarchy, recording each in ``group.dirs`` as soon as it exists
    (so a failure half-way removes what was made)."""
    made = group.dirs
    for ctrl, d in _v1_dirs(group.host, group.cid, hierarchies).items():
        if d in made.values():   # controllers mounted together share one directory
            made[ctrl] = d
            continue
        for _attempt in range(2):
            _makedirs_v1(os.path.dirname(d), ctrl)
            try:
                os.mkdir(d)
                break
            except FileNotFoundError:   # the empty base was just removed by gc: make it again
                continue
        else:
            os.mkdir(d)
        made[ctrl] = d
        if ctrl == "cpuset":
            cpuset.v1_prepare(d)


def _makedirs_v1(d: str, ctrl: str) -> None:
    """Make ``d`` and any missing group above it (boxkit's base, a configured parent). v1 cpuset groups
    start empty and refuse tasks until filled, so each new level copies its parent's CPUs."""
    if os.path.isdir(d):
        return
    _makedirs_v1(os.path.dirname(d), ctrl)
    try:
        os.mkdir(d)
    except FileExistsError:
        return   # a concurrent start made it
    if ctrl == "cpuset":
        cpuset.v1_prepare(d)


def open_group(cid: str) -> Group | None:
    """A view of a running container's group (no creation): for samplers and notebooks."""
    host = detect()
    if host.version == 2:
        d = os.path.join(_v2_base(host), cid)
        return Group(cid, host, {c: d for c in host.v2_controllers} or {"unified": d}) if os.path.isdir(d) else None
    dirs = {c: d for c, d in _v1_dirs(host, cid, list(host.v1)).items() if os.path.isdir(d)}
    return Group(cid, host, dirs) if dirs else None


def gc(alive: set[str], dead: set[str] | None = None, host: CgroupHost | None = None) -> list[str]:
    """Remove boxkit groups left behind by containers that are gone; returns the directories removed.

    The cgroup tree is one per host, but container state lives under a ``BOXKIT_ROOT`` (a test's
    private root, a notebook's, the CLI's): a caller knows only its own containers. So a group whose
    id is not in ``alive`` is *not* killed on that ground alone — it may belong to a live container of
    another root. It is removed when it holds no process and has run something (its CPU counter moved),
    when every process in it is already dying (the caller killed that container's PID 1 and its PID
    namespace is going down), or when it was made over a minute ago and never held a process (a start
    that died between mkdir and adding PID 1). Ids in ``dead`` — containers the caller knows are its
    own and orphaned — are killed and removed outright.
    """
    host = host or detect()
    groups: dict[str, list[str]] = {}
    for base in host.bases():
        try:
            names = os.listdir(base)
        except OSError:
            continue
        for name in names:
            d = os.path.join(base, name)
            if name not in alive and name != "init" and os.path.isdir(d):
                groups.setdefault(name, []).append(d)
    removed = []
    for name, dirs in sorted(groups.items()):
        g = Group(name, host, {str(i): d for i, d in enumerate(dirs)})
        if not (dead and name in dead) and not _collectable(g):
            continue
        try:
            g.kill()
            g.remove()
            removed += dirs
        except OSError:
            pass
    # an empty boxkit/ goes too (nothing of ours may stay on the host); a create racing with this
    # re-makes the base and, on v2, re-enables its controllers (see create)
    remove_empty_bases(host)
    return removed


def _collectable(g: Group, grace: float = 60.0, wait: float = 2.0) -> bool:
    deadline = time.monotonic() + wait
    while True:
        pids = g.pids()
        if not pids:
            break
        if not all(proc.dying(p) for p in pids) or time.monotonic() > deadline:
            return False   # a live container, maybe of another BOXKIT_ROOT: not ours to judge
        time.sleep(0.02)
    if _used(g):
        return True
    try:
        age = time.time() - min(os.stat(d).st_mtime for d in g.paths)
    except OSError:
        return False
    return age > grace   # never used: a start in progress, or one that died before adding PID 1


def _used(g: Group) -> bool:
    """Has any process ever run in this group? Its CPU counter says so on both versions."""
    for d in g.paths:
        for f, key in (("cpuacct.usage", None), ("cpu.stat", "usage_usec"),
                       ("memory.max_usage_in_bytes", None), ("memory.peak", None)):
            p = os.path.join(d, f)
            if not os.path.exists(p):
                continue
            try:
                n = read_int(p) if key is None else read_kv(p).get(key)
            except OSError:
                n = None
            if n:
                return True
    return False
