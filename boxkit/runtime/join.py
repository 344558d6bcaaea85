"""Joining a running container: what ``docker exec`` does under the hood.

A container is not an object the kernel keeps; it is a set of namespaces, a root and a cgroup that
its processes share. To start one more process "in" it, a process makes itself a member of each:

1. it writes its PID into the container's ``cgroup.procs`` files (so the limits count it too);
2. it opens ``/proc/PID1/ns/*`` for every namespace the container has — all of them, and
   ``/proc/PID1/root``, before the first join, while the host's ``/proc`` is what those paths name —
   then ``setns(2)``\\ s into each: the user namespace first (the others belong to it, and joining
   them needs the capabilities it gives), the mount namespace last (joining it also moves our root
   and working directory to that namespace's root: ``mntns_install`` in fs/namespace.c);
3. it ``fchdir``\\ s to ``/proc/PID1/root`` and ``chroot``\\ s there — the container's root, whatever
   ``pivot_root`` made of it;
4. it **forks**: ``setns`` into a PID namespace only changes where the *children* of the caller are
   born, so the process that becomes the command is that child — PID *n* inside, and after the
   joiner exits a grandchild of whoever started it (a child sub-reaper gets it re-parented).

The child then confines itself as the container's PID 1 did (user, capabilities, ``no_new_privs``,
seccomp filter last) and execs. Over a socket pair it reports its host PID, then either a step that
failed or nothing: the socket is close-on-exec, so end of file means ``execve`` succeeded (PID, then
ERROR or END: :mod:`.protocol`).

Three callers take this one path: a zygote's or keeper's exec (:meth:`.supervisor.Supervisor.exec`),
``boxkit exec`` from the command line (:mod:`boxkit.cli.exec`, which needs no owner of the container)
and the OCI runtime's ``exec`` (:func:`boxkit.oci.verbs.exec_`).
"""

from __future__ import annotations

import os
import socket
import sys as _python_sys
from collections.abc import Callable

from .. import _sys
from .._sys import PR_SET_DUMPABLE, SYS
from ..security import seccomp
from . import init
from .plan import Plan
from .protocol import Msg, expect, kind_of, message, recv, send

# the user namespace first: the others are owned by it. The mount namespace last: it moves our root and
# working directory (see the module's docstring)
JOIN_ORDER = ["user", "ipc", "uts", "net", "pid", "cgroup", "time", "mount"]


def namespaces_of(pid: int) -> list[str]:
    """The namespaces process ``pid`` does not share with us: what the container really has, not what
    a record says it should."""
    out = []
    for name, file in _sys.NAMESPACE_FILES.items():
        try:
            if os.readlink(f"/proc/{pid}/ns/{file}") != os.readlink(f"/proc/self/ns/{file}"):
                out.append(name)
        except OSError:   # a namespace this kernel does not have (time before 5.6)
            continue
    return out


def start_in(pid1: int, plan: Plan, argv: list[str], env: dict, cwd: str, user, stdio: list[int],
             procs: list[str], on_pid: Callable[[int], None] | None = None) -> int:
    """Start ``argv`` inside the container whose PID 1 is ``pid1`` and return its host PID once its
    ``execve`` succeeded. ``plan`` says which namespaces to join (``plan.ns``), how to confine the
    process (caps, ``exec_caps``, seccomp, tty) and names the container in errors; ``procs`` are the
    ``cgroup.procs`` files to join; ``on_pid`` runs as soon as the PID is known, before the exec's
    outcome (the OCI runtime hands over the console and writes ``--pid-file`` there). A failure raises
    the error the failing step names; a process that got as far as failing to exec is reaped here
    when it is our child (the caller is a sub-reaper)."""
    parent, child = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    _python_sys.stdout.flush()   # else the child's copy of the buffer would be written twice
    _python_sys.stderr.flush()
    pid = os.fork()
    if pid == 0:
        parent.close()
        joiner(pid1, plan, argv, env, cwd, user, stdio, child, procs)
    child.close()
    try:
        msg = recv(parent)
        os.waitpid(pid, 0)
        epid = expect(msg, Msg.PID, plan=plan, step="join container")[Msg.PID]
        if on_pid is not None:
            on_pid(epid)
        msg = recv(parent)
        if kind_of(msg) is not Msg.END:
            try:
                os.waitpid(epid, 0)
            except ChildProcessError:   # not a sub-reaper (runc exec --detach): init reaps it
                pass
            expect(msg, Msg.END, plan=plan, step="prepare exec")
    finally:
        parent.close()
    return epid


def joiner(pid1: int, plan: Plan, argv, env, cwd, user, stdio, sock, procs,
           sys: _sys.Sys | None = None) -> None:
    """The forked joiner (steps 1-4 above); never returns. Non-dumpable first: while this process
    holds fds to the host and sits half inside the container, a process in the container must not be
    able to ptrace it or open its /proc/PID/fd (CVE-2016-9962: a runc exec that was dumpable while it joined)."""
    sys = sys or SYS
    try:
        sys.prctl(PR_SET_DUMPABLE, 0)
        for f in procs:
            with open(f, "w") as fh:
                fh.write(str(os.getpid()))
        fds = []
        for n in JOIN_ORDER:
            if n in plan.ns:
                path = f"/proc/{pid1}/ns/{_sys.NAMESPACE_FILES[n]}"
                fds.append((n, os.open(path, os.O_RDONLY | os.O_CLOEXEC)))
        rootfd = os.open(f"/proc/{pid1}/root", os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        for n, fd in fds:
            sys.setns(fd, _sys.NAMESPACE_FLAGS[n])
            os.close(fd)
        if "user" in plan.ns:
            # our host uid 0 is unmapped in there (it shows as 65534): become the namespace's root.
            # Rootless, setgroups(2) is denied in there (rootless.py) and our groups stay as they were
            if not plan.rootless:
                sys.setgroups([])
            sys.setresgid(0, 0, 0)
            sys.setresuid(0, 0, 0)
        sys.fchdir(rootfd)
        sys.chroot(".")
        os.close(rootfd)
        pid = os.fork()
        if pid == 0:
            try:
                os.setsid()
                init.set_stdio(stdio)
                if plan.tty:   # boxkit exec -t
                    sys.set_controlling_tty(0)
                init.close_fds_but({0, 1, 2, sock.fileno()}, sys)
                mask = plan.exec_caps if plan.exec_caps is not None else plan.caps
                init.confine(plan.but(user=user, caps=mask), sys=sys)   # exec_caps: an OCI bundle's own set
                init.chdir_checked(cwd)
                if plan.seccomp and plan.no_new_privs:
                    seccomp.load(plan.seccomp, sys)   # the container's filter, last, as in init
            except init.Step as e:
                init.fail(sock, f"prepare exec: {e.step}", OSError(e.errno, os.strerror(e.errno)), e.path)
            except OSError as e:
                init.fail(sock, "prepare exec", e)
            init.execute(argv, env, sock)
        send(sock, message(Msg.PID, pid))
        os._exit(0)
    except BaseException as e:
        init.fail(sock, "join container", e)
