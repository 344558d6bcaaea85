"""A container by hand: the system calls of ``boxkit run``, one at a time, each on request.

A container is an ordinary process that made a handful of system calls before ``execve``. This module
lets a notebook make them one by one and look, after each, at what it changed:

===============  ===========================================================  ============================
step             the call                                                     what changes
===============  ===========================================================  ============================
``cgroup``       (the notebook's process) ``mkdir`` a memory cgroup, write    ``/proc/PID/cgroup``
                 its limit, write the helper's PID to ``cgroup.procs``
``unshare``      ``unshare(CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWPID ...)``;   the ``/proc/self/ns`` links;
                 with a PID namespace, a ``fork``: the *child* is PID 1       the PID (now 1)
``uid_map``      (the notebook's process) write ``setgroups``, ``uid_map``,    the uid and gid inside and
                 ``gid_map`` of a new user namespace; then the helper        outside
                 ``setresgid``/``setresuid(0)``
``private``      ``mount(NULL, "/", NULL, MS_REC | MS_PRIVATE)``               ``shared:N`` leaves the
                                                                              mount table
``overlay``      ``mount("overlay", merged, "overlay", "lowerdir=...")``       one mount more
``proc``         ``mount("proc", merged/proc, "proc")``                       a procfs of the new PID
                                                                              namespace
``pivot_root``   ``pivot_root(merged, merged/.oldroot)``; ``chdir("/")``       ``ls /`` is the image's
``detach``       ``umount2("/.oldroot", MNT_DETACH)``                          the host's mounts are gone
``hostname``     ``sethostname(name)``                                        ``uname -n``
``caps``         ``prctl(PR_CAPBSET_DROP)`` for each capability, ``capset``   ``CapEff``
``exec``         ``execve(argv)``                                             the process *is* the command
===============  ===========================================================  ============================

:func:`show` prints the code that makes a step: each is a short function of this module.

Why a helper process, and not the notebook's own: ``unshare`` moves only the *calling thread* into the
new namespaces, and a notebook kernel runs several threads, which would stay outside; ``CLONE_NEWPID``
moves no one at all, only the caller's next child; and a namespace the kernel entered would stay entered
for every later cell, with nothing to end it. (``unshare(CLONE_NEWNS)`` itself accepts a multi-threaded
caller: the kernel adds ``CLONE_FS`` and gives the caller its own copy of the root and cwd.
``unshare(CLONE_NEWUSER)`` refuses one with EINVAL, because it implies ``CLONE_THREAD``; and ``setns``
into a mount namespace refuses a caller whose root and cwd are shared with another thread.) So
:class:`Box` starts ``python -m boxkit.byhand`` — one thread — and sends it step names over a pipe. It
makes the calls through :data:`boxkit._sys.SYS` (the same wrappers the runtime uses) and answers with
what it sees: PID, uid, hostname, ``os.listdir("/")``, the mount table, ``CapEff``, its cgroups.

Two steps write files of the *host*, as a runtime does from outside the container: ``cgroup`` (the
memory cgroup files) and ``uid_map`` (the new user namespace's maps, which only a process of the parent
user namespace may write for another uid than its own). The notebook's process writes them.

Clean-up is the package's job, not the notebook's. The helper runs in its own process group and with
``PR_SET_PDEATHSIG`` (it dies with the kernel); every mount it makes is in its private mount namespace,
which the kernel tears down when its last process ends; the upper and work directories are a temporary
directory, and the cgroup a directory, that the :class:`Box` removes. A step that fails or is
interrupted (KeyboardInterrupt) ends the box, and so do ``close()``, leaving a ``with`` block, garbage
collection and interpreter exit.
"""

from __future__ import annotations

import errno
import inspect
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import weakref
from dataclasses import dataclass, field

from . import _sys
from ._sys import SYS
from .errors import BoxkitError, SpecError
from .i18n import N_, _, ngettext
from .security.capabilities import DEFAULT_MASK

STEPS = ("cgroup", "unshare", "uid_map", "private", "overlay", "proc", "pivot_root", "detach", "hostname",
         "caps", "exec")
# what must have happened first (the order of STEPS is enforced besides: no step after a later one)
NEEDS = {"uid_map": "unshare", "private": "unshare", "overlay": "private", "proc": "overlay",
         "pivot_root": "overlay", "detach": "pivot_root", "hostname": "unshare", "caps": "unshare",
         "exec": "detach"}
NAMESPACES = ("mount", "uts", "ipc", "pid", "net", "cgroup", "user")
OLDROOT = ".oldroot"
# i18n: what a SpecError calls a step of a container made by hand ("invalid step 'detach': ...")
STEP = N_("step")
PREFIX = "boxkit-byhand-"


def check_step(done: list[str], ns: list[str], name: str, arg=None, *, strict: bool = True) -> None:
    """Raise :class:`SpecError` naming ``name`` when it is unknown, repeated, out of order, or missing what
    it needs; ``done`` are the steps made so far and ``ns`` the namespaces ``unshare`` entered.

    ``strict=False`` lets the kernel judge the order instead (a step out of order then fails with the
    kernel's errno), and keeps only what protects the host: no step but ``cgroup`` before ``unshare``
    (its mounts would be the host's), no mount before ``private`` (it could propagate to the host),
    no ``hostname`` without a UTS namespace."""
    if name not in STEPS:
        raise SpecError(STEP, name, N_("there is no such step"), hint=N_("the steps are {steps}"),
                        params={"steps": ", ".join(STEPS)})
    if name in done:
        raise SpecError(STEP, name, N_("it was done already"), hint=N_("start a new Box to do it again"))
    if strict:
        later = [d for d in done if STEPS.index(d) > STEPS.index(name)]
        if later:
            raise SpecError(STEP, name, N_("it comes before {later}, which was done already"),
                            hint=N_("the order is {order}"), params={"later": later[0], "order": " -> ".join(STEPS)})
        need = NEEDS.get(name)
        if need and need not in done:
            raise SpecError(STEP, name, N_("it needs {need} first"), hint=N_("call box.step('{need}') before it"),
                            params={"need": need})
    elif name not in ("cgroup", "unshare") and "unshare" not in done:
        raise SpecError(STEP, name, N_("without unshare it would act on the host's namespaces"),
                        hint=N_("call box.step('unshare', [...]) first"))
    elif name in ("overlay", "proc") and "private" not in done:
        raise SpecError(STEP, name, N_("before private a new mount could propagate to the host"),
                        hint=N_("call box.step('private') first"))
    if name == "unshare":
        bad = [n for n in (arg or []) if n not in NAMESPACES]
        if not arg or bad:
            raise SpecError("namespaces", bad or arg, N_("unshare takes a list of {namespaces}"),
                            params={"namespaces": ", ".join(NAMESPACES)})
        if "mount" not in arg:
            # every later mount would land in the host's mount table
            raise SpecError("namespaces", arg, N_("without a mount namespace the mounts would be the host's"),
                            hint=N_("add 'mount'"))
    if name == "uid_map":
        if "user" not in ns:
            raise SpecError(STEP, name, N_("it maps the ids of a new user namespace"),
                            hint=N_("unshare 'user' first"))
        ints = isinstance(arg, (tuple, list)) and len(arg) == 2 and all(
            isinstance(x, int) and not isinstance(x, bool) for x in arg)
        if not ints or arg[0] < 0 or arg[1] < 1 or arg[0] + arg[1] > 1 << 32:
            raise SpecError("uid_map", arg, N_("give (the first id outside, how many), like (100000, 65536)"))
    if name == "cgroup" and not (isinstance(arg, int) and not isinstance(arg, bool) and arg >= 1 << 20):
        raise SpecError(N_("memory limit"), arg, N_("give the limit in bytes, at least 1 MiB, like 64 << 20"))
    if name == "hostname" and "uts" not in ns:
        raise SpecError(STEP, name, N_("without a UTS namespace it would rename the host"),
                        hint=N_("unshare 'uts' first"))
    if name == "hostname" and not (isinstance(arg, str) and 0 < len(arg) <= 64):
        raise SpecError("hostname", arg, N_("a host name is 1 to 64 characters"))


def parse_mountinfo(text: str) -> list[dict]:
    """The lines of ``/proc/PID/mountinfo`` as dicts: point, fstype, source, shared (its peer group or
    None) and master (the peer group it receives from as a slave, or None)."""
    out = []
    for line in text.splitlines():
        if " - " not in line:
            continue
        left, right = line.split(" - ", 1)
        f, r = left.split(), right.split()

        def tag(name: str, f=f) -> str | None:
            return next((o.split(":", 1)[1] for o in f[6:] if o.startswith(name + ":")), None)

        out.append({"point": f[4].replace("\\040", " "), "fstype": r[0], "source": r[1] if len(r) > 1 else "",
                    "shared": tag("shared"), "master": tag("master")})
    return out


def status_field(text: str, key: str) -> str:
    """A field of ``/proc/PID/status`` (``CapEff``, ``NoNewPrivs`` ...), '' when absent."""
    return next((line.split(":", 1)[1].strip() for line in text.splitlines() if line.startswith(key + ":")), "")


def memory_controller() -> tuple[str, str]:
    """Where this host makes a memory cgroup, and the name of its limit file: the v1 ``memory``
    hierarchy (``memory.limit_in_bytes``), else a cgroup2 root whose children get the memory controller
    (``memory.max``)."""
    with open("/proc/self/mountinfo") as f:
        lines = f.read().splitlines()
    v2 = []
    for line in lines:
        left, _sep, right = line.partition(" - ")
        r, point = right.split(), left.split()[4]
        if len(r) >= 3 and r[0] == "cgroup" and "memory" in r[2].split(","):
            return point, "memory.limit_in_bytes"
        if r and r[0] == "cgroup2":
            v2.append(point)
    for point in v2:
        try:
            with open(f"{point}/cgroup.subtree_control") as f:
                if "memory" in f.read().split():
                    return point, "memory.max"
        except OSError:
            pass
    raise BoxkitError(N_("cannot find a memory cgroup to write a limit in"), "/sys/fs/cgroup",
                      hint=N_("this host gives no memory controller; see boxkit probe"))


@dataclass
class Change:
    """What one step changed, from the helper's view before and after it."""

    step: str
    before: dict
    after: dict
    mounts_added: list[str] = field(default_factory=list)
    mounts_removed: list[str] = field(default_factory=list)

    @classmethod
    def of(cls, step: str, before: dict, after: dict) -> Change:
        def keys(s):
            return [f"{m['point']} ({m['fstype']})" for m in s.get("mounts", [])]

        b, a = keys(before), keys(after)
        return cls(step, before, after, [k for k in a if k not in b], [k for k in b if k not in a])

    @property
    def added(self) -> list[dict]:
        """The mounts this step made, as :func:`parse_mountinfo` dicts."""
        return [m for m in self.after.get("mounts", []) if f"{m['point']} ({m['fstype']})" in self.mounts_added]

    @property
    def new_namespaces(self) -> list[str]:
        b = self.before.get("ns", {})
        return [n for n, link in self.after.get("ns", {}).items() if b.get(n) != link]

    def differs(self, what: str) -> bool:
        return self.before.get(what) != self.after.get(what)

    def __str__(self) -> str:
        lines = [f"{self.step}:"]
        for what in ("pid", "uid", "hostname", "cap_eff"):
            if self.differs(what):
                lines.append(f"  {what}: {self.before.get(what)} -> {self.after.get(what)}")
        if self.new_namespaces:
            lines.append("  " + _("new namespaces: {names}").format(names=", ".join(self.new_namespaces)))
        counts = [len(s.get("mounts", [])) for s in (self.before, self.after)]
        if counts[0] != counts[1]:
            lines.append("  " + _("mount table: {before} -> {after} lines").format(before=counts[0],
                                                                                   after=counts[1]))
        shared = [sum(1 for m in s.get("mounts", []) if m["shared"]) for s in (self.before, self.after)]
        if shared[0] != shared[1]:
            lines.append("  " + _("shared mounts: {before} -> {after}").format(before=shared[0], after=shared[1]))
        if self.mounts_added:
            first = ", ".join(self.mounts_added[:4])
            more = len(self.mounts_added) - 4
            if more > 0:
                # i18n: {mounts} lists the first four mounts a step made, as "/proc (proc)"
                lines.append("  " + ngettext("mounted: {mounts} and {n} more", "mounted: {mounts} and {n} more",
                                             more).format(mounts=first, n=more))
            else:
                lines.append("  " + _("mounted: {mounts}").format(mounts=first))
        if self.mounts_removed:
            n = len(self.mounts_removed)
            lines.append("  " + ngettext("unmounted: {n} mounts", "unmounted: {n} mounts", n).format(n=n))
        if self.differs("ls"):
            lines.append("  ls /: " + " ".join(self.after.get("ls", [])))
        return "\n".join(lines)


def _remove_group(group: str) -> None:
    # the helper's PID-1 child may still be exiting (the host's init reaps it): a bounded wait
    for _i in range(300):
        try:
            os.rmdir(group)
            return
        except FileNotFoundError:
            return
        except OSError as e:
            if e.errno != errno.EBUSY:
                return
        time.sleep(0.01)


def _children(pid: int) -> list[int]:
    """The PIDs of ``pid``'s children (the helper has one, PID 1, after ``unshare`` with a PID namespace)."""
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            return [int(x) for x in f.read().split()]
    except OSError:
        return []


def _end(proc: subprocess.Popen | None, tmp: str | None, fds: list[int], groups: list[str]) -> None:
    """Kill PID 1 (the helper reaps it), then the helper's process group, wait, close pipes, remove the
    dirs and the cgroup. A module-level function, so that :func:`weakref.finalize` holds no reference to the
    Box."""
    for fd in fds:
        try:
            os.close(fd)
        except OSError:
            pass
    fds.clear()
    if proc is not None and proc.poll() is None:
        # PID 1 first: the helper, which only waits for it, reaps it and exits. Killed together, PID 1
        # would be an orphan that the host's init reaps whenever it gets to it.
        pid1 = _children(proc.pid)
        for child in pid1:
            try:
                os.kill(child, signal.SIGKILL)
            except ProcessLookupError:
                pass
        if pid1:
            try:
                os.kill(proc.pid, signal.SIGCONT)   # a stopped helper (^Z, SIGSTOP) could not reap it
                proc.wait(timeout=10)
            except (ProcessLookupError, subprocess.TimeoutExpired):
                pass   # the helper's group is killed below; the host's init reaps the orphan
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait()
    if proc is not None:
        for f in (proc.stdout, proc.stderr):
            if f is not None:
                f.close()
    for group in groups:
        _remove_group(group)
    groups.clear()
    if tmp:
        # the overlay was mounted in the helper's mount namespace only; it went with the helper
        shutil.rmtree(tmp, ignore_errors=True)


def _owner_gone(name: str) -> bool:
    """Is ``boxkit-byhand-<owner pid>-...`` a name whose owner process has ended?"""
    parts = name.split("-")
    return (name.startswith(PREFIX) and len(parts) >= 4 and parts[2].isdigit()
            and not os.path.exists(f"/proc/{parts[2]}"))


def _sweep() -> None:
    """Remove the directories and cgroups of boxes whose owner was killed outright (SIGKILL runs no
    finalizer). Their helpers died with the owner (PR_SET_PDEATHSIG), and with them their mounts."""
    base = tempfile.gettempdir()
    for name in os.listdir(base):
        if _owner_gone(name):
            shutil.rmtree(os.path.join(base, name), ignore_errors=True)
    try:
        hierarchy, _limit = memory_controller()
        names = os.listdir(hierarchy)
    except OSError:
        return
    for name in names:
        if _owner_gone(name):
            try:
                os.rmdir(os.path.join(hierarchy, name))
            except OSError:
                pass   # a process is still in it; the next sweep tries again


class Box:
    """A container made step by step: ``Box("busybox")``, then :meth:`step` for each of :data:`STEPS`,
    :meth:`look` at any time, and :meth:`exec` last. ``strict=False`` lets the kernel refuse a step out of
    order (see :func:`check_step`)."""

    def __init__(self, image: str = "busybox", *, strict: bool = True):
        # lazy: boxkit.images (hashlib, the store) only when a rootfs is made
        from .images import resolve

        self.image = image
        self.strict = strict
        self.layers = resolve(image).layers          # bottom first, unpacked in boxkit's image store
        self.done: list[str] = []
        self.ns: list[str] = []
        self.cgroups: list[str] = []                 # the cgroup directories made; removed by close()
        self.proc: subprocess.Popen | None = None
        self._fds: list[int] = []
        _sweep()
        self.tmp = tempfile.mkdtemp(prefix=f"{PREFIX}{os.getpid()}-")
        self._finalizer = weakref.finalize(self, _end, None, self.tmp, self._fds, self.cgroups)
        try:
            self._spawn()
        except BaseException:
            self.close()
            raise

    def _spawn(self) -> None:
        cmd_r, cmd_w = os.pipe()
        rep_r, rep_w = os.pipe()
        os.set_inheritable(cmd_r, True)
        os.set_inheritable(rep_w, True)
        self._fds[:] = [cmd_w, rep_r]   # closed by the finalizer from here on, whatever fails
        for sub in ("upper", "work", "merged"):
            os.mkdir(os.path.join(self.tmp, sub), 0o755)
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "BOXKIT_NO_GC": "1",
               "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
        try:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "boxkit.byhand", str(cmd_r), str(rep_w)], env=env,
                stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                pass_fds=(cmd_r, rep_w), start_new_session=True)
        finally:
            os.close(cmd_r)
            os.close(rep_w)
        self._reply = os.fdopen(rep_r, "rb", buffering=0, closefd=False)
        self._finalizer.detach()
        self._finalizer = weakref.finalize(self, _end, self.proc, self.tmp, self._fds, self.cgroups)
        # the helper starts with PR_SET_PDEATHSIG, which fires when the *thread* that started it ends:
        # a notebook runs cells on its main thread, which lives as long as the kernel
        self.state = self._call({"step": "setup", "layers": self.layers, "tmp": self.tmp})

    @property
    def pid(self) -> int:
        """The host's PID of the process that makes the steps: the helper, or after ``unshare`` with a
        PID namespace its child (PID 1 inside)."""
        if self.proc is None:
            raise BoxkitError(N_("the by-hand container has no process"), self.image, hint=N_("make a new Box"))
        if "pid" not in self.ns:
            return self.proc.pid
        with open(f"/proc/{self.proc.pid}/task/{self.proc.pid}/children") as f:
            return int(f.read().split()[0])

    # --- the pipe ----------------------------------------------------------------------------------
    def _send(self, msg: dict) -> None:
        if not self._fds:
            raise BoxkitError(N_("cannot talk to the by-hand container"), self.image, detail=N_("it has ended"),
                              hint=N_("make a new Box"))
        os.write(self._fds[0], json.dumps(msg).encode() + b"\n")

    def _read(self) -> dict | None:
        line = b""
        while not line.endswith(b"\n"):
            chunk = self._reply.read(1)
            if not chunk:
                return None   # EOF: the helper exec'd (the pipe is close-on-exec) or died
            line += chunk
        reply = json.loads(line)
        if not reply.get("ok") and reply.get("step") == "exec":
            raise BoxkitError(N_("cannot execute"), reply.get("error"), errno=reply.get("errno"), detail="",
                              hint=N_("check the command exists in the image; the box has ended"))
        if not reply.get("ok"):
            raise BoxkitError(N_("step {step} failed:"), reply.get("error"), errno=reply.get("errno"),
                              detail="", hint=N_("the box has ended; make a new Box and look at the error"),
                              params={"step": reply.get("step")})
        return reply.get("state")

    def _call(self, msg: dict) -> dict:
        try:
            self._send(msg)
            state = self._read()
        except BaseException:
            self.close()   # a failed or interrupted step leaves nothing behind
            raise
        if state is None:
            err = self._stderr()
            self.close()
            raise BoxkitError(N_("step {step}: the helper process ended"), self.image, detail=err or None,
                              hint=N_("make a new Box"), params={"step": msg["step"]})
        return state

    def _stderr(self) -> str:
        if self.proc is None or self.proc.stderr is None:
            return ""
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            return ""
        lines = self.proc.stderr.read().decode(errors="replace").strip().splitlines()
        return lines[-1] if lines else ""   # the last line of a traceback names the exception

    # --- the steps -----------------------------------------------------------------------------------
    def step(self, name: str, arg=None) -> Change:
        """Make one step (see :data:`STEPS`; :func:`show` prints its code); return what it changed."""
        check_step(self.done, self.ns, name, arg, strict=self.strict)
        if name == "exec":
            raise SpecError(STEP, name, N_("exec ends the helper"), hint=N_("call box.exec(argv)"))
        if name in HOST_SIDE:
            try:
                HOST_SIDE[name](self, arg)
            except OSError as e:
                self.close()
                raise BoxkitError(N_("step {step} failed:"), f"{e.strerror} ({e.filename})", errno=e.errno,
                                  detail="", hint=N_("the box has ended; make a new Box"),
                                  params={"step": name}) from e
            except BaseException:
                self.close()
                raise
        state = self._call({"step": name, "arg": arg})
        change = Change.of(name, self.state, state)
        self.state = state
        self.done.append(name)
        if name == "unshare":
            self.ns = list(arg)
        return change

    def look(self) -> dict:
        """The helper's view now: pid, uid, hostname, ls (of ``/``), mounts, cap_eff, ns, cgroup, status
        fields."""
        self.state = self._call({"step": "look"})
        return self.state

    def exec(self, argv: list[str], timeout: float = 30) -> subprocess.CompletedProcess:
        """``execve(argv)`` in the helper: it becomes the command. Returns its exit status and output;
        the box has ended after it."""
        check_step(self.done, self.ns, "exec", strict=self.strict)
        try:
            self._send({"step": "exec", "arg": list(argv)})
            if self._read() is not None:   # only an error answers; a successful execve closes the pipe
                raise BoxkitError(N_("cannot execute"), argv[0], hint=N_("check the command exists in the image"))
            out, err = self.proc.communicate(timeout=timeout)
            return subprocess.CompletedProcess(argv, self.proc.returncode, out.decode(errors="replace"),
                                               err.decode(errors="replace"))
        finally:
            self.close()

    def close(self) -> None:
        self._finalizer()

    @property
    def closed(self) -> bool:
        return not self._finalizer.alive

    def __enter__(self) -> Box:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


# --- the steps' code: the notebook's process writes the host's files for two of them --------------

def _cgroup(box: Box, limit: int) -> None:
    hierarchy, limit_file = memory_controller()    # v1: .../memory, memory.limit_in_bytes
    group = f"{hierarchy}/{PREFIX}{os.getpid()}-{box.pid}"
    os.mkdir(group)                                # a new cgroup is a new directory
    box.cgroups.append(group)                      # close() removes it, once the helper has ended
    with open(f"{group}/{limit_file}", "w") as f:
        f.write(str(limit))
    with open(f"{group}/cgroup.procs", "w") as f:
        f.write(str(box.pid))                      # the helper moves in; its children start in it


def _uid_map(box: Box, ids: tuple[int, int]) -> None:
    outside, count = ids                           # id 0 inside is `outside` on the host, and so on
    for name, text in (("setgroups", "deny"), ("uid_map", f"0 {outside} {count}"),
                       ("gid_map", f"0 {outside} {count}")):
        with open(f"/proc/{box.pid}/{name}", "w") as f:
            f.write(text)                          # a map is written once, for good


HOST_SIDE = {"cgroup": _cgroup, "uid_map": _uid_map}


# --- the helper: a single-threaded step driver ------------------------------------------------------

def _wait_for(child: int, cfg: dict) -> None:
    """The helper after its PID-1 child is forked: wait for it, and end with its exit status."""
    os.close(cfg["rep_fd"])
    cfg["commands"].close()
    _pid, st = os.waitpid(child, 0)
    code = os.waitstatus_to_exitcode(st)
    os._exit(code if code >= 0 else 128 - code)   # a shell's 128+signal


def _unshare(cfg: dict, arg: list[str]) -> None:
    flags = 0
    for name in arg:
        flags |= _sys.NAMESPACE_FLAGS[name]        # CLONE_NEWNS, CLONE_NEWUTS, CLONE_NEWPID ...
    SYS.unshare(flags)                             # moves this thread (this process has one)
    if "pid" in arg:                               # CLONE_NEWPID moves only the next child: PID 1
        child = os.fork()
        if child:
            _wait_for(child, cfg)                  # this process only waits for PID 1
        SYS.prctl(_sys.PR_SET_PDEATHSIG, signal.SIGKILL)


def _become_root(cfg: dict, arg) -> None:
    SYS.setresgid(0, 0, 0)                         # ids of the namespace: gid_map says what 0 is
    SYS.setresuid(0, 0, 0)                         # becoming 0 inside keeps the capabilities


def _private(cfg: dict, arg) -> None:
    SYS.mount(None, "/", None, _sys.MS_REC | _sys.MS_PRIVATE)


def _overlay(cfg: dict, arg) -> None:
    lower = ":".join(reversed(cfg["layers"]))      # overlay lists the top layer first
    opts = f"lowerdir={lower},upperdir={cfg['tmp']}/upper,workdir={cfg['tmp']}/work"
    SYS.mount("overlay", cfg["merged"], "overlay", _sys.MS_NODEV | _sys.MS_NOSUID, opts)


def _proc(cfg: dict, arg) -> None:
    os.makedirs(f"{cfg['merged']}/proc", exist_ok=True)
    flags = _sys.MS_NOSUID | _sys.MS_NODEV | _sys.MS_NOEXEC
    # a procfs lists the PID namespace of the process that mounts it
    SYS.mount("proc", f"{cfg['merged']}/proc", "proc", flags)


def _pivot_root(cfg: dict, arg) -> None:
    os.makedirs(f"{cfg['merged']}/{OLDROOT}", exist_ok=True)
    SYS.pivot_root(cfg["merged"], f"{cfg['merged']}/{OLDROOT}")   # the old root moves to /.oldroot
    os.chdir("/")
    cfg["merged"] = None                           # it is / now


def _detach(cfg: dict, arg) -> None:
    SYS.umount2(f"/{OLDROOT}", _sys.MNT_DETACH)    # cut off now, freed when nothing uses it
    os.rmdir(f"/{OLDROOT}")


def _hostname(cfg: dict, arg: str) -> None:
    SYS.sethostname(arg)


def _caps(cfg: dict, arg) -> None:
    # execve gives root its bounding set back, so cut that first (it needs CAP_SETPCAP, held now)
    SYS.drop_bounding(DEFAULT_MASK)
    SYS.capset(effective=DEFAULT_MASK, permitted=DEFAULT_MASK, inheritable=0)


def _exec(cfg: dict, arg: list[str]) -> None:
    env = {"PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "HOME": "/root"}
    # the command pipe is left open on purpose: a by-hand container leaks it
    os.execve(shutil.which(arg[0], path=env["PATH"]) or arg[0], arg, env)


HELPER = {"unshare": _unshare, "uid_map": _become_root, "private": _private, "overlay": _overlay,
          "proc": _proc, "pivot_root": _pivot_root, "detach": _detach, "hostname": _hostname,
          "caps": _caps, "exec": _exec}


def source(name: str) -> str:
    """The code that makes step ``name``: what the notebook's process writes on the host (``cgroup``,
    ``uid_map``) and what the helper runs, as this module has it."""
    if name not in STEPS:
        raise SpecError(STEP, name, N_("there is no such step"), hint=N_("the steps are {steps}"),
                        params={"steps": ", ".join(STEPS)})
    parts = []
    if name in HOST_SIDE:
        # i18n: a comment line printed above the code of a step (keep the leading "# " and the colon)
        parts.append(_("# the notebook's process, on the host:") + "\n" + inspect.getsource(HOST_SIDE[name]))
    if name in HELPER:
        # i18n: a comment line printed above the code of a step (keep the leading "# " and the colon)
        parts.append(_("# the helper, in its namespaces:") + "\n" + inspect.getsource(HELPER[name]))
    return "\n".join(p.rstrip() + "\n" for p in parts).rstrip()


def show(name: str) -> None:
    """Print the code that makes step ``name`` (see :func:`source`)."""
    print(source(name))


def _look(merged: str | None = None) -> dict:
    with open("/proc/self/mountinfo") as f:
        mounts = parse_mountinfo(f.read())
    with open("/proc/self/status") as f:
        status = f.read()
    with open("/proc/self/cgroup") as f:
        cgroup = f.read().splitlines()
    ns = {}
    for n in NAMESPACES:
        try:
            ns[n] = os.readlink(f"/proc/self/ns/{'mnt' if n == 'mount' else n}")
        except OSError:
            pass
    return {"pid": os.getpid(), "uid": os.getuid(), "gid": os.getgid(), "hostname": os.uname().nodename,
            "ls": sorted(os.listdir("/")), "root_owner": os.stat("/").st_uid,
            "mounts": mounts, "cap_eff": status_field(status, "CapEff"), "cap_bnd": status_field(status, "CapBnd"),
            "ns": ns, "cgroup": cgroup,
            "no_new_privs": status_field(status, "NoNewPrivs"), "seccomp": status_field(status, "Seccomp"),
            "fds": sorted(int(x) for x in os.listdir("/proc/self/fd")),
            "merged_ls": sorted(os.listdir(merged)) if merged and os.path.isdir(merged) else []}


def _driver(cmd_fd: int, rep_fd: int) -> None:
    SYS.prctl(_sys.PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() == 1:   # the kernel ended before the prctl
        os._exit(1)
    os.set_inheritable(rep_fd, False)   # close-on-exec: a successful execve is EOF for the Box
    commands = os.fdopen(cmd_fd, "rb", buffering=0)
    cfg: dict = {"rep_fd": rep_fd, "commands": commands, "merged": None}

    def reply(msg: dict) -> None:
        os.write(rep_fd, json.dumps(msg).encode() + b"\n")

    while True:
        line = b""
        while not line.endswith(b"\n"):
            c = commands.read(1)
            if not c:
                os._exit(0)   # the Box closed the pipe
            line += c
        msg = json.loads(line)
        name, arg = msg["step"], msg.get("arg")
        try:
            if name == "setup":
                cfg.update(layers=msg["layers"], tmp=msg["tmp"], merged=os.path.join(msg["tmp"], "merged"))
            elif name in HELPER:
                HELPER[name](cfg, arg)
            elif name not in ("look", "cgroup"):   # cgroup: the Box wrote the files; the helper looks
                raise ValueError(f"unknown step {name!r}")
            reply({"ok": True, "step": name, "state": _look(cfg["merged"])})
        except Exception as e:   # reported to the Box, which ends the helper
            what = f"{e.strerror} ({e.filename or name})" if isinstance(e, OSError) and e.strerror else repr(e)
            if name == "exec" and isinstance(e, OSError):
                what = f"{arg[0]}: {(e.strerror or str(e)).lower()}"
            reply({"ok": False, "step": name, "error": what,
                   "errno": e.errno if isinstance(e, OSError) else None})
            os._exit(1)


if __name__ == "__main__":
    _driver(int(sys.argv[1]), int(sys.argv[2]))
