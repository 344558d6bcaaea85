"""The spare's own side: the processes that make a container before it is asked for.

Creating namespaces and forking twice costs several milliseconds, and none of it depends on what the
next container will run. So the supervisor keeps *spares* (:mod:`.spare`): made while it is idle, they
have done stage 1 and 2 (:mod:`.init`) for the default namespace set, made ``/`` private, brought
``lo`` up, dropped the capability bounding set, and mounted the API file systems (/proc with its masked
and read-only paths, /sys, /dev with its nodes) in a staging directory of their private mount
namespace. When a start takes one, it sends the plan and the stdio fds; the spare mounts the image,
moves the staged mounts into it (``MS_MOVE``), pivots and, after "go", execs. A spare *prebuilt* on a
guessed image (:func:`_prebuild`) has done those steps too and only writes the plan's files.

Two processes, as in the long way: the **first process** (:func:`stage1`, forked by the supervisor)
unshares the namespaces, and the next child it makes is **PID 1** of the new PID namespace. What
differs is how that child is made.

**Why not fork.** ``execve`` frees the caller's old address space, and a process forked from the
zygote has ~15 MB of Python mapped: 86% of the samples inside ``execve`` in a profile here were
``exit_mmap`` (~1.5-2 ms, the largest single step of a start). If some other process shares that
memory, ``execve`` only drops a reference and frees nothing.

**vfork_sibling.** So PID 1 is made with ``clone(CLONE_VM | CLONE_VFORK | CLONE_PARENT)``
(:meth:`~boxkit._sys.Sys.vfork_sibling`): it runs *in the first process's memory*, on its stack,
while the first process sleeps in the kernel until PID 1 calls ``execve`` (or exits).
``CLONE_PARENT`` makes PID 1 the supervisor's child, not the first process's, so its exit is reported
to the supervisor as any container's is. The memory stays allocated as long as the first process
lives; the supervisor kills it once PID 1 has exec'd, when it is idle.

**The ptrace stop.** The first process must never run again after that ``execve``: its stack is PID
1's now, overwritten by whatever PID 1 did, and returning into it would crash or worse. The kernel
holds it for us: before the clone, the supervisor attaches with ``PTRACE_SEIZE`` and the options
``PTRACE_O_TRACEVFORKDONE`` — the end of the vfork is a ptrace stop, taken in the kernel before the
first process returns to user space, and a tracer that never resumes it keeps it there — and
``PTRACE_O_EXITKILL``, so that a supervisor that dies kills it instead of releasing it. The attach
needs the first process still dumpable, so it is the first thing the two agree on (SEIZED: the
exchange is drawn in :mod:`.protocol`).
Where ptrace is refused (seccomp, Yama), PID 1 is forked as before.

**Its cgroup.** On cgroup v1 the spare joins a group made ahead of time
(:mod:`boxkit.cgroups.pregroup`: a move into a cgroup after a quiet spell waits for an RCU grace
period, and a start must not). A forked PID 1 is born inside it because the first process joined
before forking; a vfork'd PID 1 joins itself, and the first process stays outside (it would count in
``pids.current``).
"""

from __future__ import annotations

import gc
import os
import signal
import socket

from .. import _sys
from .._sys import PR_SET_DUMPABLE, SYS
from ..cgroups import pregroup
from . import caps, init, rootfs, rootless
from .init import STAGE_FAIL, Step
from .plan import Plan
from .protocol import Msg, decode, expect, kind_of, message, recv, send


def stage1(flags: int, sock: socket.socket, staging: str, ns: list[str], mount_root_for,
           group_name: str | None = None, own_ids: list[int] | None = None, guess: Plan | None = None) -> None:
    """The spare's first process: forked by the supervisor; never returns. ``flags``: the namespaces
    to unshare; ``group_name``: the pre-group to make and join (None: the start makes the group);
    ``guess``: the image to prebuild on. When the supervisor could attach to it with ptrace it
    says so first (SEIZED true), and PID 1 is then made by ``vfork_sibling`` instead of
    ``fork``: see :func:`_pid1_in_shared_memory`."""
    try:
        signal.set_wakeup_fd(-1)
        for s in (signal.SIGCHLD, signal.SIGINT, signal.SIGTERM, signal.SIGPIPE):
            signal.signal(s, signal.SIG_DFL)
        gc.disable()   # see init.stage1
        seized = recv(sock).get(Msg.SEIZED) is True   # before anything else: the attach needs us dumpable
        if own_ids:
            rootless.enter_userns(own_ids[0], own_ids[1])   # while dumpable, as in init.stage1
        SYS.prctl(PR_SET_DUMPABLE, 0)
        init.close_fds_but({0, 1, 2, sock.fileno()})  # a spare lives long: hold nothing of the zygote's
        if seized:
            SYS.unshare(flags)
            if SYS.vfork_sibling() == 0:
                _pid1_in_shared_memory(sock, staging, ns, mount_root_for, guess, group_name)
            # never reached: the vfork ended and ptrace stopped us (PTRACE_O_TRACEVFORKDONE) before
            # the return to user space, with a stack the child used; the supervisor kills us there
            os._exit(STAGE_FAIL)
        group = _join_pregroup(group_name, os.getpid()) if group_name else None   # PID 1, forked next, is born inside it
        SYS.unshare(flags)
        pid = os.fork()
        if pid == 0:
            _pid1(sock, staging, ns, mount_root_for, guess)
        send(sock, message(Msg.PID, pid, group=group))
        os._exit(0)
    except BaseException as e:
        init.fail(sock, "prepare spare container", e)


def _pid1_in_shared_memory(sock: socket.socket, staging: str, ns: list[str], mount_root_for,
                           guess: Plan | None, group_name: str | None) -> None:
    """PID 1 of a spare made by ``vfork_sibling``, in the first process's memory (see the module's
    docstring). The first process keeps its copy of the set-up socket (it never runs again to close
    it), so the supervisor sends us a socket of our own: our ``execve`` then closes its last copy,
    and that end of file still tells the supervisor the command runs. We join the cgroup here and
    tell the supervisor our PID as the host sees it (the host's /proc is still mounted here)."""
    try:
        data, fds, _f, _a = socket.recv_fds(sock, 64, 1)   # SOCKET: our own (see Spares._handshake)
        sock.close()
        if not fds or kind_of(decode(data)) is not Msg.SOCKET:
            os._exit(STAGE_FAIL)   # nobody to tell: the supervisor sees this process end
        # close-on-exec, like every socket Python makes (recv_fds ignores MSG_CMSG_CLOEXEC): its end
        # of file at our execve is what tells the supervisor that the command runs
        os.set_inheritable(fds[0], False)
        sock = socket.socket(fileno=fds[0])
        group = _join_pregroup(group_name, 0) if group_name else None   # 0: the writer, in any PID namespace
        send(sock, message(Msg.PID, int(os.readlink("/proc/self")), group=group))
    except BaseException as e:
        init.fail(sock, "prepare spare container", e)
    _pid1(sock, staging, ns, mount_root_for, guess)


def _pid1(sock: socket.socket, staging: str, ns: list[str], mount_root_for, guess: Plan | None = None) -> None:
    """PID 1 of the spare, however made: what does not depend on the plan, then "ready", then the
    plan and the stdio fds of the start that takes it (an end of file: the supervisor dropped it)."""
    try:
        SYS.mount(None, "/", None, _sys.MS_REC | _sys.MS_PRIVATE)
        rootfs.stage_api_mounts(staging, ns)
        # what does not depend on the plan is done now: lo up in the new network namespace, and the
        # bounding set (only a ceiling for later execs: the mounts below still have CAP_SYS_ADMIN)
        SYS.link_up("lo")
        SYS.drop_bounding(caps.DEFAULT_MASK)
        if guess is not None:
            _prebuild(guess, staging, mount_root_for)
        send(sock, message(Msg.READY))
        data, fds, _f, _a = socket.recv_fds(sock, 1 << 20, 3)
        if not data:
            os._exit(0)  # the supervisor dropped the spare
        plan = Plan.from_wire(expect(decode(data), Msg.PLAN, step="start spare container")[Msg.PLAN])
        container(plan, sock, list(fds), mount_root_for(plan), staging, prebuilt=guess is not None)
    except Step as e:
        init.fail(sock, e.step, OSError(e.errno, os.strerror(e.errno)), e.path)
    except BaseException as e:
        init.fail(sock, "start spare container", e)


def container(plan: Plan, sock: socket.socket, stdio: list[int], mount_root, staged: str,
              prebuilt: bool = False) -> None:
    """The spare's container set-up, the long way's steps (:func:`.init._container`) in another
    order: it starts as soon as it has the plan, while the supervisor writes the state, sets the
    limits and attaches the network, and it waits for "go" — with the files that depend on the
    network — before the steps that must come after those. A ``prebuilt`` spare is already in its
    root (:func:`_prebuild`). Never returns."""
    plan = init.for_terminal(plan, stdio)
    if not prebuilt:
        # never an OCI bundle's own mounts: a plan with mount_entries fits no spare (spare.spare_kind)
        try:
            rootfs.setup_rootfs(plan, mount_root, staged=staged, files_later=True)
        except OSError as e:
            raise Step("set up root file system", e) from e
    # inside the new root: what the plan itself says can be written while the supervisor works
    try:
        rootfs.write_files(plan.files)
    except OSError as e:
        raise Step("write container files", e) from e
    init.enter_session(plan, sock, stdio)
    go = recv(sock)
    if not go.get(Msg.GO):
        os._exit(STAGE_FAIL)   # the supervisor failed or dropped us: it kills and removes the rest
    update = go.get("update", {})
    plan = init.updated(plan, update)
    if "cgroup" in plan.ns:
        # after "go": the group may have been moved (a cpuset made at claim), and a cgroup
        # namespace's root is the group its creator is in at the moment of unshare
        init.run_step("create cgroup namespace", SYS.unshare, _sys.CLONE_NEWCGROUP)
    try:
        rootfs.finish_rootfs(Plan(files=update.get("files", {}), readonly=plan.readonly))
    except OSError as e:
        raise Step("write container files", e) from e
    init.confine_and_exec(plan, sock, bounding_done=True)   # the bounding set went in _pid1


def _prebuild(guess: Plan, staging: str, mount_root_for) -> None:
    """A spare that guesses its image (the one the last container ran, see
    ``spare.Spares.make``): mount the overlay, move /proc, /sys and /dev in, ``pivot_root`` and
    detach the host's tree — all before it is asked for. Detaching a mount tree waits for an RCU
    grace period (``namespace_unlock``): 0.1 ms to 4 ms in traces here, now off the start path. Then
    create the files every container gets (/etc/hostname, /etc/hosts), so the copy-up of /etc is
    done too; the start only rewrites them. The supervisor uses this spare only for a plan with the
    same layers, unchanged on disk, and no volumes (the host's paths are gone from here)."""
    try:
        rootfs.setup_rootfs(guess, mount_root_for(guess), staged=staging, files_later=True)
        rootfs.write_files({"/etc/hostname": "", "/etc/hosts": ""})
    except OSError as e:
        raise Step("prepare spare root file system", e) from e


def _join_pregroup(name: str, pid: int) -> dict | None:
    """Still in the host's cgroup namespace: make the spare's pre-group and move ``pid`` in — the
    first process, so that PID 1, forked next, is born inside it, or with 0 the writer itself (PID 1
    made by ``vfork_sibling``). Returns its directories; None (the group is then made at start) when
    the host has none to give."""
    try:
        group = pregroup.prepare(name)
    except OSError:
        return None
    if group is None:
        return None
    try:
        group.add(pid)
    except BaseException:
        group.remove()
        return None
    return group.dirs
