"""The order of a container's set-up steps (:mod:`boxkit.runtime.init`), checked in-process without
root against the recording fake of the kernel seam (``tests/fakesys.py``).

Stage 1 makes the namespaces — the user namespace alone first, then waits for the supervisor to write
its id maps (``{"userns": pid}`` out, ``{"mapped": true}`` back) before it becomes root in there and
creates the others, which are then owned by it. Stage 2 (PID 1) builds the root, then confines itself:
capabilities' ceiling, user, the capability sets, no_new_privs, and the seccomp filter last before
``execve``. A step that fails is reported over the set-up socket with its name, and nothing after it
runs. The stages fork and end with ``os._exit``/``execve``; here ``fork`` answers as the parent would,
and ``_exit``/``execve`` raise instead of leaving (see the ``world`` fixture).
"""

from __future__ import annotations

import base64
import errno
import gc
import os
import signal
import socket
import threading

import pytest
from fakesys import FakeSys, forbid_direct_calls

from boxkit import _sys
from boxkit.runtime import caps, init, join
from boxkit.runtime.plan import Plan

PROGRAM = base64.b64encode(b"\0" * 8).decode()   # stands in for a compiled seccomp program
CHILD = 4242                                      # what the patched fork answers: the parent's view


def _plan(**kw) -> Plan:
    """A container plan as the supervisor hands it to the stages (the one place plans are built here)."""
    return Plan(**{"ns": ["mount", "uts", "ipc", "net", "pid", "cgroup"], "argv": ["/bin/true"],
                   "hostname": "box", "user": [1000, 1000], "seccomp": PROGRAM, **kw})


class Exited(BaseException):
    """``os._exit(code)`` in a test: the stage stops here."""

    def __init__(self, code: int):
        super().__init__(code)
        self.code = code


class Execd(BaseException):
    """``execve`` in a test: the command would run from here."""


@pytest.fixture
def world(monkeypatch):
    """The process-level calls a stage makes around the seam, made harmless and recorded: fork
    returns CHILD, ``_exit`` raises :class:`Exited`, ``execvpe`` raises :class:`Execd` (both noted in
    the fake's list, so their place among the calls is checked), ``setsid`` is noted, and the
    supervisor's signal and gc set-up stay as pytest has them. The os functions the seam wraps
    raise if called directly. Yields ``(fake factory, exit codes)``."""
    forbid_direct_calls(monkeypatch)
    state = {"fake": None}
    exits: list[int] = []

    def make(**kw) -> FakeSys:
        state["fake"] = FakeSys(**kw)
        return state["fake"]

    def note(name, **args):
        if state["fake"] is not None:
            state["fake"].note(name, **args)

    def fake_exit(code):
        exits.append(code)
        raise Exited(code)

    def fake_fork():
        note("fork")
        return CHILD

    def fake_exec(path, argv, env):
        note("execvpe", path=path)
        raise Execd(path)

    monkeypatch.setattr(os, "_exit", fake_exit)
    monkeypatch.setattr(os, "fork", fake_fork)
    monkeypatch.setattr(os, "execvpe", fake_exec)
    monkeypatch.setattr(os, "setsid", lambda: note("setsid"))
    monkeypatch.setattr(signal, "signal", lambda *a: None)
    monkeypatch.setattr(signal, "set_wakeup_fd", lambda *a, **kw: -1)
    monkeypatch.setattr(gc, "disable", lambda: None)
    cwd = os.getcwd()
    yield make, exits
    os.chdir(cwd)


@pytest.fixture
def pair():
    """The set-up socket: ``(stage's end, supervisor's end)``, as the supervisor makes it."""
    a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    a.settimeout(5)
    b.settimeout(5)
    yield a, b
    a.close()
    b.close()


def _messages(sock: socket.socket) -> list[dict]:
    sock.setblocking(False)
    out = []
    while True:
        try:
            out.append(init.recv(sock))
        except BlockingIOError:
            return out


def _supervisor(sock: socket.socket, fake: FakeSys, answer: dict, seen: list) -> threading.Thread:
    """The supervisor's half of the id-map hand-shake: note what stage 1 had done when it asked,
    then answer (the maps would be written here)."""
    def run() -> None:
        msg = init.recv(sock)
        seen.append((msg, fake.names()))
        init.send(sock, answer)

    t = threading.Thread(target=run, daemon=True)
    t.start()
    return t


# --- the fake itself ------------------------------------------------------------------------------

def test_the_fake_stands_in_for_every_method_of_the_seam():
    public = [n for n in vars(_sys.Sys) if not n.startswith("_") and callable(vars(_sys.Sys)[n])]
    assert {"setresuid", "setgroups", "chroot", "mknod", "chown", "setxattr", "pivot_root"} <= set(public)
    for name in public:
        assert getattr(FakeSys, name) is not getattr(_sys.Sys, name), f"{name} would reach the kernel"
    fake = FakeSys(fail={"pivot_root": errno.EINVAL})
    fake.chown(5, 1, 2)
    assert fake.calls == [("chown", 5, 1, 2, None, True)] and fake.calls[0].args["follow_symlinks"]
    with pytest.raises(OSError) as e:
        fake.pivot_root(".", ".")
    assert e.value.errno == errno.EINVAL and fake.failed == [("pivot_root", ".", ".")]
    assert fake.names() == ["chown", "pivot_root"]
    with pytest.raises(TypeError):
        fake.setresuid(0, 0)   # what the real method would refuse


# --- stage 1 --------------------------------------------------------------------------------------

@pytest.mark.parametrize("ns", [["mount", "pid"], ["mount", "uts", "ipc", "net", "pid", "cgroup"],
                                ["mount", "uts", "ipc", "net", "pid", "cgroup", "time"]])
def test_stage1_creates_the_plans_namespaces_in_one_unshare_then_forks(world, pair, ns):
    make, exits = world
    fake = make()
    with pytest.raises(Exited):
        init.stage1(_plan(ns=ns), pair[0], [0, 1, 2], None, fake)
    flags = 0
    for n in ns:
        if n != "cgroup":   # made by stage 2, once the supervisor moved it into its cgroup
            flags |= _sys.NAMESPACE_FLAGS[n]
    assert fake.calls == [("prctl", _sys.PR_SET_DUMPABLE, 0, 0, 0, 0), ("unshare", flags), ("fork",)]
    assert exits == [0] and _messages(pair[1]) == [{"pid": CHILD}]


def test_stage1_waits_for_the_id_maps_before_it_becomes_root_and_makes_the_rest(world, pair):
    make, exits = world
    fake = make()
    seen: list = []
    t = _supervisor(pair[1], fake, {"mapped": True}, seen)
    with pytest.raises(Exited):
        init.stage1(_plan(ns=["user", "mount", "pid", "net"]), pair[0], [0, 1, 2], None, fake)
    t.join(5)
    (asked, done_then), = seen
    assert asked == {"userns": os.getpid()}
    assert done_then == ["prctl", "unshare"], "only the user namespace exists while the maps are written"
    rest = _sys.CLONE_NEWNS | _sys.CLONE_NEWPID | _sys.CLONE_NEWNET
    assert fake.calls == [("prctl", _sys.PR_SET_DUMPABLE, 0, 0, 0, 0), ("unshare", _sys.CLONE_NEWUSER),
                          ("setresgid", 0, 0, 0), ("setresuid", 0, 0, 0), ("unshare", rest), ("fork",)]
    assert exits == [0] and _messages(pair[1]) == [{"pid": CHILD}]


def test_stage1_without_the_maps_goes_no_further(world, pair):
    make, exits = world
    fake = make()
    t = _supervisor(pair[1], fake, {"mapped": False}, [])
    with pytest.raises(Exited):
        init._namespaces(_plan(ns=["user", "mount", "pid"]), pair[0], fake)
    t.join(5)
    assert exits == [init.STAGE_FAIL]
    assert fake.names() == ["prctl", "unshare"], "neither root in there nor the other namespaces"


def test_a_failed_unshare_is_reported_with_its_step_and_nothing_follows(world, pair):
    make, exits = world
    fake = make(fail=lambda call: errno.EPERM if call.name == "unshare" else None)
    with pytest.raises(Exited):
        init.stage1(_plan(), pair[0], [0, 1, 2], None, fake)
    msg, = _messages(pair[1])
    assert (msg["error"], msg["errno"], msg["code"]) == ("create namespaces", errno.EPERM, init.STAGE_FAIL)
    assert fake.calls[-1] == fake.failed[0] and "fork" not in fake.names()
    assert exits == [init.STAGE_FAIL]


# --- confine: capabilities, user, no_new_privs ---------------------------------------------------

def test_confine_drops_the_ceiling_then_switches_user_then_the_sets_then_no_new_privs(world):
    make, _ = world
    fake = make()
    init.confine(_plan(), sys=fake)
    assert fake.calls == [
        ("drop_bounding", caps.DEFAULT_MASK),           # while CAP_SETPCAP is still held
        ("setgroups", []), ("setresgid", 1000, 1000, 1000), ("setresuid", 1000, 1000, 1000),
        ("clear_ambient",), ("capset", 0, 0, 0),         # a non-root uid keeps no capability
        ("prctl", _sys.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0),
    ]


def test_confine_as_root_inside_keeps_the_default_set(world):
    make, _ = world
    fake = make()
    init.confine(_plan(user=[0, 0]), sys=fake)
    assert fake.names() == ["drop_bounding", "setgroups", "setresgid", "setresuid", "clear_ambient",
                            "capset", "prctl"]
    assert fake.calls[5] == ("capset", caps.DEFAULT_MASK, caps.DEFAULT_MASK, 0)


def test_confine_without_no_new_privs_loads_the_filter_first(world):
    make, _ = world
    fake = make()
    init.confine(_plan(no_new_privs=False, user=None), sys=fake)
    assert fake.calls == [("load_seccomp", b"\0" * 8), ("drop_bounding", caps.DEFAULT_MASK),
                          ("clear_ambient",), ("capset", caps.DEFAULT_MASK, caps.DEFAULT_MASK, 0)]


def test_confine_asks_the_kernel_what_all_is(world):
    make, _ = world
    held = caps.DEFAULT_MASK | 1 << _sys.CAPABILITIES["CAP_SYS_ADMIN"]
    fake = make(returns={"capget": (held, held, 0)})
    init.confine(_plan(user=None, caps=(1 << 41) - 1), sys=fake)
    assert fake.calls[0] == ("capget", 0)
    assert ("capset", held, held, 0) in fake.calls


def test_a_refused_user_switch_stops_confine_before_the_capability_sets(world):
    make, _ = world
    fake = make(fail={"setresuid": errno.EINVAL})
    with pytest.raises(init.Step) as e:
        init.confine(_plan(), sys=fake)
    assert (e.value.step, e.value.errno, e.value.path) == ("set user", errno.EINVAL, "1000:1000")
    assert fake.names()[-1] == "setresuid" and "capset" not in fake.names()


# --- stage 2 --------------------------------------------------------------------------------------

def _stage2(fake: FakeSys, pair, tmp_path, **kw) -> None:
    init.send(pair[1], {"go": True})
    init.stage2(_plan(merged=str(tmp_path), **kw), pair[0], [0, 1, 2],
                lambda target: fake.note("mount_root", target=target), fake)


def test_stage2_builds_the_root_then_confines_then_filters_then_execs(world, pair, tmp_path):
    make, _ = world
    fake = make()
    init.send(pair[1], {"go": True})
    with pytest.raises(Execd):
        # _container, below stage2's handlers: they would report the stand-in execve as a failure
        init._container(_plan(merged=str(tmp_path)), pair[0], [0, 1, 2],
                        lambda target: fake.note("mount_root", target=target), sys=fake)
    names = fake.names()
    assert fake.calls[0] == ("unshare", _sys.CLONE_NEWCGROUP), "in the cgroup the supervisor put us in"
    assert fake.calls[1] == ("link_up", "lo")
    assert fake.calls[2] == ("mount", None, "/", None, _sys.MS_REC | _sys.MS_PRIVATE, None)
    assert names[3] == "mount_root"
    after = names[names.index("umount2") + 1:]
    closes = after.count("close_range")
    assert closes >= 1
    assert after == ["sethostname", "setsid", *["close_range"] * closes, "drop_bounding", "setgroups",
                     "setresgid", "setresuid", "clear_ambient", "capset", "prctl", "load_seccomp",
                     "execvpe"]
    assert names.index("pivot_root") == names.index("umount2") - 1


@pytest.mark.parametrize("method,step", [
    ("pivot_root", "set up root file system"),
    ("sethostname", "set hostname"),
    ("drop_bounding", "drop capabilities"),
    ("setresuid", "set user"),
    ("capset", "drop capabilities"),
    ("prctl", "set no_new_privs"),
    ("load_seccomp", "load seccomp filter"),
])
def test_stage2_reports_the_failed_step_and_runs_nothing_after_it(world, pair, tmp_path, method, step):
    make, exits = world
    fake = make(fail={method: errno.EPERM})
    with pytest.raises(Exited):
        _stage2(fake, pair, tmp_path)
    msg, = _messages(pair[1])
    assert (msg["error"], msg["errno"]) == (step, errno.EPERM)
    assert fake.calls[-1].name == method and fake.failed == [fake.calls[-1]], "nothing after the failure"
    assert exits == [init.STAGE_FAIL]


def test_stage2_waits_for_go(world, pair, tmp_path):
    make, exits = world
    fake = make()
    init.send(pair[1], {})
    with pytest.raises(Exited):
        init.stage2(_plan(merged=str(tmp_path)), pair[0], [0, 1, 2], lambda t: None, fake)
    assert exits[0] == init.STAGE_FAIL and fake.calls == []


# --- exec: joining a running container ------------------------------------------------------------

def test_exec_joins_the_user_namespace_first_then_becomes_root_then_the_root(world, pair):
    make, exits = world
    fake = make()
    plan = _plan(ns=["user", "mount", "pid", "net"])
    with pytest.raises(Exited):
        # our own namespace files stand in for PID 1's; the fork answers as the parent
        join.joiner(os.getpid(), plan, ["/bin/true"], {}, "/", None, [0, 1, 2], pair[0], [], sys=fake)
    assert exits[0] == 0
    assert _messages(pair[1])[0] == {"pid": CHILD}
    assert [c.name if c.name != "setns" else ("setns", c.args["nstype"]) for c in fake.calls] == [
        "prctl", ("setns", _sys.CLONE_NEWUSER), ("setns", _sys.CLONE_NEWNET), ("setns", _sys.CLONE_NEWPID),
        ("setns", _sys.CLONE_NEWNS), "setgroups", "setresgid", "setresuid", "fchdir", "chroot", "fork"]


# --- rootless stage 1: its own user namespace, no hand-shake ----------------------------------------

class _ProcFile:
    """``open("/proc/self/uid_map", "w")`` in a test: the write is noted in the fake's list."""

    def __init__(self, fake: FakeSys, path: str, missing: set[str]):
        if os.path.basename(path) in missing:
            raise FileNotFoundError(errno.ENOENT, "No such file or directory", path)
        self.fake, self.path = fake, path

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def write(self, text: str) -> int:
        self.fake.note("write", path=self.path, text=text)
        return len(text)


def _proc_files(monkeypatch, fake: FakeSys, missing: set[str] = frozenset()) -> None:
    from boxkit.runtime import rootless

    monkeypatch.setattr(rootless, "open", lambda path, mode="r": _ProcFile(fake, path, missing), raising=False)


def _names(calls) -> list:
    out = []
    for c in calls:
        if c.name == "unshare":
            out.append(("unshare", c.args["flags"]))
        elif c.name == "write":
            out.append(("write", os.path.basename(c.args["path"]), c.args["text"]))
        elif c.name == "prctl":
            out.append(("prctl", c.args["option"], c.args["arg2"]))
        else:
            out.append(c.name)
    return out


def test_rootless_stage1_maps_itself_becomes_root_and_only_then_turns_non_dumpable(world, pair, monkeypatch):
    make, _exits = world
    fake = make()
    _proc_files(monkeypatch, fake)
    plan = _plan(ns=["user", "mount", "uts", "ipc", "net", "pid", "cgroup"], rootless=[1000, 1001])
    init._namespaces(plan, pair[0], fake)
    rest = _sys.CLONE_NEWNS | _sys.CLONE_NEWUTS | _sys.CLONE_NEWIPC | _sys.CLONE_NEWNET | _sys.CLONE_NEWPID
    assert _names(fake.calls) == [
        ("unshare", _sys.CLONE_NEWUSER),
        ("write", "setgroups", "deny"),   # before gid_map: an unprivileged writer must deny setgroups first
        ("write", "uid_map", "0 1000 1\n"), ("write", "gid_map", "0 1001 1\n"),
        "setresgid", "setresuid",
        ("unshare", rest),   # every other namespace at once, owned by the new user namespace
        ("prctl", _sys.PR_SET_DUMPABLE, 0)]   # last: a non-dumpable process's uid_map belongs to root
    assert _messages(pair[1]) == []   # no supervisor writes our maps: we wrote them ourselves


def test_rootless_stage1_goes_on_where_the_kernel_has_no_setgroups_file(world, pair, monkeypatch):
    make, _exits = world
    fake = make()
    _proc_files(monkeypatch, fake, missing={"setgroups"})   # linux < 3.19
    init._namespaces(_plan(ns=["user", "mount"], rootless=[1000, 1000]), pair[0], fake)
    assert ("write", "uid_map", "0 1000 1\n") in _names(fake.calls)
    assert _names(fake.calls)[-1] == ("prctl", _sys.PR_SET_DUMPABLE, 0)


def test_rootless_stage1_without_a_uid_map_stops_and_names_the_step(world, pair, monkeypatch):
    make, _exits = world
    fake = make()
    _proc_files(monkeypatch, fake, missing={"uid_map"})
    with pytest.raises(init.Step) as e:
        init._namespaces(_plan(ns=["user", "mount"], rootless=[1000, 1000]), pair[0], fake)
    assert (e.value.step, e.value.errno, e.value.path) == ("create user namespace", errno.ENOENT,
                                                           "/proc/self/uid_map")
    assert _names(fake.calls) == [("unshare", _sys.CLONE_NEWUSER), ("write", "setgroups", "deny")]


# --- an OCI bundle's user and capability sets -------------------------------------------------------

def _oci_plan(ambient: list[str]) -> Plan:
    sets = {"bounding": ["CAP_CHOWN", "CAP_KILL", "CAP_NET_BIND_SERVICE"],
            "effective": ["CAP_KILL", "CAP_NET_BIND_SERVICE"], "permitted": ["CAP_KILL", "CAP_NET_BIND_SERVICE"],
            "inheritable": ["CAP_NET_BIND_SERVICE"], "ambient": ambient}
    return _plan(cap_sets={k: _sys.cap_mask(v) for k, v in sets.items()}, ids=[1000, 1000],
                 additional_gids=[5, 20])


def test_oci_user_switch_keeps_the_capabilities_across_it_then_sets_them(world):
    from boxkit.runtime import process

    make, _exits = world
    fake = make()
    process.switch_user_keep_caps(_oci_plan(["CAP_NET_BIND_SERVICE"]), fake)
    caps = _oci_plan([]).cap_sets
    assert _names(fake.calls) == [
        "drop_bounding",
        ("prctl", _sys.PR_SET_KEEPCAPS, 1),   # else setresuid from 0 clears permitted and effective
        "setgroups", "setresgid", "setresuid",   # groups and gid while still root: after, EPERM
        ("prctl", _sys.PR_SET_KEEPCAPS, 0),
        "clear_ambient", "capset",
        ("prctl", _sys.PR_CAP_AMBIENT, process.PR_CAP_AMBIENT_RAISE)]   # ambient last: needs inheritable
    assert fake.calls[0].args["keep"] == caps["bounding"]
    assert fake.calls[2].args["groups"] == [5, 20]
    assert fake.calls[3][1:] == (1000, 1000, 1000) and fake.calls[4][1:] == (1000, 1000, 1000)
    capset = fake.calls[7].args
    assert (capset["effective"], capset["permitted"], capset["inheritable"]) == (
        caps["effective"], caps["permitted"], caps["inheritable"])
    assert fake.calls[8].args["arg3"] == _sys.CAPABILITIES["CAP_NET_BIND_SERVICE"]


@pytest.mark.parametrize("eno, raised", [(errno.EPERM, False), (errno.EINVAL, False), (errno.EIO, True)])
def test_oci_ambient_raise_refused_is_skipped_as_runc_does_anything_else_fails(world, eno, raised):
    from boxkit.runtime import process

    make, _exits = world

    def refuse(call):
        return eno if call.name == "prctl" and call.args["option"] == _sys.PR_CAP_AMBIENT else None

    fake = make(fail=refuse)
    plan = _oci_plan(["CAP_KILL", "CAP_NET_BIND_SERVICE"])   # CAP_KILL is not inheritable: EPERM
    if raised:
        with pytest.raises(OSError):
            process.switch_user_keep_caps(plan, fake)
        assert len(fake.failed) == 1   # the first failure stops it
    else:
        process.switch_user_keep_caps(plan, fake)
        assert len(fake.failed) == 2   # both were tried


# --- init=True: the reaper in front of the command ----------------------------------------------------

class _Sock:
    def __init__(self, fake: FakeSys):
        self.fake = fake

    def close(self) -> None:
        self.fake.note("close set-up socket")

    def fileno(self) -> int:
        return -1


@pytest.mark.parametrize("status, code", [(3 << 8, 3), (signal.SIGTERM, 128 + signal.SIGTERM), (0, 0)])
def test_the_reaper_forwards_before_the_set_up_ends_reaps_orphans_and_ends_with_its_command(
        world, monkeypatch, status, code):
    make, exits = world
    fake = make()
    handlers: dict = {}

    def install(signum, handler):
        fake.note("signal", signum=signum)
        handlers[signum] = handler

    waits = iter([(777, 0), (CHILD, status)])   # an orphan the command left, then the command itself
    killed: list = []
    monkeypatch.setattr(signal, "signal", install)
    monkeypatch.setattr(os, "wait", lambda: next(waits))
    monkeypatch.setattr(os, "kill", lambda pid, sig: killed.append((pid, sig)))
    with pytest.raises(Exited):
        init._reaper(["/bin/true"], {}, _Sock(fake), fake)
    assert exits == [code]
    names = [c.name for c in fake.calls]
    assert names == ["fork"] + ["signal"] * len(init._FORWARDED) + ["close set-up socket", "set_comm"]
    assert set(handlers) == set(init._FORWARDED)
    handlers[signal.SIGTERM](signal.SIGTERM, None)   # docker stop: PID 1 passes it on
    assert killed == [(CHILD, signal.SIGTERM)]
    monkeypatch.setattr(os, "kill", lambda pid, sig: (_ for _ in ()).throw(ProcessLookupError()))
    handlers[signal.SIGINT](signal.SIGINT, None)   # the command already gone: no error
