"""The container side: what the forked processes do between ``fork()`` and ``execve()``.

Two processes take part, because two namespaces only apply to the *next* child of the caller:

* **stage 1** (forked by the supervisor) calls ``unshare()`` for every namespace asked for. For a user
  namespace it first unshares that one alone and asks the supervisor — still in the host's user
  namespace, so allowed to write a multi-range map — to write ``/proc/PID/uid_map`` and ``gid_map``;
  the other namespaces are then created *owned by* the new user namespace. Without root (a rootless
  container, :mod:`.rootless`) it writes its own one-line maps instead, first of all, while it is
  still dumpable (a non-dumpable process's ``/proc/self`` files belong to the host's root, and it
  could not open its own ``uid_map``). For a time namespace it writes the clock offsets to
  ``/proc/self/timens_offsets``, which is only possible before any process lives in it. Then it forks stage 2, reports its PID and exits: the supervisor is a child
  sub-reaper (``PR_SET_CHILD_SUBREAPER``), so stage 2 becomes its direct child.
* **stage 2** is PID 1 of the new PID namespace. It waits until the supervisor has put it into its
  cgroup and network, builds the root file system (:mod:`.rootfs`), sets the hostname, starts a new
  session (no controlling terminal, so no ``TIOCSTI`` into the host's tty), drops capabilities to
  Docker's default set, switches user, sets ``no_new_privs``, closes every inherited fd but 0-2,
  changes to the working directory and checks ``getcwd()`` (runc CVE-2024-21626 leaked a host
  directory fd as the cwd), loads the seccomp filter (:mod:`boxkit.security.seccomp`; last, as runc
  does, so nothing boxkit calls itself needs the profile's leave), and finally ``execve``\\ s the
  command, which therefore is PID 1 — as in Docker. With ``init=True`` stage 2 stays PID 1 instead,
  forks the command, forwards signals to it and reaps every zombie (docker's ``--init``).

The supervisor's *spare* is made the same way ahead of time, by its own stage 1 and PID 1
(:mod:`.spare_child`): its PID 1 shares the first process's memory instead of copying it, it may
already stand in its image's root, and it runs the steps here — :func:`for_terminal`,
:func:`enter_session`, :func:`confine_and_exec` — in another order around "go".

Errors travel back over a ``SOCK_SEQPACKET`` socket marked close-on-exec: a successful ``execve``
closes it (the supervisor reads EOF), a failure sends one JSON message naming the step (:func:`fail`).
Every message on that socket, and their order, is drawn in :mod:`.protocol`.
"""

from __future__ import annotations

import gc
import os
import signal
import socket

from .. import _sys
from .._sys import PR_SET_DUMPABLE, PR_SET_NO_NEW_PRIVS, SYS
from ..security import seccomp
from . import caps, process, rootfs, rootless
from .plan import Plan
from .protocol import Msg, error_of, message, recv, send  # noqa: F401 error_of: test_errors_wire imports it here

STAGE_FAIL = 125


class Step(Exception):
    """A set-up step failed; carries the step's name and the path it was about."""

    def __init__(self, step: str, err: OSError, path: str | None = None):
        super().__init__(step)
        self.step = step
        self.errno = err.errno or 0
        self.path = path or (err.filename if isinstance(err.filename, str) else None)


def fail(sock: socket.socket, step: str, err: BaseException, path: str | None = None,
         code: int = STAGE_FAIL) -> None:
    """Report a failed ``step`` to the supervisor (an ERROR message: :mod:`.protocol`), then exit with
    ``code``. Never returns."""
    eno = getattr(err, "errno", 0) or 0
    try:
        send(sock, message(Msg.ERROR, step, errno=eno, path=path or getattr(err, "path", None)
                           or getattr(err, "filename", None), detail=str(err)[:500], code=code))
    finally:
        os._exit(code)


def run_step(name: str, fn, *args, path: str | None = None):
    """``fn(*args)`` as the set-up step ``name``: an ``OSError`` becomes :class:`Step`, which the stage's
    handler reports (:func:`fail`) with that name and ``path``."""
    try:
        return fn(*args)
    except OSError as e:
        raise Step(name, e, path) from e


def stage1(plan: Plan, sock: socket.socket, stdio: list[int], mount_root, sys: _sys.Sys | None = None) -> None:
    """Runs in the first fork. Never returns."""
    sys = sys or SYS
    try:
        # the supervisor's signal set-up must not follow us into the container
        signal.set_wakeup_fd(-1)
        for s in (signal.SIGCHLD, signal.SIGINT, signal.SIGTERM, signal.SIGPIPE):
            signal.signal(s, signal.SIG_DFL)
        gc.disable()   # a short life: a collection would only copy the zygote's pages (see zygote._freeze)
        _namespaces(plan, sock, sys)
        pid = os.fork()
        if pid == 0:
            stage2(plan, sock, stdio, mount_root, sys)
        send(sock, message(Msg.PID, pid))
    except Step as e:
        fail(sock, e.step, OSError(e.errno, os.strerror(e.errno)), e.path)
    except BaseException as e:  # never let Python unwind into the supervisor's code after fork
        fail(sock, "stage 1", e)
    os._exit(0)   # after the try: stage 2 never returns here, and _fail never returns


def _namespaces(plan: Plan, sock: socket.socket, sys: _sys.Sys) -> None:
    """Stage 1's steps, in their order: the user namespace and its maps, what an OCI bundle asks
    first, the joined network, then every other namespace at once (each then owned by the user
    namespace, which is why it came first); last the time offsets and the dumpable flag stage 2
    inherits."""
    ns = plan.ns
    own_ids = plan.rootless
    if own_ids:
        # rootless: our own user namespace, mapped onto our own uid (see rootless.py); while still
        # dumpable, or /proc/self/uid_map would belong to the host's root
        run_step("create user namespace", rootless.enter_userns, own_ids[0], own_ids[1], sys,
              path="/proc/self/uid_map")
    else:
        sys.prctl(PR_SET_DUMPABLE, 0)
    if plan.oci:
        _oci_stage1(plan, sys)
    if plan.join_net:
        fd = run_step("open network namespace", os.open, plan.join_net, os.O_RDONLY | os.O_CLOEXEC,
                   path=plan.join_net)
        run_step("join network namespace", sys.setns, fd, _sys.CLONE_NEWNET, path=plan.join_net)
        os.close(fd)
    if "user" in ns and not own_ids:
        run_step("create user namespace", sys.unshare, _sys.CLONE_NEWUSER)
        send(sock, message(Msg.USERNS, os.getpid()))
        if recv(sock).get(Msg.MAPPED) is not True:
            os._exit(STAGE_FAIL)   # the supervisor could not write the maps: it kills what it started
        # become root of the new namespace (mapped to an unprivileged uid outside)
        sys.setresgid(0, 0, 0)
        sys.setresuid(0, 0, 0)
    flags = 0
    for n in ns:
        # the cgroup namespace is created in stage 2, after the supervisor moved it into its
        # cgroup: the namespace's root is the cgroup its creator is in at that moment
        if n not in ("user", "cgroup"):
            flags |= _sys.NAMESPACE_FLAGS[n]
    run_step("create namespaces", sys.unshare, flags)
    if "time" in ns and plan.time_offset:
        secs = int(plan.time_offset)
        run_step("set time namespace offsets", _write, "/proc/self/timens_offsets",
              f"monotonic {secs} 0\nboottime {secs} 0\n", path="/proc/self/timens_offsets")
    if own_ids:
        sys.prctl(PR_SET_DUMPABLE, 0)   # stage 2, forked next, inherits it


def _write(path: str, data: str) -> None:
    with open(path, "w") as f:
        f.write(data)


def set_stdio(stdio: list[int]) -> None:
    for target, fd in enumerate(stdio):
        if fd != target:
            os.dup2(fd, target)  # dup2 clears close-on-exec on the copy


def _bring_lo_up(plan: Plan, sys: _sys.Sys) -> None:
    if "net" in plan.ns and not plan.join_net:
        sys.link_up("lo")


def stage2(plan: Plan, sock: socket.socket, stdio: list[int], mount_root, sys: _sys.Sys | None = None) -> None:
    """PID 1 of the container. Never returns."""
    try:
        go = recv(sock)
        if not go.get(Msg.GO):
            os._exit(STAGE_FAIL)   # no GO: the supervisor failed, and kills what it started
        _container(updated(plan, go.get("update", {})), sock, stdio, mount_root, sys)
    except Step as e:
        fail(sock, e.step, OSError(e.errno, os.strerror(e.errno)), e.path)
    except BaseException as e:
        fail(sock, "stage 2", e)


def updated(plan: Plan, update: dict) -> Plan:
    """The plan with what the supervisor learnt after forking us: the network's /etc files (added to
    the plan's own), an OCI create's hook state."""
    return plan.but(**{**update, "files": {**plan.files, **update.get("files", {})}})


def _container(plan: Plan, sock: socket.socket, stdio: list[int], mount_root, sys: _sys.Sys | None = None) -> None:
    """The container's own set-up, the long way: PID 1 has been told "go" (it is in its cgroup and
    network), so every step runs in order. A spare runs the same steps in another order, the plan's
    part while the supervisor works (:func:`boxkit.runtime.spare_child.container`)."""
    sys = sys or SYS
    plan = for_terminal(plan, stdio)
    if "cgroup" in plan.ns:
        run_step("create cgroup namespace", sys.unshare, _sys.CLONE_NEWCGROUP)
    run_step("bring up lo", _bring_lo_up, plan, sys)
    try:
        if plan.mount_entries is not None:   # an OCI bundle's own mounts (boxkit.oci)
            process.setup_bundle_rootfs(plan, mount_root, sys)
        else:
            rootfs.setup_rootfs(plan, mount_root, sys)
    except OSError as e:
        raise Step("set up root file system", e) from e
    enter_session(plan, sock, stdio, sys)
    confine_and_exec(plan, sock, sys=sys)


def for_terminal(plan: Plan, stdio: list[int]) -> Plan:
    """What a terminal needs before the root is built: the modules its ioctls use (imported now:
    after ``pivot_root`` the host's modules are gone), and for ``boxkit run -t`` the host's pty on
    stdin, to bind at /dev/console."""
    if plan.tty:
        import fcntl  # noqa: F401
        import termios  # noqa: F401
    if plan.tty and plan.console_fd is None:   # boxkit run -t: a pty of the host's
        plan = plan.but(console_from=stdio[0])
    return plan


def enter_session(plan: Plan, sock: socket.socket, stdio: list[int], sys: _sys.Sys | None = None) -> None:
    """In the built root: the hostname, a new session (no controlling terminal of the host's), the
    container's stdio (or its console) as fds 0-2, and every other inherited fd closed."""
    sys = sys or SYS
    if "uts" in plan.ns and plan.hostname:
        run_step("set hostname", sys.sethostname, plan.hostname)
    os.setsid()
    if plan.console_fd is not None:
        stdio = run_step("set up terminal", process.open_console, plan)
    set_stdio(stdio)
    if plan.tty or plan.terminal:   # boxkit run -t, or an OCI process.terminal
        run_step("set controlling terminal", sys.set_controlling_tty, 0)
    close_fds_but({0, 1, 2, sock.fileno(), *plan.keep_fds}, sys)


def confine_and_exec(plan: Plan, sock: socket.socket, bounding_done: bool = False,
                     sys: _sys.Sys | None = None) -> None:
    """The last steps, the same for every container: capabilities, user, no_new_privs, working
    directory, seccomp filter, ``execve`` (or the ``init=True`` reaper). ``bounding_done``: a spare
    dropped its capability bounding set ahead. Never returns."""
    sys = sys or SYS
    argv, env, cwd = plan.argv, plan.env, plan.cwd
    oci = plan.cap_sets is not None
    late_filter = plan.no_new_privs
    early_filter = bool(plan.seccomp) and not late_filter
    if early_filter:
        # the filter is loaded before the capabilities go (see confine), so the working directory is
        # checked first: the check's getcwd may be a call the profile denies (runtime-tools'
        # linux_seccomp denies exactly that one)
        run_step("change to working directory", chdir_checked, cwd, path=cwd)
    if oci:   # an OCI bundle's own capability sets and user
        if early_filter:   # without no_new_privs loading needs CAP_SYS_ADMIN
            run_step("load seccomp filter", seccomp.load, plan.seccomp, sys)
        run_step("set user and capabilities", process.switch_user_keep_caps, plan, sys)
        if plan.no_new_privs:
            run_step("set no_new_privs", sys.prctl, PR_SET_NO_NEW_PRIVS, 1)
    else:
        confine(plan, bounding_done, sys)
    # again as the container's user when the filter came first: its permission to enter is what counts
    run_step("change to working directory", os.chdir if early_filter else chdir_checked, cwd, path=cwd)
    if plan.gate_fd is not None:
        # OCI create: set up and stopped before the command until `start` (see boxkit.oci)
        process.created_then_wait(plan, sock)
    if plan.seccomp and late_filter:
        run_step("load seccomp filter", seccomp.load, plan.seccomp, sys)   # last, as runc loads it
    if plan.gate_fd is not None:
        _exec_started(argv, env)
    if plan.init:
        _reaper(argv, env, sock, sys)
    execute(argv, env, sock)


def confine(plan: Plan, bounding_done: bool = False, sys: _sys.Sys | None = None) -> None:
    """Capabilities, user, no_new_privs: the container's and every exec's. The seccomp filter comes
    after, as the last step before ``execve`` (as runc does), so that nothing boxkit itself calls
    needs to be allowed by the profile — except without no_new_privs: then loading a filter needs
    CAP_SYS_ADMIN, so it is loaded here, first, and the profile must allow capset, setresuid,
    prctl, chdir and execve (docker's and boxkit's do)."""
    sys = sys or SYS
    nnp = plan.no_new_privs
    if plan.seccomp and not nnp:
        run_step("load seccomp filter", seccomp.load, plan.seccomp, sys)
    mask = plan.caps
    if mask is None:
        mask = caps.DEFAULT_MASK
    else:   # --cap-add ALL, --privileged: "all" is all that boxkit holds (a host may withhold some)
        mask &= sys.capget()[1]
    user = plan.user
    if user:
        # the ids first, while CAP_SETUID/CAP_SETGID are held (--cap-drop ALL -u 0 must work); a
        # non-root uid loses every capability here, so the capset below only empties inheritable
        if not bounding_done:
            run_step("drop capabilities", sys.drop_bounding, mask)
            bounding_done = True
        run_step("set user", _switch_user, user[0], user[1], sys, path=f"{user[0]}:{user[1]}")
        if user[0] != 0:
            mask = 0
    run_step("drop capabilities", caps.drop_to, mask, sys, bounding_done)
    if nnp:
        run_step("set no_new_privs", sys.prctl, PR_SET_NO_NEW_PRIVS, 1)


def close_fds_but(keep: set[int], sys: _sys.Sys | None = None) -> None:
    sys = sys or SYS
    lo = 3
    for fd in sorted(k for k in keep if k >= 3) + [None]:
        hi = 0xFFFFFFFF if fd is None else fd - 1
        if hi >= lo:
            sys.close_range(lo, hi)
        if fd is not None:
            lo = fd + 1


def _switch_user(uid: int, gid: int, sys: _sys.Sys) -> None:
    """No supplementary groups, then the gid while CAP_SETGID is still ours, then the uid."""
    sys.setgroups([])
    sys.setresgid(gid, gid, gid)
    sys.setresuid(uid, uid, uid)


def chdir_checked(cwd: str) -> None:
    try:
        os.chdir(cwd)
    except FileNotFoundError:
        os.makedirs(cwd, exist_ok=True)
        os.chdir(cwd)
    if os.path.realpath(os.getcwd()) != os.path.realpath(cwd) or not os.getcwd().startswith("/"):
        raise OSError(13, "working directory is outside the container root", cwd)


def _oci_stage1(plan: Plan, sys: _sys.Sys) -> None:
    """What an OCI bundle asks before the namespaces: process limits and the OOM score (inherited
    by stage 2), and the namespaces it joins by path (the user namespace first: it decides what the
    others may be joined as)."""
    run_step("set resource limits", process.set_rlimits, plan.rlimits)
    if plan.oom_score_adj is not None:
        run_step("set oom_score_adj", process.set_oom_score_adj, plan.oom_score_adj,
              path="/proc/self/oom_score_adj")
    join = plan.join
    for n in sorted(join, key=lambda n: n != "user"):
        fd = run_step("open namespace", os.open, join[n], os.O_RDONLY | os.O_CLOEXEC, path=join[n])
        run_step("join namespace", sys.setns, fd, _sys.NAMESPACE_FLAGS[n], path=join[n])
        os.close(fd)
    if "uts" in join and plan.hostname:
        run_step("set hostname", sys.sethostname, plan.hostname)


def _exec_started(argv: list[str], env: dict) -> None:
    """After the start gate nobody listens on the set-up socket: a failed exec is told on stderr."""
    try:
        os.execvpe(argv[0], argv, env)
    except OSError as e:
        os.write(2, f"boxkit-runtime: cannot execute {argv[0]}: {os.strerror(e.errno or 0).lower()}\n".encode())
        os._exit(127 if e.errno == 2 else 126)


def execute(argv: list[str], env: dict, sock: socket.socket) -> None:
    try:
        os.execvpe(argv[0], argv, env)
    except OSError as e:
        code = 127 if e.errno == 2 else 126
        fail(sock, "exec", e, argv[0], code=code)


_FORWARDED = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGQUIT, signal.SIGUSR1,
              signal.SIGUSR2, signal.SIGWINCH, signal.SIGCONT)


def _reaper(argv: list[str], env: dict, sock: socket.socket, sys: _sys.Sys | None = None) -> None:
    """docker --init: PID 1 forwards signals to the command and reaps every orphan."""
    sys = sys or SYS
    child = os.fork()
    if child == 0:
        for s in _FORWARDED:
            signal.signal(s, signal.SIG_DFL)
        execute(argv, env, sock)
    # the handlers before the set-up socket closes: its EOF tells the caller that the container
    # runs, and a SIGTERM sent from then on must be forwarded — PID 1 drops a signal it has no
    # handler for, so one arriving a moment earlier would be lost and a stop() need its SIGKILL
    for s in _FORWARDED:
        signal.signal(s, lambda signum, _f: _forward(child, signum))
    sock.close()
    sys.set_comm("boxkit-init")
    status = 0
    while True:
        try:
            pid, st = os.wait()
        except ChildProcessError:
            break
        except InterruptedError:
            continue
        if pid == child:
            status = st
            break  # as tini: the container ends with its command; the PID namespace kills the rest
    if os.WIFSIGNALED(status):
        os._exit(128 + os.WTERMSIG(status))
    os._exit(os.WEXITSTATUS(status) if os.WIFEXITED(status) else STAGE_FAIL)


def _forward(child: int, signum: int) -> None:
    try:
        os.kill(child, signum)
    except ProcessLookupError:
        pass
