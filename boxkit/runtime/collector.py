"""Collecting what a killed owner left, off the caller's time.

``import boxkit`` (a new notebook kernel, every ``boxkit`` command) looks for leftovers of supervisors
that were killed outright — a kernel's process group sent SIGKILL, a ``boxkit run`` killed by its
terminal — and has them removed. Removing is slow in the ways the kernel is slow: a killed PID 1 takes
its whole PID namespace down before its cgroup can be ``rmdir``'d (EBUSY until the last task has
exited, up to seconds for a process freeing a large heap), releasing a network lease loads pyroute2 and
talks netlink, a podman store waits for podman's late clean-up processes. Done inside the import, that
time landed on whoever came next: after a batch of killed CLIs one ``bench/startup.py`` CLI row read a
2.1 s median against 0.14 s clean, and a single killed CLI with a bridge network cost the next command
0.28 s of network clean-up.

So the import only *looks*, with nothing but ``/proc`` and a few small JSON files (:func:`orphans`: a
container whose supervisor's (pid, start time) pair is gone, a state-less directory older than 30 s,
a podman store or a spare's staging whose owner is gone), and when it finds one, it starts a
collector — ``python -m boxkit.collect`` (:mod:`boxkit.collect`: it calls the layers above the
runtime too) in a session of its own, so a terminal's ^C does not
reach it — and returns. A live notebook's containers are not leftovers: a command started beside a
running kernel does no collection at all.

One collector at a time: the spawner takes an ``flock`` on ``locks/gc.lock`` without waiting and hands
the open file to the child, which holds it until it is done (an ``flock`` belongs to the open file, so
the child's inherited copy keeps it after the parent closes its own). A second import meanwhile sees
the lock taken and starts nothing; ``boxkit gc`` and :func:`wait` block on the same lock, so an explicit
collection never runs beside a background one. A collector killed half-way leaves only what the next
one finds again: every step of :func:`boxkit.collect.gc` starts from what is on the host.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import subprocess
import sys
import time

from .. import paths, proc
from . import state

_STATELESS_GRACE = 30.0   # seconds: a start may be between its mkdir and its state write


def _lock_path() -> str:
    return os.path.join(paths.locks_dir(), "gc.lock")


def _open_lock() -> int:
    os.makedirs(paths.locks_dir(), exist_ok=True)
    return os.open(_lock_path(), os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)


def orphans() -> list[str]:
    """What a killed owner left under this ``BOXKIT_ROOT``: the paths a collector would remove."""
    found = []
    for cid in state.list_ids():
        st = state.read(cid)
        d = paths.container_dir(cid)
        if st is not None:
            # a stopped container kept for boxkit rm (run without --rm) is no leftover: its keeper
            # released its cgroup and network before it wrote "exited"
            if st.get("status") != "exited" and not state.owner_alive(st):
                found.append(d)
            continue
        try:
            if time.time() - os.stat(d).st_mtime >= _STATELESS_GRACE:
                found.append(d)
        except OSError:
            pass
    for base in (paths.podman_dir(), os.path.join(paths.root(), "spare")):
        try:
            names = os.listdir(base)
        except OSError:
            continue
        found += [os.path.join(base, n) for n in names if proc.named_owner_gone(n)]
    return found


def spawn() -> bool:
    """Start a collector in the background unless one is running; True when one was started."""
    try:
        fd = _open_lock()
    except OSError:
        return False   # a root we cannot write to: nothing of ours to collect there
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as e:
            if e.errno in (errno.EWOULDBLOCK, errno.EAGAIN):
                return False   # a collector is at work already
            raise
        env = {**os.environ, "BOXKIT_ROOT": paths.root(), "BOXKIT_NO_GC": "1",
               "BOXKIT_GC_LOCK_FD": str(fd)}
        # niced: on a 2-core machine a collector at normal priority took ~30 ms from the very command
        # that started it (nice 10, not 19 or SCHED_IDLE: under a CPU-burning demo it must still finish). sh starts the collector in the background and exits at once: the collector is re-parented to
        # init (or a subreaper) and never becomes a zombie of a long-lived notebook kernel that does
        # not wait for it; a background job of a non-interactive shell ignores SIGINT as well
        subprocess.run(["/bin/sh", "-c", 'exec nice -n 10 "$0" -m boxkit.collect </dev/null >/dev/null 2>&1 &',
                        sys.executable], env=env, pass_fds=(fd,), start_new_session=True, check=True,
                       timeout=10)
        return True
    except (OSError, subprocess.SubprocessError):
        return False
    finally:
        os.close(fd)   # the child's copy holds the lock now


def wait(timeout: float = 30.0) -> bool:
    """Block until no collector is running (the lock is free); False if one still is after ``timeout``."""
    try:
        fd = _open_lock()
    except OSError:
        return True
    try:
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return True
            except OSError as e:
                if e.errno not in (errno.EWOULDBLOCK, errno.EAGAIN) or time.monotonic() > deadline:
                    return False
            time.sleep(0.02)
    finally:
        os.close(fd)


@contextlib.contextmanager
def exclusive(timeout: float = 60.0):
    """Hold the collector lock for an explicit collection (``boxkit gc``, a test's clean-up)."""
    fd = _open_lock()
    try:
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except OSError as e:
                if e.errno not in (errno.EWOULDBLOCK, errno.EAGAIN) or time.monotonic() > deadline:
                    break   # collect anyway: every step of gc tolerates a concurrent one
            time.sleep(0.02)
        yield
    finally:
        os.close(fd)
