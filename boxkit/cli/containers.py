"""docker's container verbs: ``run`` (its foreground and ``-d``), ``ps``, ``exec``, ``logs``, ``stop``,
``kill``, ``rm``, ``start``, ``wait``, ``inspect``, ``top``.

A container is named by its id, a unique prefix of it, or its ``--name``. A container ``boxkit run``
started is held by its keeper (:mod:`boxkit.runtime.keeper`); one a notebook started is owned by that
kernel's zygote and these verbs still see it (``state.json``), exec into it and signal it — the kernel
keeps owning it and removes it when it ends.

Exit status, as docker's: a container's or exec'd command's own; 1 when the container named does not
exist or is in the wrong state ("No such container", "is not running"); 125 for bad input or when
boxkit itself fails; 126/127 when the command cannot be executed / is not found.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import sys
import time
from typing import TYPE_CHECKING

from ..errors import ContainerError, SpecError, from_wire
from ..i18n import N_, _
from ..runtime import protocol
from ..spec import parse_env, parse_user
from .run_args import STOP_TIMEOUT, spec_from_args
from .terminal import Relay, Signals, open_pty

if TYPE_CHECKING:
    from ..runtime.plan import Plan

# The library is imported inside the verbs that drive it (boxkit.runtime.container alone is ~30 ms of
# imports): ``boxkit ps`` or ``boxkit logs`` must not pay for the start path.


class NoSuchContainer(ContainerError):
    exit_code = 1

    def __init__(self, ref: str) -> None:
        super().__init__(N_("no such container:"), ref, hint=N_("boxkit ps -a lists them"))


class WrongState(ContainerError):
    exit_code = 1


# --- looking containers up ---------------------------------------------------------------------------

def records() -> list[dict]:
    # lazy: boxkit.cli loads no runtime module, so --help and the other verbs stay light
    from ..runtime import state

    out = []
    for cid in state.list_ids():
        st = state.read(cid)
        if st:
            out.append(st)
    return out


def resolve(ref: str) -> dict:
    """The state record of the container ``ref`` names: its id, its name, or a unique id prefix."""
    recs = records()
    for st in recs:
        if st["id"] == ref:
            return st
    named = [st for st in recs if st.get("name") == ref]
    if len(named) == 1:
        return named[0]
    pref = [st for st in recs if st["id"].startswith(ref)] if ref else []
    if len(pref) == 1:
        return pref[0]
    if len(pref) > 1:
        raise SpecError(N_("container"), ref, N_("is a prefix of {n} containers"), hint=N_("give more of the id"),
                        params={"n": len(pref)})
    raise NoSuchContainer(ref)


def status(st: dict) -> str:
    # lazy: as above, no runtime module at boxkit.cli's import
    from ..runtime import state

    if state.running(st):
        return "running"
    if st.get("status") == "exited" or state.owner_alive(st):
        return "exited"
    return "dead"   # its owner was killed outright: boxkit gc collects it


def _running(st: dict) -> dict:
    if status(st) != "running":
        raise WrongState(N_("container"), st["id"], detail=N_("is not running"), hint=N_("boxkit start it, or boxkit ps -a"))
    return st


# --- run -------------------------------------------------------------------------------------------

def cmd_run(a) -> int:
    # lazy: rootless loads ctypes (boxkit._sys); only a start needs it
    from ..runtime import rootless
    from ..runtime.container import build_plan  # lazy: runtime.container costs ~30 ms; only a start needs it

    spec = spec_from_args(a)
    rootless.require()   # root, or a user namespace of our own (boxkit probe says which)
    if spec.name:
        for st in records():
            if st.get("name") == spec.name and status(st) != "dead":
                raise SpecError(N_("container name"), spec.name, N_("is already in use by container {id}"),
                                hint=N_("choose another --name, or boxkit rm that container"), params={"id": st["id"]})
    plan = build_plan(spec)
    plan.tty = bool(a.tty)
    if a.detach:
        return _detached(plan, a.rm, a.tty, a.interactive)
    return foreground(plan, rm=a.rm, tty=a.tty, interactive=a.interactive, memory=a.memory,
                      stop_timeout=a.stop_timeout)


def _detached(plan: Plan, rm: bool, tty: bool, interactive: bool, restart: bool = False) -> int:
    # lazy: no runtime module at boxkit.cli's import (--help)
    from ..runtime import keeper

    sock, first = keeper.spawn(plan, [], detach=True, rm=rm, tty=tty, interactive=interactive, restart=restart)
    sock.close()
    _check_started(first)
    print(plan.id)
    return 0


def _check_started(first: dict) -> None:
    if not first.get(protocol.OK):
        raise from_wire(first.get("error", {}))


def foreground(plan: Plan, *, rm: bool, tty: bool, interactive: bool, memory=None,
               restart: bool = False, stop_timeout: float = STOP_TIMEOUT) -> int:
    """The container in the foreground: its stdio is ours (or a pty's), its exit code ours; SIGINT,
    SIGTERM and SIGHUP go to it, a second ^C kills it (docker compose's "press Ctrl+C again").

    A SIGTERM the container ignores — a PID 1 without a handler, such as ``sleep``, since the kernel
    drops signals to a namespace's init that it does not handle — would leave this command waiting
    forever, and a service manager that sent it thinking it stops the container. So, as ``docker
    stop``: ``stop_timeout`` seconds after the SIGTERM the container gets SIGKILL, and the command
    exits 143 (128 + SIGTERM), which says it ended because it was told to."""
    # lazy: no runtime module at boxkit.cli's import (--help)
    from ..runtime import keeper

    master = -1
    opened: list[int] = []
    if tty:
        master, slave = open_pty(0)
        stdio = [slave] * 3
        opened.append(slave)
    else:
        stdin = 0 if interactive else os.open("/dev/null", os.O_RDONLY | os.O_CLOEXEC)
        if stdin:
            opened.append(stdin)
        stdio = [stdin, 1, 2]
    with Signals() as sigs:
        try:
            sock, first = keeper.spawn(plan, stdio, detach=False, rm=rm, tty=tty, interactive=interactive,
                                       restart=restart)
        finally:
            for fd in opened:
                os.close(fd)
        try:
            _check_started(first)
            result: dict = {}
            interrupts = 0
            grace: dict = {}   # "until": when a SIGTERM's grace period ends; "killed": it ended in SIGKILL

            def on_keeper() -> None:
                try:
                    data = sock.recv(1 << 16)
                except OSError:
                    data = b""
                if not data:
                    result.setdefault("info", {"exit_code": 125})
                    return
                msg = json.loads(data)
                if msg.get(protocol.EVENT) == protocol.Event.EXITED:
                    result["info"] = msg["info"]

            def on_signal() -> None:
                nonlocal interrupts
                for s in sigs.take():
                    if s == signal.SIGINT:
                        interrupts += 1
                    if interrupts >= 2:
                        print("boxkit: " + _("second interrupt: killing the container"), file=sys.stderr)
                        s = signal.SIGKILL
                    if s == signal.SIGTERM:
                        grace.setdefault("until", time.monotonic() + stop_timeout)
                    _send(sock, protocol.request(protocol.Op.KILL, signal=int(s)))

            def grace_over() -> bool:
                if "until" in grace and "killed" not in grace and time.monotonic() >= grace["until"]:
                    grace["killed"] = True
                    _send(sock, protocol.request(protocol.Op.KILL, signal=int(signal.SIGKILL)))
                return "info" in result

            def wait_for() -> float | None:
                return None if "until" not in grace or "killed" in grace else \
                    max(0.0, grace["until"] - time.monotonic())

            if tty:
                with Relay(master, interactive) as relay:
                    relay.watch(sock, on_keeper)
                    relay.watch(sigs.r, on_signal)
                    relay.loop(grace_over, timeout=wait_for)
            else:
                import selectors

                sel = selectors.DefaultSelector()
                sel.register(sock, selectors.EVENT_READ, on_keeper)
                sel.register(sigs.r, selectors.EVENT_READ, on_signal)
                while not grace_over():
                    for key, _events in sel.select(wait_for()):
                        key.data()
                sel.close()
            info = result["info"]
            if grace.get("killed"):
                print("boxkit: " + _("container {id} ignored SIGTERM for {seconds} s: killed").format(
                    id=plan.id, seconds=stop_timeout), file=sys.stderr)
                return 128 + signal.SIGTERM
            if info.get("oom_killed"):
                print("boxkit: " + _("container {id} was killed by the kernel's OOM killer (memory limit {memory})").format(
                    id=plan.id, memory=memory), file=sys.stderr)
            return int(info["exit_code"])
        finally:
            sock.close()
            if master >= 0:
                os.close(master)


def _send(sock: socket.socket, msg: dict) -> None:
    try:
        sock.send(json.dumps(msg).encode())
    except OSError:
        pass


# --- signals, stop, wait, rm -----------------------------------------------------------------------------

def parse_signal(text: str) -> int:
    t = text.upper()
    if t.isdigit():
        n = int(t)
    else:
        t = t if t.startswith("SIG") else "SIG" + t
        n = getattr(signal, t, None)
        if not isinstance(n, int):
            raise SpecError(N_("signal"), text, N_("is not a signal name or number"), hint=N_("e.g. TERM, KILL, 15"))
    if not 0 < int(n) < 65:
        raise SpecError(N_("signal"), text, N_("is out of range"))
    return int(n)


def _signal(st: dict, sig: int) -> None:
    # lazy: no runtime module at boxkit.cli's import (--help)
    from ..runtime import keeper, state

    conn = keeper.connect(st["id"])
    if conn is not None:
        with conn:
            if keeper.request(conn, protocol.request(protocol.Op.KILL, signal=sig), 5):
                return
    if state.running(st):
        state.kill(st["pid"], sig)   # a notebook's container: its zygote sees the exit


def wait_exit(st: dict, timeout: float | None) -> dict | None:
    """Wait until the container ends; its exit info ({"exit_code": ...}), None on timeout."""
    # lazy: no runtime module at boxkit.cli's import (--help)
    from ..runtime import keeper, state

    deadline = None if timeout is None else time.monotonic() + timeout
    conn = keeper.connect(st["id"]) if status(st) == "running" else None
    if conn is not None:
        with conn:
            conn.settimeout(timeout)
            try:
                conn.send(protocol.encode(protocol.request(protocol.Op.WAIT)))
                while True:
                    data = conn.recv(1 << 16)
                    if not data:
                        break   # the keeper ended (killed?): fall through to the record
                    msg = json.loads(data)
                    if msg.get(protocol.EVENT) == protocol.Event.EXITED:
                        return msg["info"]
            except TimeoutError:
                return None
            except OSError:
                pass
    while state.running(st):
        if deadline is not None and time.monotonic() >= deadline:
            return None
        time.sleep(0.05)
    new = state.read(st["id"]) or st
    return {"exit_code": new.get("exit_code") if new.get("exit_code") is not None else 137}


def _each(refs: list[str], act, errors: tuple = (NoSuchContainer,)) -> int:
    """docker's way with a verb over several containers: each one that fails says why on stderr, the
    others still happen, and the exit status is 1 if any failed."""
    code = 0
    for ref in refs:
        try:
            act(ref)
        except errors as e:
            print(f"boxkit: {e}", file=sys.stderr)
            code = 1
    return code


def cmd_stop(a) -> int:
    def stop(ref: str) -> None:
        st = resolve(ref)
        if status(st) == "running":
            _signal(st, signal.SIGTERM)
            if wait_exit(st, a.time) is None:
                _signal(st, signal.SIGKILL)   # the grace period is over, as docker stop's
                wait_exit(st, 10)
        print(ref)

    return _each(a.containers, stop)


def cmd_kill(a) -> int:
    sig = parse_signal(a.signal)

    def kill(ref: str) -> None:
        _signal(_running(resolve(ref)), sig)
        print(ref)

    return _each(a.containers, kill, (NoSuchContainer, WrongState))


def cmd_wait(a) -> int:
    def wait(ref: str) -> None:
        info = wait_exit(resolve(ref), None)
        print(info["exit_code"] if info else "")

    return _each(a.containers, wait)


def cmd_rm(a) -> int:
    # lazy: no runtime module at boxkit.cli's import (--help)
    from ..runtime import keeper, state
    from ..runtime.rootless import remove_tree  # lazy: rootless loads ctypes (boxkit._sys); only rm needs it

    def remove(ref: str) -> None:
        st = resolve(ref)
        what = status(st)
        if what == "running" and not a.force:
            raise WrongState(N_("cannot remove container"), st["id"], detail=N_("it is running"),
                             hint=N_("boxkit stop it first, or boxkit rm -f"))
        conn = keeper.connect(st["id"]) if what == "running" else None
        if conn is not None:
            with conn:   # the keeper kills it, removes everything, then answers
                conn.settimeout(30)
                _send(conn, protocol.request(protocol.Op.REMOVE))
                try:
                    while conn.recv(1 << 16):
                        pass
                except OSError:
                    pass
        elif what == "running":
            state.kill(st["pid"])   # a notebook's: its kernel removes the rest when it notices
            print("boxkit: " + _("container {id} belongs to a notebook kernel, which removes its directory").format(
                id=st["id"]), file=sys.stderr)
        elif what == "dead":
            from ..collect import gc  # the collector loads cgroups, net and podman

            gc()
        else:
            remove_tree(os.path.dirname(keeper.sock_path(st["id"])))
        print(ref)

    return _each(a.containers, remove, (NoSuchContainer, WrongState))


def cmd_start(a) -> int:
    # lazy: no runtime module at boxkit.cli's import (--help)
    from ..runtime import keeper

    code = 0
    for ref in a.containers:
        st = resolve(ref)
        if status(st) == "running":
            print(ref)
            continue
        plan = keeper.read_plan(st["id"])
        if plan is None:
            raise WrongState(N_("cannot start container"), st["id"], detail=N_("it was not started by boxkit run"),
                             hint=N_("start it again from its notebook"))
        plan.restart = True
        if a.attach:
            return foreground(plan, rm=bool(st.get("rm")), tty=bool(plan.tty), interactive=False,
                              restart=True)
        sock, first = keeper.spawn(plan, [], detach=True, rm=bool(st.get("rm")), tty=bool(plan.tty),
                                   interactive=bool(st.get("interactive")), restart=True)
        sock.close()
        _check_started(first)
        print(ref)
    return code


# --- ps, logs, inspect, top ------------------------------------------------------------------------------

def cmd_ps(a) -> int:
    rows = []
    for st in records():
        what = status(st)
        if what == "running" or a.all:
            code = st.get("exit_code")
            text = "running" if what == "running" else (f"exited ({code})" if code is not None else what)
            rows.append({"id": st["id"], "name": st.get("name") or "", "image": st.get("image") or "",
                         "command": " ".join(st.get("argv", [])), "status": what, "exit_code": code,
                         "pid": st["pid"], "owner": "keeper" if st.get("keeper") else "notebook",
                         "text": text})
    if a.json:
        print(json.dumps([{k: v for k, v in r.items() if k != "text"} for r in rows]))
        return 0
    fmt = "{:<13} {:<16} {:<14} {:<31} {:<12} {:<8} {}"
    print(fmt.format("CONTAINER ID", "NAME", "IMAGE", "COMMAND", "STATUS", "OWNER", "PID"))
    for r in rows:
        print(fmt.format(r["id"], r["name"][:16], r["image"][-14:], r["command"][:31], r["text"], r["owner"],
                         r["pid"]))
    return 0


def cmd_logs(a) -> int:
    # lazy: no runtime module at boxkit.cli's import (--help)
    from ..runtime import keeper

    st = resolve(a.container)
    path = keeper.log_path(st["id"])
    try:
        f = open(path, "rb")
    except FileNotFoundError:
        if not st.get("detached"):
            print("boxkit: " + _("container {id} ran in the foreground: its output went to its terminal").format(
                id=st["id"]), file=sys.stderr)
        return 0
    with f:
        data = f.read()
        if a.tail is not None:
            lines = data.splitlines(keepends=True)
            data = b"".join(lines[-a.tail:]) if a.tail > 0 else b""
        out = sys.stdout.buffer
        out.write(data)
        out.flush()
        while a.follow:
            chunk = f.read()
            if chunk:
                out.write(chunk)
                out.flush()
                continue
            if status(st) != "running":
                out.write(f.read())
                out.flush()
                break
            time.sleep(0.1)
    return 0


def _iso(t) -> str:
    if not t:
        return "0001-01-01T00:00:00Z"
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + f".{int((t % 1) * 1e9):09d}Z"


def inspect_record(st: dict) -> dict:
    # lazy: no runtime module at boxkit.cli's import (--help)
    from ..runtime import keeper
    from ..runtime.plan import Plan

    # no plan on record (a container of boxkit.run, which has no keeper): nothing but the state file
    plan = keeper.read_plan(st["id"]) or Plan(cwd="", network="")
    what = status(st)
    lim = plan.limits
    return {
        "Id": st["id"], "Name": "/" + (st.get("name") or st["id"]), "Created": _iso(st.get("created")),
        "Path": (st.get("argv") or [""])[0], "Args": (st.get("argv") or [])[1:],
        "State": {"Status": what, "Running": what == "running", "Dead": what == "dead",
                  "Pid": st["pid"] if what == "running" else 0, "ExitCode": st.get("exit_code") or 0,
                  "OOMKilled": bool(st.get("oom_killed")), "StartedAt": _iso(st.get("started_at") or st.get("created")),
                  "FinishedAt": _iso(st.get("finished_at"))},
        "Image": st.get("image"), "LogPath": st.get("log") or "",
        "Config": {"Hostname": plan.hostname or "", "User": ":".join(map(str, plan.user)) if plan.user else "",
                   "Tty": bool(st.get("tty")), "OpenStdin": bool(st.get("interactive")),
                   "Env": [f"{k}={v}" for k, v in plan.env.items()], "Cmd": st.get("argv"),
                   "Image": st.get("image"), "WorkingDir": plan.cwd},
        "HostConfig": {"AutoRemove": bool(st.get("rm")), "ReadonlyRootfs": bool(plan.readonly),
                       "NetworkMode": plan.network, "Init": bool(plan.init),
                       "Memory": lim.get("memory") or 0, "MemoryReservation": lim.get("memory_high") or 0,
                       "MemorySwap": lim.get("memory_swap") or 0,
                       "NanoCpus": int(float(lim["cpus"]) * 1e9) if lim.get("cpus") else 0,
                       "CpuShares": lim.get("cpu_shares") or 0, "PidsLimit": lim.get("pids_limit"),
                       "CpusetCpus": lim.get("cpuset_cpus") or ""},
        "Mounts": [{"Type": "bind", "Source": m[0], "Destination": m[1], "RW": not m[2]}
                   for m in plan.mounts],
        "NetworkSettings": {"Networks": {plan.network: {}} if plan.network else {},
                            "Ports": {p: None for p in plan.publish} if isinstance(plan.publish, list)
                            and all(isinstance(p, str) for p in plan.publish) else {},
                            "SandboxKey": f"/proc/{st['pid']}/ns/net" if what == "running" else ""},
        "GraphDriver": {"Name": "overlay", "Data": {"UpperDir": plan.upper,
                                                    "LowerDir": ":".join(plan.layers)}},
    }


def cmd_inspect(a) -> int:
    out, code = [], 0
    for ref in a.containers:
        try:
            out.append(inspect_record(resolve(ref)))
        except NoSuchContainer:
            print("boxkit: " + _("no such object: {ref}").format(ref=ref), file=sys.stderr)
            code = 1
    print(json.dumps(out, indent=4))
    return code


def cmd_top(a) -> int:
    st = _running(resolve(a.container))
    ns = os.readlink(f"/proc/{st['pid']}/ns/pid")
    pids = []
    for p in os.listdir("/proc"):
        if p.isdigit():
            try:
                if os.readlink(f"/proc/{p}/ns/pid") == ns:
                    pids.append(int(p))
            except OSError:
                continue
    print(f"{'UID':<8} {'PID':<8} {'PPID':<8} CMD")
    for p in sorted(pids):
        try:
            with open(f"/proc/{p}/status") as f:
                fields = dict(line.split(":", 1) for line in f if ":" in line)
            with open(f"/proc/{p}/cmdline", "rb") as f:
                cmd = f.read().replace(b"\0", b" ").decode(errors="replace").strip()
        except OSError:
            continue
        print(f"{fields['Uid'].split()[0]:<8} {p:<8} {fields['PPid'].strip():<8} {cmd or fields['Name'].strip()}")
    return 0


# --- exec ------------------------------------------------------------------------------------------------

def cmd_exec(a) -> int:
    from .exec import run_exec  # lazy: it loads ctypes (boxkit._sys), which the other verbs do not need

    if a.command and a.command[0] == "--":
        a.command = a.command[1:]
    if not a.command:
        raise SpecError(N_("command"), "", N_("is missing"), hint=N_("boxkit exec CONTAINER CMD [ARG...]"))
    # the values first, as run does: a bad -e/-u/-w is bad input (125) whatever the container
    parse_env(a.env)
    parse_user(a.user)
    if a.workdir is not None and not a.workdir.startswith("/"):
        raise SpecError(N_("working directory"), a.workdir, N_("must be an absolute path"))
    st = _running(resolve(a.container))
    return run_exec(st, a)


def register(sub) -> None:
    def verb(name: str, help: str, func, *containers: str):
        p = sub.add_parser(name, help=help, description=help[0].upper() + help[1:] + ".")
        p.set_defaults(func=func)
        if containers:
            p.add_argument(*containers)
        return p

    ps = verb("ps", "list containers (running; -a: stopped too)", cmd_ps)
    ps.add_argument("-a", "--all", action="store_true")
    ps.add_argument("--json", action="store_true")
    e = sub.add_parser("exec", help="run a command in a running container",
                       description="Run a command in a running container (docker exec's flags).")
    e.add_argument("-i", "--interactive", action="store_true")
    e.add_argument("-t", "--tty", action="store_true")
    e.add_argument("-e", "--env", action="append", default=[], metavar="K=V")
    e.add_argument("-u", "--user", metavar="UID[:GID]")
    e.add_argument("-w", "--workdir", metavar="DIR")
    e.add_argument("container")
    e.add_argument("command", nargs=argparse.REMAINDER)
    e.set_defaults(func=cmd_exec)
    lg = verb("logs", "print what a detached container wrote", cmd_logs, "container")
    lg.add_argument("-f", "--follow", action="store_true")
    lg.add_argument("-n", "--tail", type=int, metavar="N")
    s = verb("stop", "stop containers: SIGTERM, then SIGKILL after the grace period", cmd_stop)
    s.add_argument("-t", "--time", type=float, default=10.0, metavar="SECONDS")
    s.add_argument("containers", nargs="+")
    k = verb("kill", "send a signal to containers (default SIGKILL)", cmd_kill)
    k.add_argument("-s", "--signal", default="KILL")
    k.add_argument("containers", nargs="+")
    r = verb("rm", "remove stopped containers (-f: running ones too)", cmd_rm)
    r.add_argument("-f", "--force", action="store_true")
    r.add_argument("containers", nargs="+")
    st = verb("start", "start stopped containers again", cmd_start)
    st.add_argument("-a", "--attach", action="store_true")
    st.add_argument("containers", nargs="+")
    w = verb("wait", "wait until containers stop; print their exit codes", cmd_wait)
    w.add_argument("containers", nargs="+")
    i = verb("inspect", "a container's configuration and state, as JSON", cmd_inspect)
    i.add_argument("containers", nargs="+")
    verb("top", "the processes of a running container", cmd_top, "container")
