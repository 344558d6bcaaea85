"""``boxkit exec``: join a running container's namespaces from the command itself.

The container's PID 1 is in ``state.json``; its namespaces are the files under ``/proc/PID/ns/``. The
command forks a process that opens them, ``setns()``\\ es into each and forks the command inside
(:func:`boxkit.runtime.join.start_in`, the path a zygote's exec takes too). The command is a
child sub-reaper, so the exec'd process — a grandchild — is re-parented to it and it alone learns the
exit status. Nothing goes through the container's owner, so exec works alike on a container a keeper
holds and on one a notebook kernel's zygote owns: the kernel keeps owning it, and when the container
ends (PID 1 exits, its PID namespace goes) the exec'd process is killed with it.

Which namespaces: every one whose ``/proc/PID/ns`` link differs from ours — what the container really
has, not what a record says it should.
"""

from __future__ import annotations

import os
import selectors
import signal

from .._sys import PR_SET_CHILD_SUBREAPER, SYS
from ..cgroups import open_group
from ..errors import SpecError
from ..i18n import N_
from ..runtime import keeper, process
from ..runtime.join import namespaces_of, start_in
from ..runtime.plan import Plan
from ..runtime.supervisor import decode_status
from ..spec import parse_env, parse_user
from .terminal import Relay, Signals, copy_window_size


def container_env(st: dict) -> dict[str, str]:
    """The container's environment: its plan's (a keeper's container), else PID 1's own."""
    plan = keeper.read_plan(st["id"])
    if plan and isinstance(plan.env, dict):
        return dict(plan.env)
    try:
        with open(f"/proc/{st['pid']}/environ", "rb") as f:
            items = f.read().split(b"\0")
    except OSError:
        return {"PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"}
    env = {}
    for item in items:
        k, sep, v = item.decode(errors="replace").partition("=")
        if sep:
            env[k] = v
    return env


def run_exec(st: dict, a) -> int:
    pid1 = st["pid"]
    ns = namespaces_of(pid1)
    rootless = bool(st.get("rootless")) or ("user" in ns and os.geteuid() != 0)
    plan = Plan(id=st["id"], ns=ns, rootless=[os.geteuid(), os.getegid()] if rootless else None,
                tty=bool(a.tty), argv=a.command)
    env = container_env(st)
    env.update(parse_env(a.env))
    user = parse_user(a.user)
    if user and rootless:
        if tuple(user) != (0, 0):
            raise SpecError(N_("user"), a.user, N_("a rootless container (not root) has only uid 0 inside"),
                            hint=N_("leave -u unset, or run as root"))
        user = None
    cwd = a.workdir or ((_plan_cwd(st)) or "/")
    procs: list[str] = []
    if os.geteuid() == 0 and not rootless:
        try:
            group = open_group(st["id"])
            procs = list(group.procs_files) if group is not None else []
        except OSError:   # its group gone: the container is ending, and the join will say so
            procs = []
    master = -1
    opened = []
    if a.tty:
        # the container's own devpts: the process in there sees /dev/pts/N as docker exec -t gives
        master, slave = process.container_pty(pid1, None)
        copy_window_size(0, slave)
        stdio = [slave] * 3
        opened.append(slave)
    else:
        stdin = 0 if a.interactive else os.open("/dev/null", os.O_RDONLY | os.O_CLOEXEC)
        if stdin:
            opened.append(stdin)
        stdio = [stdin, 1, 2]
    SYS.prctl(PR_SET_CHILD_SUBREAPER, 1)
    with Signals() as sigs:
        try:
            epid = start_in(pid1, plan, a.command, env, cwd, list(user) if user else None, stdio, procs)
        finally:
            for fd in opened:   # the joiner's copies are what the process gets
                os.close(fd)
        done: dict = {}

        def on_signal() -> None:
            for s in sigs.take():
                if s != signal.SIGCHLD:
                    try:
                        os.kill(epid, s)
                    except ProcessLookupError:
                        pass
            _poll(epid, done)

        if a.tty:
            with Relay(master, a.interactive) as relay:
                relay.watch(sigs.r, on_signal)
                _poll(epid, done)
                relay.loop(lambda: "code" in done)
            os.close(master)
        else:
            sel = selectors.DefaultSelector()
            sel.register(sigs.r, selectors.EVENT_READ, on_signal)
            _poll(epid, done)
            while "code" not in done:
                for key, _ in sel.select(1.0):
                    key.data()
                _poll(epid, done)
            sel.close()
    return done["code"]


def _plan_cwd(st: dict) -> str | None:
    plan = keeper.read_plan(st["id"])
    return plan.cwd if plan else None


def _poll(pid: int, done: dict) -> None:
    """Reap what ended (orphans the exec'd process left come to us too); note the exec'd one's code."""
    while True:
        try:
            got, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if got == 0:
            return
        if got == pid:
            done["code"] = decode_status(status)[0]
