"""A container by hand: the system calls of ``boxkit run``, one at a time, each on request.

A container is an ordinary process that made a handful of system calls before ``execve``. This module
lets a notebook make them one by one and look, after each, at what it changed:

===============  ===========================================================  ============================
step             the call                                                     what changes
===============  ===========================================================  ============================
``unshare``      ``unshare(CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWPID ...)``;   the ``/proc/self/ns`` links;
                 with a PID namespace, a ``fork``: the *child* is PID 1       the PID (now 1)
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

Why a helper process: ``unshare(CLONE_NEWNS)`` and ``unshare(CLONE_NEWUSER)`` refuse a multi-threaded
caller (EINVAL), and a notebook kernel runs several threads; a namespace entered by the kernel itself would
also stay entered for every later cell. So :class:`Box` starts ``python -m boxkit.byhand`` — one thread,
nothing else imported but :mod:`boxkit._sys` — and sends it step names over a pipe. It makes the calls
through :data:`boxkit._sys.SYS` (the same wrappers the runtime uses) and answers with what it sees: PID,
hostname, ``os.listdir("/")``, the mount table, ``CapEff``.

Clean-up is the package's job, not the notebook's. The helper runs in its own process group and with
``PR_SET_PDEATHSIG`` (it dies with the kernel); every mount it makes is in its private mount namespace,
which the kernel tears down when its last process ends; the upper and work directories are a temporary
directory the :class:`Box` removes. A step that fails or is interrupted (KeyboardInterrupt) ends the box,
and so do ``close()``, leaving a ``with`` block, garbage collection and interpreter exit.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import weakref
from dataclasses import dataclass, field

from .errors import BoxkitError, SpecError

STEPS = ("unshare", "private", "overlay", "proc", "pivot_root", "detach", "hostname", "caps", "exec")
# what must have happened first (the order of STEPS is enforced besides: no step after a later one)
NEEDS = {"private": "unshare", "overlay": "private", "proc": "overlay", "pivot_root": "overlay",
         "detach": "pivot_root", "hostname": "unshare", "caps": "unshare", "exec": "detach"}
NAMESPACES = ("mount", "uts", "ipc", "pid", "net", "cgroup")
OLDROOT = ".oldroot"


def check_step(done: list[str], ns: list[str], name: str, arg=None) -> None:
    """Raise :class:`SpecError` naming ``name`` when it is unknown, repeated, out of order, or missing what
    it needs; ``done`` are the steps made so far and ``ns`` the namespaces ``unshare`` entered."""
    if name not in STEPS:
        raise SpecError("step", name, "there is no such step", hint="the steps are " + ", ".join(STEPS))
    if name in done:
        raise SpecError("step", name, "it was done already", hint="start a new Box to do it again")
    later = [d for d in done if STEPS.index(d) > STEPS.index(name)]
    if later:
        raise SpecError("step", name, f"it comes before {later[0]}, which was done already",
                        hint="the order is " + " -> ".join(STEPS))
    need = NEEDS.get(name)
    if need and need not in done:
        raise SpecError("step", name, f"it needs {need} first", hint=f"call box.step({need!r}) before it")
    if name == "unshare":
        bad = [n for n in (arg or []) if n not in NAMESPACES]
        if not arg or bad:
            raise SpecError("namespaces", bad or arg, "unshare takes a list of " + ", ".join(NAMESPACES))
        if "mount" not in arg:
            # every later mount would land in the host's mount table
            raise SpecError("namespaces", arg, "without a mount namespace the mounts would be the host's",
                            hint="add 'mount'")
    if name == "hostname" and "uts" not in ns:
        raise SpecError("step", name, "without a UTS namespace it would rename the host",
                        hint="unshare 'uts' first")
    if name == "hostname" and not (isinstance(arg, str) and 0 < len(arg) <= 64):
        raise SpecError("hostname", arg, "a host name is 1 to 64 characters")


def parse_mountinfo(text: str) -> list[dict]:
    """The lines of ``/proc/PID/mountinfo`` as dicts: point, fstype, source, shared (peer group or None)."""
    out = []
    for line in text.splitlines():
        if " - " not in line:
            continue
        left, right = line.split(" - ", 1)
        f, r = left.split(), right.split()
        shared = next((o.split(":", 1)[1] for o in f[6:] if o.startswith("shared:")), None)
        out.append({"point": f[4].replace("\\040", " "), "fstype": r[0], "source": r[1] if len(r) > 1 else "",
                    "shared": shared})
    return out


def status_field(text: str, key: str) -> str:
    """A field of ``/proc/PID/status`` (``CapEff``, ``NoNewPrivs`` ...), '' when absent."""
    return next((line.split(":", 1)[1].strip() for line in text.splitlines() if line.startswith(key + ":")), "")


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
        for what in ("pid", "hostname", "cap_eff"):
            if self.differs(what):
                lines.append(f"  {what}: {self.before.get(what)} -> {self.after.get(what)}")
        if self.new_namespaces:
            lines.append("  new namespaces: " + ", ".join(self.new_namespaces))
        counts = [len(s.get("mounts", [])) for s in (self.before, self.after)]
        if counts[0] != counts[1]:
            lines.append(f"  mount table: {counts[0]} -> {counts[1]} lines")
        shared = [sum(1 for m in s.get("mounts", []) if m["shared"]) for s in (self.before, self.after)]
        if shared[0] != shared[1]:
            lines.append(f"  shared mounts: {shared[0]} -> {shared[1]}")
        if self.mounts_added:
            more = f" and {len(self.mounts_added) - 4} more" if len(self.mounts_added) > 4 else ""
            lines.append("  mounted: " + ", ".join(self.mounts_added[:4]) + more)
        if self.mounts_removed:
            lines.append(f"  unmounted: {len(self.mounts_removed)} mounts")
        if self.differs("ls"):
            lines.append("  ls /: " + " ".join(self.after.get("ls", [])))
        return "\n".join(lines)


def _end(proc: subprocess.Popen | None, tmp: str | None, fds: list[int]) -> None:
    """Kill the helper's process group (the PID 1 child with it), wait, close pipes, remove the dirs.
    A module-level function, so that :func:`weakref.finalize` holds no reference to the Box."""
    for fd in fds:
        try:
            os.close(fd)
        except OSError:
            pass
    fds.clear()
    if proc is not None and proc.poll() is None:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait()
    if proc is not None:
        for f in (proc.stdout, proc.stderr):
            if f is not None:
                f.close()
    if tmp:
        # the overlay was mounted in the helper's mount namespace only; it went with the helper
        shutil.rmtree(tmp, ignore_errors=True)


def _sweep() -> None:
    """Remove the directories of boxes whose owner was killed outright (SIGKILL runs no finalizer).
    Their helpers died with the owner (PR_SET_PDEATHSIG), and with them their mounts."""
    base = tempfile.gettempdir()
    for name in os.listdir(base):
        parts = name.split("-")
        if name.startswith("boxkit-byhand-") and len(parts) >= 4 and parts[2].isdigit():
            if not os.path.exists(f"/proc/{parts[2]}"):
                shutil.rmtree(os.path.join(base, name), ignore_errors=True)


class Box:
    """A container made step by step: ``Box("busybox")``, then :meth:`step` for each of :data:`STEPS`,
    :meth:`look` at any time, and :meth:`exec` last."""

    def __init__(self, image: str = "busybox"):
        # lazy: boxkit.images (hashlib, the store) only when a rootfs is made
        from .images import resolve

        self.image = image
        self.layers = resolve(image).layers          # bottom first, unpacked in boxkit's image store
        self.done: list[str] = []
        self.ns: list[str] = []
        self.proc: subprocess.Popen | None = None
        self._fds: list[int] = []
        _sweep()
        self.tmp = tempfile.mkdtemp(prefix=f"boxkit-byhand-{os.getpid()}-")
        self._finalizer = weakref.finalize(self, _end, None, self.tmp, self._fds)
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
        self._finalizer = weakref.finalize(self, _end, self.proc, self.tmp, self._fds)
        # the helper starts with PR_SET_PDEATHSIG, which fires when the *thread* that started it ends:
        # a notebook runs cells on its main thread, which lives as long as the kernel
        self.state = self._call({"step": "setup", "layers": self.layers, "tmp": self.tmp})

    # --- the pipe ----------------------------------------------------------------------------------
    def _send(self, msg: dict) -> None:
        if not self._fds:
            raise BoxkitError("cannot talk to the by-hand container", self.image, detail="it has ended",
                              hint="make a new Box")
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
            raise BoxkitError("cannot execute", reply.get("error"),
                              hint="check the command exists in the image; the box has ended")
        if not reply.get("ok"):
            raise BoxkitError(f"step {reply.get('step')} failed:", reply.get("error"),
                              hint="the box has ended; make a new Box and look at the error")
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
            raise BoxkitError(f"step {msg['step']}: the helper process ended", self.image, detail=err or None,
                              hint="make a new Box")
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
        """Make one step (see :data:`STEPS`) in the helper; return what it changed."""
        check_step(self.done, self.ns, name, arg)
        if name == "exec":
            raise SpecError("step", name, "exec ends the helper", hint="call box.exec(argv)")
        state = self._call({"step": name, "arg": arg})
        change = Change.of(name, self.state, state)
        self.state = state
        self.done.append(name)
        if name == "unshare":
            self.ns = list(arg)
        return change

    def look(self) -> dict:
        """The helper's view now: pid, hostname, ls (of ``/``), mounts, cap_eff, ns, status fields."""
        self.state = self._call({"step": "look"})
        return self.state

    def exec(self, argv: list[str], timeout: float = 30) -> subprocess.CompletedProcess:
        """``execve(argv)`` in the helper: it becomes the command. Returns its exit status and output;
        the box has ended after it."""
        check_step(self.done, self.ns, "exec")
        try:
            self._send({"step": "exec", "arg": list(argv)})
            if self._read() is not None:   # only an error answers; a successful execve closes the pipe
                raise BoxkitError("cannot execute", argv[0], hint="check the command exists in the image")
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


# --- the helper: a single-threaded step driver ------------------------------------------------------

def _look(merged: str | None = None) -> dict:
    with open("/proc/self/mountinfo") as f:
        mounts = parse_mountinfo(f.read())
    with open("/proc/self/status") as f:
        status = f.read()
    ns = {}
    for n in NAMESPACES:
        try:
            ns[n] = os.readlink(f"/proc/self/ns/{'mnt' if n == 'mount' else n}")
        except OSError:
            pass
    return {"pid": os.getpid(), "hostname": os.uname().nodename, "ls": sorted(os.listdir("/")),
            "mounts": mounts, "cap_eff": status_field(status, "CapEff"), "ns": ns,
            "no_new_privs": status_field(status, "NoNewPrivs"), "seccomp": status_field(status, "Seccomp"),
            "fds": sorted(int(x) for x in os.listdir("/proc/self/fd")),
            "merged_ls": sorted(os.listdir(merged)) if merged and os.path.isdir(merged) else []}


def _driver(cmd_fd: int, rep_fd: int) -> None:
    # lazy: _sys loads ctypes (~12 ms); only the driver child (a fork) calls into the kernel
    from . import _sys
    from ._sys import SYS
    from .security.capabilities import (  # it loads _sys too
        DEFAULT_MASK,  # now: after pivot_root no module of the host can be imported
    )

    SYS.prctl(_sys.PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() == 1:   # the kernel ended before the prctl
        os._exit(1)
    os.set_inheritable(rep_fd, False)   # close-on-exec: a successful execve is EOF for the Box
    commands = os.fdopen(cmd_fd, "rb", buffering=0)
    cfg: dict = {}

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
        merged = os.path.join(cfg["tmp"], "merged") if cfg and not cfg.get("pivoted") else None
        try:
            if name == "setup":
                cfg.update(layers=msg["layers"], tmp=msg["tmp"])
            elif name == "unshare":
                flags = 0
                for n in arg:
                    flags |= _sys.NAMESPACE_FLAGS[n]
                SYS.unshare(flags)
                if "pid" in arg:
                    # CLONE_NEWPID moves the *next child*: it is PID 1; this process only waits for it
                    child = os.fork()
                    if child:
                        os.close(rep_fd)
                        commands.close()
                        _, st = os.waitpid(child, 0)
                        code = os.waitstatus_to_exitcode(st)
                        os._exit(code if code >= 0 else 128 - code)   # a shell's 128+signal
                    SYS.prctl(_sys.PR_SET_PDEATHSIG, signal.SIGKILL)
            elif name == "private":
                SYS.mount(None, "/", None, _sys.MS_REC | _sys.MS_PRIVATE)
            elif name == "overlay":
                lower = ":".join(reversed(cfg["layers"]))   # overlay lists the top layer first
                opts = f"lowerdir={lower},upperdir={cfg['tmp']}/upper,workdir={cfg['tmp']}/work"
                SYS.mount("overlay", merged, "overlay", _sys.MS_NODEV | _sys.MS_NOSUID, opts)
            elif name == "proc":
                os.makedirs(f"{merged}/proc", exist_ok=True)
                SYS.mount("proc", f"{merged}/proc", "proc", _sys.MS_NOSUID | _sys.MS_NODEV | _sys.MS_NOEXEC)
            elif name == "pivot_root":
                os.makedirs(f"{merged}/{OLDROOT}", exist_ok=True)
                SYS.pivot_root(merged, f"{merged}/{OLDROOT}")
                os.chdir("/")
                merged = None
            elif name == "detach":
                SYS.umount2(f"/{OLDROOT}", _sys.MNT_DETACH)
                os.rmdir(f"/{OLDROOT}")
            elif name == "hostname":
                SYS.sethostname(arg)
            elif name == "caps":
                SYS.drop_bounding(DEFAULT_MASK)   # needs CAP_SETPCAP, so before capset
                SYS.capset(effective=DEFAULT_MASK, permitted=DEFAULT_MASK, inheritable=0)
            elif name == "exec":
                env = {"PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "HOME": "/root"}
                # the command pipe (cmd_fd) is left open on purpose: a by-hand container leaks it
                os.execve(shutil.which(arg[0], path=env["PATH"]) or arg[0], arg, env)
            elif name != "look":
                raise ValueError(f"unknown step {name!r}")
            cfg["pivoted"] = cfg.get("pivoted") or name == "pivot_root"
            reply({"ok": True, "step": name, "state": _look(merged)})
        except Exception as e:   # reported to the Box, which ends the helper
            what = f"{e.strerror} ({e.filename or name})" if isinstance(e, OSError) and e.strerror else repr(e)
            if name == "exec" and isinstance(e, OSError):
                what = f"{arg[0]}: {(e.strerror or str(e)).lower()}"
            reply({"ok": False, "step": name, "error": what})
            os._exit(1)


if __name__ == "__main__":
    _driver(int(sys.argv[1]), int(sys.argv[2]))
