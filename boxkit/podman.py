"""podman beside boxkit, in a store of its own that is removed afterwards.

The course starts podman only to compare with it: notebook 05 reads the cgroup files podman wrote for the
same limits, the benchmarks time it, a test builds the course's container image with it. Left to its
defaults, podman leaves things on the host that outlive every command:

* **a mount.** Its overlay storage driver (containers/storage ``drivers/overlay``) bind-mounts its home,
  ``<graphroot>/overlay``, on itself and makes it private, so the layer mounts it makes there stay out of
  other mount namespaces. Only a podman process that shuts the store down with nothing mounted in it
  unmounts it again: after ``podman run -d``, ``inspect`` and ``rm -f`` (what notebook 05 does) the
  ``podman container cleanup`` that conmon starts when the container ends mounts it once more and leaves
  it. One run of the suite left ``/var/lib/containers/storage/overlay`` mounted on the course's host.
* **cgroups.** With the cgroupfs manager a container's group is made under ``/libpod_parent`` in every
  hierarchy, conmon's under ``/libpod_parent/conmon``; nothing removes those.
* **late processes.** That cleanup runs after the command that started the container returned.

:class:`Podman` gives each use a graph root and tmp dir under ``$BOXKIT_ROOT/podman/``, a run root under
``/run/boxkit-podman/`` and a cgroup parent ``/boxkit-podman-*``, all boxkit's. :meth:`Podman.close` waits for the store's late processes
(conmon and its cleanup name the store in their arguments), kills what is left, unmounts whatever is
still mounted under the store, removes it, and removes the cgroup parent in every hierarchy. A process
that died before closing is collected by :func:`gc` (``boxkit gc``, and the gc run on import).
The images of a learner's own podman store are not touched: this store is another one.
"""

from __future__ import annotations

import itertools
import os
import shutil
import subprocess
import time

from . import cgroups, paths, proc
from ._sys import MNT_DETACH, SYS
from .errors import HostError
from .i18n import _
from .probe_host import parse_mountinfo
from .runtime.rootless import remove_tree

# subcommands that make containers (``build`` makes one per RUN step) and so take a cgroup parent
_MAKES_CONTAINERS = ("run", "create", "build")
_serial = itertools.count()


def _run_dir(name: str) -> str:
    """The store's run root: podman refuses one longer than 50 characters (a socket path limit), which
    ``$BOXKIT_ROOT/podman/...`` can pass; a tmpfs is where a run root belongs anyway."""
    base = "/run" if os.geteuid() == 0 else (os.environ.get("XDG_RUNTIME_DIR") or "/tmp")
    return os.path.join(base, "boxkit-podman", name)


class Podman:
    """``with Podman() as p: p.run("run", "--rm", ...)``: podman on a store that ``close()`` removes.

    ``driver`` is the storage driver: ``vfs`` (the default) keeps no mount of its own (podman still mounts
    a running container's ``/dev/shm`` in the store) and works on any file system (an overlay root inside
    ``docker run --privileged`` too), which is all ``--rootfs`` needs; image builds want ``overlay``,
    which shares layers instead of copying them."""

    def __init__(self, driver: str = "vfs"):
        me = os.getpid()
        self.name = f"{me}-{proc.starttime(me)}-{next(_serial)}"   # gc tells a dead owner by pid and start
        self.dir = os.path.join(paths.podman_dir(), self.name)
        self.run_dir = _run_dir(self.name)
        self.cgroup_parent = f"/boxkit-podman-{self.name}"   # _remove_store knows it by the name
        self.driver = driver
        self.runtime = "runc" if shutil.which("runc") else None   # crun refuses a hybrid cgroup layout
        paths.ensure(self.dir, 0o700)

    def argv(self, *args: str) -> list[str]:
        """The podman command line for ``args`` (a subcommand and its arguments) on this store."""
        out = ["podman", "--root", os.path.join(self.dir, "root"), "--runroot", self.run_dir,
               "--tmpdir", os.path.join(self.dir, "tmp"), "--storage-driver", self.driver,
               "--cgroup-manager", "cgroupfs"]
        if self.runtime:
            out += ["--runtime", self.runtime]
        if args and args[0] in _MAKES_CONTAINERS:
            return out + [args[0], "--cgroup-parent", self.cgroup_parent, *args[1:]]
        return out + list(args)

    def run(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
        return subprocess.run(self.argv(*args), capture_output=True, text=True, timeout=timeout)

    def close(self) -> list[str]:
        """Remove everything this store left; one line per thing removed."""
        return _remove_store(self.name, self.dir)

    def __enter__(self) -> Podman:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _procs_naming(text: str) -> list[int]:
    needle = text.encode()
    found = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit() or int(pid) == os.getpid():
            continue
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                if needle in f.read():
                    found.append(int(pid))
        except OSError:
            continue
    return found


def _cgroup_mounts() -> list[str]:
    try:
        with open("/proc/self/mountinfo") as f:
            return [p for p, fstype, _opts in parse_mountinfo(f.read()) if fstype in ("cgroup", "cgroup2")]
    except OSError:
        return []


def _remove_store(name: str, store: str, wait: float = 10.0) -> list[str]:
    done: list[str] = []
    # conmon and the cleanup it starts name the store's graph root in their arguments
    deadline = time.monotonic() + wait
    while (late := _procs_naming(store + "/")) and time.monotonic() < deadline:
        time.sleep(0.05)
    for pid in late:
        proc.kill(pid)
        done.append(_("killed podman process {pid}").format(pid=pid))
    # podman's groups nest (the parent, conmon, libpod-<id>): one Group per directory, children first
    host = cgroups.detect()
    groups = sorted((cgroups.Group(name, host, {"podman": d}) for m in _cgroup_mounts()
                     for d, _dirs, _files in os.walk(os.path.join(m, f"boxkit-podman-{name}"))),
                    key=lambda g: len(g.paths[0]), reverse=True)
    for g in groups:
        g.kill()   # a container that outlived its store's owner
    dirs = (store, _run_dir(name))
    with open("/proc/self/mountinfo") as f:
        points = [p for p, _fstype, _opts in parse_mountinfo(f.read()) if any(p == d or p.startswith(d + "/") for d in dirs)]
    for p in sorted(points, key=len, reverse=True):
        try:
            SYS.umount2(p, MNT_DETACH)
            # i18n: a line of boxkit gc's report; {path} is a mount point
            done.append(_("unmounted {path}").format(path=p))
        except OSError:
            pass   # not ours to unmount (a rootless podman mounts inside its own user namespace)
    for d in dirs:
        if os.path.isdir(d):
            remove_tree(d)
            # i18n: a line of boxkit gc's report; {path} is a directory
            done.append(_("removed {path}").format(path=d))
        try:
            os.rmdir(os.path.dirname(d))   # the last store: no empty podman/ or /run/boxkit-podman
        except OSError:
            pass
    for g in groups:
        try:
            g.remove()
            done.append(_("removed cgroup {path}").format(path=g.paths[0]))
        except HostError:
            pass   # still busy: the next gc tries again
    return done


def gc() -> list[str]:
    """Remove the stores of processes that died before closing them."""
    done: list[str] = []
    base = paths.podman_dir()
    for name in os.listdir(base) if os.path.isdir(base) else []:
        pid, start = (name.split("-") + ["", ""])[:2]
        if pid.isdigit() and proc.alive(int(pid), int(start) if start.isdigit() else None):
            continue
        done += _remove_store(name, os.path.join(base, name), wait=0.0)
    return done
