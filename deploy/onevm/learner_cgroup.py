"""One cgroup per learner, with a memory and a pids limit: what systemd gives each SystemdSpawner unit
(``MemoryMax=``, ``TasksMax=``), made by hand for a host without systemd.

Where the group lives depends on the host's cgroup layout:

* **v2** (unified, ``/sys/fs/cgroup/cgroup.controllers`` exists): one directory,
  ``/sys/fs/cgroup/boxkit-class/NAME``, with ``memory.max``, ``memory.swap.max`` (0: a learner may not
  swap) and ``pids.max``. The controllers are handed down by writing ``+memory +pids`` to
  ``cgroup.subtree_control`` of the root and of ``boxkit-class``; neither holds a process, so v2's
  no-internal-processes rule is kept.
* **v1** and **hybrid** (the controllers sit in v1 hierarchies, one per controller, even where a cgroup2
  tree is also mounted at ``unified/``): two directories, ``memory/boxkit-class/NAME`` with
  ``memory.limit_in_bytes`` (and ``memory.memsw.limit_in_bytes`` at the same value where swap
  accounting exists) and ``pids/boxkit-class/NAME`` with ``pids.max``.

The groups sit at each hierarchy's root, not under the cgroup of the hub process: a hub started in
some service's group must not put learners under that service's limits. A process joins by writing
its pid to ``cgroup.procs`` of every directory; its children (the kernel, boxkit's helpers, a rootless
container, a fork bomb) are born inside and cannot leave: moving a process needs write access to the
target's ``cgroup.procs``, which stays root's.

When the learner's server stops, everything still in the group is killed (a learner's ``nohup`` and
detached containers too, as systemd stops a unit) and the directories are removed.
"""

from __future__ import annotations

import errno
import os
import re
import signal
import time
from dataclasses import dataclass

ROOT = "/sys/fs/cgroup"
PARENT = "boxkit-class"
# a Unix user name as useradd takes it: it becomes a directory name, so no "/", no "." or ".."
_NAME = re.compile(r"^[a-z_][a-z0-9_-]{0,31}$")


def layout(root: str = ROOT) -> str:
    """``"v2"`` where the root is a unified hierarchy, ``"v1"`` where the memory and pids controllers are
    in v1 hierarchies (a hybrid host included); a sentence saying what is missing otherwise."""
    if os.path.exists(os.path.join(root, "cgroup.controllers")):
        return "v2"
    if all(os.path.exists(os.path.join(root, c, "cgroup.procs")) for c in ("memory", "pids")):
        return "v1"
    raise OSError(errno.ENOENT, f"no cgroup v2 root and no v1 memory and pids hierarchies under {root}: "
                                "mount them (this spawner's limits need both)", root)


def _write(path: str, value: str) -> None:
    try:
        with open(path, "w") as f:
            f.write(value)
    except OSError as e:
        raise OSError(e.errno, f"writing {value!r} to {path} failed: {e.strerror}", path) from None


def _read(path: str) -> str | None:
    try:
        with open(path) as f:
            return f.read().strip()
    except OSError:
        return None


def _keyed(path: str, key: str) -> int | None:
    """The value of ``key`` in a flat-keyed file (memory.events, pids.events, memory.oom_control)."""
    text = _read(path)
    for line in (text or "").splitlines():
        k, _, v = line.partition(" ")
        if k == key:
            return int(v)
    return None


def _int(path: str) -> int | None:
    text = _read(path)
    if text is None:
        return None
    return -1 if text == "max" else int(text)


@dataclass
class Usage:
    """What a learner's group holds and has hit, read from its files (None where this kernel has none)."""
    memory_bytes: int | None        # now
    memory_peak_bytes: int | None   # the most since the group was made
    memory_limit_bytes: int | None
    memory_limit_hits: int | None   # v1 memory.failcnt + memory.memsw.failcnt; v2 memory.events "max"
    oom_kills: int | None           # processes the kernel's OOM killer ended in this group
    tasks: int | None
    tasks_max: int | None
    tasks_limit_hits: int | None    # pids.events "max": forks refused at the limit


class LearnerGroup:
    """The cgroup of one learner (``name``, a Unix user name) under ``root``; see the module docstring."""

    def __init__(self, name: str, parent: str = PARENT, root: str = ROOT) -> None:
        if not _NAME.match(name):
            raise ValueError(f"a learner's cgroup is named after their Unix user name; {name!r} is not one")
        if not re.match(r"^[A-Za-z0-9_.-]+$", parent) or parent in (".", ".."):
            raise ValueError(f"the learners' parent cgroup must be one directory name; {parent!r} is not")
        self.name, self.parent, self.root = name, parent, root
        self.layout = layout(root)

    @property
    def dirs(self) -> dict[str, str]:
        """The group's directory per controller (``"unified"`` on v2)."""
        if self.layout == "v2":
            return {"unified": os.path.join(self.root, self.parent, self.name)}
        return {c: os.path.join(self.root, c, self.parent, self.name) for c in ("memory", "pids")}

    def _file(self, ctrl: str, name: str) -> str:
        return os.path.join(self.dirs["unified" if self.layout == "v2" else ctrl], name)

    def create(self, memory_bytes: int, tasks_max: int) -> LearnerGroup:
        """Make the group (or take over one left from before) and set its limits."""
        if memory_bytes <= 0 or tasks_max <= 0:
            raise ValueError(f"a learner's limits must be positive: memory {memory_bytes} bytes, "
                             f"{tasks_max} tasks")
        if self.layout == "v2":
            top = os.path.join(self.root, self.parent)
            _write(os.path.join(self.root, "cgroup.subtree_control"), "+memory +pids")
            os.makedirs(top, exist_ok=True)
            _write(os.path.join(top, "cgroup.subtree_control"), "+memory +pids")
            os.makedirs(self.dirs["unified"], exist_ok=True)
            _write(self._file("memory", "memory.max"), str(memory_bytes))
            if os.path.exists(self._file("memory", "memory.swap.max")):
                _write(self._file("memory", "memory.swap.max"), "0")
        else:
            for d in self.dirs.values():
                os.makedirs(d, exist_ok=True)
            # memsw may not be below the memory limit: raise the limit first when it grows, lower it last
            memsw = self._file("memory", "memory.memsw.limit_in_bytes")
            old = _int(self._file("memory", "memory.limit_in_bytes")) or 0
            order = ([memsw, "memory.limit_in_bytes"] if memory_bytes > old
                     else ["memory.limit_in_bytes", memsw])
            for f in order:
                if f == memsw and not os.path.exists(memsw):
                    continue   # no swap accounting on this kernel
                _write(f if f == memsw else self._file("memory", f), str(memory_bytes))
        _write(self._file("pids", "pids.max"), str(tasks_max))
        return self

    def join(self, pid: int | None = None) -> None:
        """Move ``pid`` (this process by default) into the group, in every hierarchy."""
        for d in self.dirs.values():
            _write(os.path.join(d, "cgroup.procs"), str(pid or os.getpid()))

    def pids(self) -> set[int]:
        found: set[int] = set()
        for d in self.dirs.values():
            text = _read(os.path.join(d, "cgroup.procs")) or ""
            found.update(int(p) for p in text.split())
        return found

    def exists(self) -> bool:
        return any(os.path.isdir(d) for d in self.dirs.values())

    def kill_all(self, timeout: float = 10) -> None:
        """SIGKILL every process in the group until none is left (a fork bomb is refilling it at most
        ``pids.max`` at a time, and its forks fail once every parent is dead)."""
        kill_file = self._file("pids", "cgroup.kill")
        if self.layout == "v2" and os.path.exists(kill_file):
            _write(kill_file, "1")   # the kernel kills the whole group at once (5.14+)
        deadline = time.monotonic() + timeout
        while True:
            left = self.pids()
            if not left:
                return
            for pid in left:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            if time.monotonic() > deadline:
                raise OSError(errno.EBUSY, f"processes {sorted(left)[:10]} stayed in {self.name}'s cgroup "
                                           f"for {timeout:.0f} s after SIGKILL", str(self.dirs))
            time.sleep(0.05)

    def remove(self, timeout: float = 10) -> None:
        """Remove the (empty) group, and the parent where no other learner's group is left in it."""
        deadline = time.monotonic() + timeout
        for d in self.dirs.values():
            while True:
                try:
                    os.rmdir(d)
                    break
                except FileNotFoundError:
                    break
                except OSError as e:
                    # EBUSY: a killed process is still leaving (its exit is asynchronous)
                    if e.errno != errno.EBUSY or time.monotonic() > deadline:
                        raise OSError(e.errno, f"removing the cgroup {d} failed: {e.strerror}; "
                                               "kill what is in it first (LearnerGroup.kill_all)", d) from None
                    time.sleep(0.05)
            try:
                os.rmdir(os.path.dirname(d))
            except OSError as e:
                if e.errno not in (errno.ENOTEMPTY, errno.EBUSY, errno.ENOENT):
                    raise

    def usage(self) -> Usage:
        m = lambda f: self._file("memory", f)   # noqa: E731
        p = lambda f: self._file("pids", f)     # noqa: E731
        if self.layout == "v2":
            return Usage(_int(m("memory.current")), _int(m("memory.peak")), _int(m("memory.max")),
                         _keyed(m("memory.events"), "max"), _keyed(m("memory.events"), "oom_kill"),
                         _int(p("pids.current")), _int(p("pids.max")), _keyed(p("pids.events"), "max"))
        # with memory+swap limited to the same value, the memsw counter is charged first and counts the
        # refusals: a hog at the limit leaves memory.failcnt at 0 and memory.memsw.failcnt rising
        hits = [n for n in (_int(m("memory.failcnt")), _int(m("memory.memsw.failcnt"))) if n is not None]
        return Usage(_int(m("memory.usage_in_bytes")), _int(m("memory.max_usage_in_bytes")),
                     _int(m("memory.limit_in_bytes")), sum(hits) if hits else None,
                     _keyed(m("memory.oom_control"), "oom_kill"),
                     _int(p("pids.current")), _int(p("pids.max")), _keyed(p("pids.events"), "max"))


def groups_left(parent: str = PARENT, root: str = ROOT) -> list[str]:
    """Every learner group directory under ``parent`` (and ``parent`` itself), in any hierarchy."""
    try:
        tops = [os.path.join(root, parent)] if layout(root) == "v2" else [
            os.path.join(root, c, parent) for c in ("memory", "pids")]
    except OSError:
        return []
    found = []
    for top in tops:
        if os.path.isdir(top):
            found.append(top)
            found += [e.path for e in os.scandir(top) if e.is_dir(follow_symlinks=False)]
    return found
