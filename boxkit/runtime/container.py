"""The caller's side: ``boxkit.run(...)`` and the :class:`Container` handle.

``run`` turns a :class:`~boxkit.spec.ContainerSpec` and an image into a *plan* (:class:`.plan.Plan`, JSON on the wire): the layer
directories, the command after the image's ``ENTRYPOINT``/``CMD``, the environment, the namespaces —
and hands it to the zygote (:mod:`.zygote`) with the container's stdio pipes. A thread collects
stdout and stderr (and feeds stdin); the zygote reports the exit. The caller's thread never forks.

A notebook's stop button raises ``KeyboardInterrupt`` in the cell: ``run`` kills the container and
removes everything it made before re-raising. ``with Container(...) as c:`` does the same on any exit.
"""

from __future__ import annotations

import os
import queue
import secrets
import signal
import sys
import threading
import time
from dataclasses import dataclass, field

from .. import paths
from ..errors import ContainerError, SpecError
from ..i18n import N_
from ..images import resolve
from ..spec import DEFAULT_PATH, ContainerSpec, parse_env, parse_user
from . import caps, rootless, state
from .client import _Interrupted, _rebuild_error, _shutdown, client  # noqa: F401 (_rebuild_error, _shutdown: re-exported)
from .inroot import secure_join
from .plan import Plan
from .protocol import OK, Op, request


@dataclass
class Result:
    """How a container (or an exec) ended."""
    exit_code: int
    signal: int | None = None
    oom_killed: bool = False
    timed_out: bool = False
    stdout: str = ""
    stderr: str = ""
    wall_time: float = 0.0
    stats: dict = field(default_factory=dict)
    id: str = ""
    # set by Container.stop(): seconds from its SIGTERM to the container's end, and whether the
    # grace period ran out so that it had to send SIGKILL (docker stop's "did not stop in time")
    stop_time: float | None = None
    sigkill_after_grace: bool = False

    @property
    def ok(self) -> bool:
        return self.exit_code == 0

    def __repr__(self) -> str:
        bits = [f"exit_code={self.exit_code}"]
        if self.signal:
            bits.append(f"signal={signal.Signals(self.signal).name}")
        if self.oom_killed:
            bits.append("oom_killed=True")
        if self.timed_out:
            bits.append("timed_out=True")
        bits.append(f"wall_time={self.wall_time:.3f}s")
        if self.stop_time is not None:
            bits.append(f"stop_time={self.stop_time:.3f}s")
            bits.append(f"sigkill_after_grace={self.sigkill_after_grace}")
        if self.stdout:
            bits.append(f"stdout={self.stdout[:60]!r}")
        return f"Result({', '.join(bits)})"


# --- plans -------------------------------------------------------------------------------------

def build_plan(spec: ContainerSpec, cid: str | None = None) -> Plan:
    """Resolve the image and turn the spec into the data the container side needs."""
    cid = cid or secrets.token_hex(6)
    if spec.image is not None:
        image = resolve(spec.image)
        layers, config = list(image.layers), image.config
    else:
        layers, config = [spec.rootfs], None
    argv = list(spec.argv)
    if config is not None:
        entry = list(config.entrypoint or [])
        argv = entry + (argv or list(config.cmd or []))
    if not argv:
        raise SpecError(N_("command"), "", N_("the image has no CMD; give a command to run"))
    env = {"PATH": DEFAULT_PATH, "HOSTNAME": spec.hostname or cid, "HOME": "/root"}
    if config is not None:
        for item in config.env or []:
            k, _, v = item.partition("=")
            env[k] = v
    env.update(spec.env)
    cwd = spec.cwd
    if cwd == "/" and config is not None and config.workdir:
        cwd = config.workdir
    user = spec.user
    if user is None and config is not None and config.user:
        user = _image_user(config.user, layers)
    d = paths.container_dir(cid)
    hostname = spec.hostname or cid
    files = {"/etc/hostname": hostname + "\n"}
    if spec.network in ("none",) or spec.network.startswith("container:"):
        files["/etc/hosts"] = f"127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost\n127.0.1.1\t{hostname}\n"
    join_net = None
    if spec.network.startswith("container:"):
        other = spec.network.split(":", 1)[1]
        st = state.find_by_name(other) or state.read(other)
        if not st:
            raise SpecError(N_("network"), spec.network, N_("no running container named {name}"),
                            params={"name": other})
        join_net = f"/proc/{st['pid']}/ns/net"
    plan = Plan(
        id=cid, name=spec.name, image=spec.image or spec.rootfs,
        layers=layers, upper=os.path.join(d, "upper"), work=os.path.join(d, "work"),
        merged=os.path.join(d, "merged"),
        argv=argv, env=env, cwd=cwd, user=list(user) if user else None,
        hostname=hostname, ns=list(spec.namespaces),
        uid_map=list(spec.uid_map) if spec.uid_map else None, time_offset=spec.time_offset,
        readonly=spec.readonly, mounts=[[m.source, m.target, m.readonly] for m in spec.mounts],
        init=spec.init, cgroupfs=spec.cgroupfs, network=spec.network if not join_net else "none",
        join_net=join_net, publish=list(spec.publish), files=files,
        limits={k: v for k, v in vars(spec.limits).items() if v is not None},
        **caps.plan_security(spec),
    )
    # without root: a user namespace of the caller's own, and nothing that needs the host's root
    return rootless.adapt(plan, spec) if rootless.wanted() else plan


def _image_user(text: str, layers: list[str]) -> tuple[int, int]:
    """An image's ``User``: numbers, or names looked up in the image's own /etc/passwd and /etc/group
    (the top-most layer that has the file; read without following symlinks out of the layer)."""
    name, _, group = text.partition(":")
    if name.isdigit() and (not group or group.isdigit()):
        return parse_user(text)  # type: ignore[return-value]

    def lookup(file: str, key: str) -> tuple[int, int] | None:
        for layer in reversed(layers):
            path = secure_join(layer, file)
            try:
                fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
            except OSError:
                continue
            with os.fdopen(fd) as f:
                for line in f:
                    parts = line.strip().split(":")
                    if len(parts) >= 4 and parts[0] == key and parts[2].isdigit():
                        return int(parts[2]), int(parts[3]) if parts[3].isdigit() else int(parts[2])
            return None
        return None

    found = (int(name), int(name)) if name.isdigit() else lookup("/etc/passwd", name)
    if found is None:
        raise SpecError(N_("image user"), text, N_("not found in the image's /etc/passwd"),
                        hint=N_("use UID[:GID] numbers"))
    uid, gid = found
    if group:
        g = int(group) if group.isdigit() else (lookup("/etc/group", group) or (None, None))[0]
        if g is None:
            raise SpecError(N_("image group"), text, N_("not found in the image's /etc/group"))
        gid = g
    return uid, gid


# --- the handle --------------------------------------------------------------------------------

class Container:
    """A container started from a spec. ``start()``, ``wait()``, ``exec()``, ``kill()``, ``stop()``,
    ``remove()``; a context manager that always removes what it made."""

    def __init__(self, spec: ContainerSpec, *, stream: bool = False, stdin: bytes | str | None = None):
        self.spec = spec
        self.stream = stream
        self.stdin_data = stdin.encode() if isinstance(stdin, str) else stdin
        self.id = secrets.token_hex(6)
        self.name = spec.name
        self.pid: int | None = None
        self.plan = Plan()
        self.result: Result | None = None
        self._out: list[bytes] = []
        self._err: list[bytes] = []
        self._readers: list[threading.Thread] = []
        self._chunks: queue.Queue = queue.Queue()
        self._t0 = 0.0
        self._removed = False

    # life cycle
    def start(self) -> Container:
        if self.name:
            if state.find_by_name(self.name):
                raise SpecError(N_("container name"), self.name, N_("already in use by a running container"),
                                hint=N_("choose another --name or stop that container"))
        self.plan = build_plan(self.spec, self.id)
        cl = client()
        out_r, out_w = os.pipe2(os.O_CLOEXEC)
        err_r, err_w = os.pipe2(os.O_CLOEXEC)
        in_r, in_w = os.pipe2(os.O_CLOEXEC)
        self._t0 = time.monotonic()
        try:
            reply = cl.call(request(Op.RUN, plan=self.plan.to_wire()), [in_r, out_w, err_w])
        except BaseException as e:
            for fd in (out_r, err_r, in_w):
                os.close(fd)
            if isinstance(e, _Interrupted) and e.reply.get(OK):
                self.pid = e.reply["pid"]   # started after all: let the caller kill and remove it
            raise
        finally:
            for fd in (in_r, out_w, err_w):
                os.close(fd)
        self.pid = reply["pid"]
        stream = self._chunks if self.stream else None
        self._readers = [_pump({out_r: (self._out, "stdout"), err_r: (self._err, "stderr")}, stream,
                               in_w, self.stdin_data)]
        return self

    def _flush_stream(self, timeout: float) -> None:
        try:
            name, chunk = self._chunks.get(timeout=timeout)
        except queue.Empty:
            return
        while True:
            target = sys.stdout if name == "stdout" else sys.stderr
            target.write(chunk.decode(errors="replace"))
            target.flush()
            try:
                name, chunk = self._chunks.get_nowait()
            except queue.Empty:
                return

    def wait(self, timeout: float | None = None) -> Result:
        """Block until the container ends; on timeout kill it and mark the result ``timed_out``."""
        if self.result is not None:
            return self.result
        if self.pid is None:
            raise ContainerError(N_("cannot wait for container"), self.id, hint=N_("call start() first"))
        cl = client()
        deadline = None if timeout is None else time.monotonic() + timeout
        timed_out = False
        info = None
        while info is None:
            step = 0.05 if self.stream else 0.5
            if deadline is not None:
                left = deadline - time.monotonic()
                if left <= 0:
                    timed_out = True
                    self.kill(signal.SIGKILL)
                    info = cl.wait_event(self.id, self.pid, None)
                    break
                step = min(step, left)
            info = cl.wait_event(self.id, self.pid, step)
            if self.stream:
                self._flush_stream(0)
        for t in self._readers:
            t.join(timeout=5)
        if self.stream:
            while not self._chunks.empty():
                self._flush_stream(0)
        self.result = Result(
            exit_code=info["exit_code"], signal=info.get("signal"), oom_killed=info.get("oom_killed", False),
            timed_out=timed_out, stdout=b"".join(self._out).decode(errors="replace"),
            stderr=b"".join(self._err).decode(errors="replace"), wall_time=time.monotonic() - self._t0,
            stats=info.get("stats", {}), id=self.id)
        return self.result

    def exec(self, argv: list[str] | str, *, env: dict | None = None, cwd: str = "/", user=None,
             timeout: float | None = 30) -> Result:
        """Run another process inside this running container (``docker exec``)."""
        if self.pid is None or self.result is not None:
            raise ContainerError(N_("cannot exec in container"), self.id, hint=N_("it is not running"))
        if isinstance(argv, str):
            argv = ["/bin/sh", "-c", argv]
        e = dict(self.plan.env)
        e.update(parse_env(env))
        out_r, out_w = os.pipe2(os.O_CLOEXEC)
        err_r, err_w = os.pipe2(os.O_CLOEXEC)
        nul = os.open("/dev/null", os.O_RDONLY | os.O_CLOEXEC)
        t0 = time.monotonic()
        cl = client()
        try:
            u = parse_user(user)
            if u and self.plan.rootless:
                if tuple(u) != (0, 0):
                    raise SpecError(N_("user"), user, N_("a rootless container (not root) has only uid 0 inside"),
                                    hint=N_("leave user unset, or run as root"))
                u = None   # already root in there; setgroups(2) is denied in a rootless user namespace
            reply = cl.call(request(Op.EXEC, id=self.id, argv=list(argv), env=e, cwd=cwd,
                                    user=list(u) if u else None), [nul, out_w, err_w])
        except BaseException:
            os.close(out_r)
            os.close(err_r)
            raise
        finally:
            for fd in (nul, out_w, err_w):
                os.close(fd)
        out: list[bytes] = []
        err: list[bytes] = []
        readers = [_pump({out_r: (out, "stdout"), err_r: (err, "stderr")})]
        info = cl.wait_event(self.id, reply["pid"], timeout)
        timed_out = info is None
        if timed_out:
            try:
                os.kill(reply["pid"], signal.SIGKILL)
            except ProcessLookupError:
                pass
            info = cl.wait_event(self.id, reply["pid"], None)
        for t in readers:
            t.join(timeout=5)
        return Result(exit_code=info["exit_code"], signal=info.get("signal"), timed_out=timed_out,
                      stdout=b"".join(out).decode(errors="replace"),
                      stderr=b"".join(err).decode(errors="replace"),
                      wall_time=time.monotonic() - t0, id=self.id)

    def kill(self, sig: int = signal.SIGKILL) -> None:
        if self.pid is not None and self.result is None:
            client().call(request(Op.KILL, id=self.id, signal=int(sig)))

    def stop(self, timeout: float = 10) -> Result:
        """SIGTERM, then SIGKILL after ``timeout`` seconds (PID 1 ignores signals it has no handler
        for, so a plain command as PID 1 often needs the SIGKILL — as in ``docker stop``). The
        result tells which it took (``sigkill_after_grace``) and how long (``stop_time``)."""
        if self.result is not None:
            return self.result
        if self.pid is None:
            raise ContainerError(N_("cannot stop container"), self.id, hint=N_("call start() first"))
        cl = client()
        t0 = time.monotonic()
        self.kill(signal.SIGTERM)
        info = cl.wait_event(self.id, self.pid, timeout)
        escalated = info is None
        if escalated:
            self.kill(signal.SIGKILL)
            info = cl.wait_event(self.id, self.pid, None)
        took = time.monotonic() - t0
        with cl.cond:   # put the exit back for wait(), which collects the output with it
            cl.events.setdefault(self.id, []).append({"pid": self.pid, "info": info})
        result = self.wait()
        result.stop_time, result.sigkill_after_grace = took, escalated
        return result

    def remove(self) -> None:
        """Kill if running and remove everything: cgroup, network, upper dir."""
        if self._removed or self.pid is None:
            return
        self._removed = True
        # no answer is awaited: the zygote handles requests in order, so whatever is asked next sees
        # the container gone, and the caller does not wait on a cgroup's or upper dir's removal
        client().notify(request(Op.REMOVE, id=self.id))

    @property
    def cgroup(self):
        """The container's cgroup (a view for reading; the zygote owns and removes it), or None."""
        # lazy: boxkit.cgroups costs ~10 ms; only reading a container's cgroup needs it
        from ..cgroups import open_group

        return open_group(self.id)

    def sample(self, hz: float = 20.0, on_sample=None):
        """Read this container's cgroup files at ``hz`` in a thread until it ends; returns the
        running :class:`~boxkit.cgroups.sampler.Sampler` (``.stop()`` gives the series)."""
        # lazy: the sampler (with boxkit.cgroups) only when sampling
        from ..cgroups.sampler import Sampler

        group = self.cgroup
        if group is None:
            why = (N_("a rootless container (not root) has no cgroup; see boxkit probe") if self.plan.rootless
                   else N_("it has no cgroup (not running?)"))
            raise ContainerError(N_("cannot sample container"), self.id, hint=why)
        return Sampler(group, hz, on_sample).start()

    @property
    def upper_dir(self) -> str:
        return self.plan.upper

    @property
    def running(self) -> bool:
        return self.pid is not None and self.result is None and not self._removed

    def __enter__(self) -> Container:
        if self.pid is None:
            self.start()
        return self

    def __exit__(self, *exc) -> None:
        try:
            if self.result is None and self.pid is not None:
                self.kill(signal.SIGKILL)
                self.wait()
        finally:
            self.remove()

    def __repr__(self) -> str:
        state = "created" if self.pid is None else ("running" if self.result is None else "exited")
        return f"<Container {self.id} {self.spec.image or self.spec.rootfs} {state} pid={self.pid}>"


def _pump(outputs: dict[int, tuple[list[bytes], str]], stream: queue.Queue | None = None,
          stdin_fd: int = -1, stdin_data: bytes | None = None) -> threading.Thread:
    """One thread that collects a container's stdout and stderr (into the lists given, and into
    ``stream`` as ``(name, chunk)`` when streaming) and writes its stdin, until every pipe is closed.
    One thread, not one per pipe: a thread start is ~0.1 ms, and on a busy core it waits its turn —
    three of them were a visible part of a 10 ms container run in traces."""
    import selectors

    if stdin_fd >= 0 and not stdin_data:
        os.close(stdin_fd)   # nothing to send: the command sees end of file at once
        stdin_fd = -1

    def loop() -> None:
        sel = selectors.DefaultSelector()
        for fd in outputs:
            sel.register(fd, selectors.EVENT_READ)
        left = memoryview(stdin_data or b"")
        if stdin_fd >= 0:
            os.set_blocking(stdin_fd, False)
            sel.register(stdin_fd, selectors.EVENT_WRITE)
        try:
            while sel.get_map():
                for key, _ in sel.select():
                    fd = key.fd
                    if fd == stdin_fd:
                        try:
                            left = left[os.write(fd, left[:65536]):]
                        except BlockingIOError:
                            continue
                        except OSError:   # the command closed its stdin: stop feeding it
                            left = left[:0]
                        if not left:
                            sel.unregister(fd)
                            os.close(fd)
                        continue
                    chunk = os.read(fd, 65536)
                    if not chunk:
                        sel.unregister(fd)
                        os.close(fd)
                        continue
                    sink, name = outputs[fd]
                    sink.append(chunk)
                    if stream is not None:
                        stream.put((name, chunk))
        finally:
            for key in list(sel.get_map().values()):
                os.close(key.fd)
            sel.close()
    t = threading.Thread(target=loop, name="boxkit-stdio", daemon=True)
    t.start()
    return t


def run(image: str | None = None, argv: list[str] | str | None = None, *, detach: bool = False,
        timeout: float | None = None, stream: bool = False, stdin: bytes | str | None = None,
        rm: bool = True, **options) -> Result | Container:
    """Run a command in a new container and return its :class:`Result` (or, with ``detach=True``, the
    running :class:`Container`). ``options`` are those of :meth:`ContainerSpec.create`:
    ``rootfs, env, cwd, user, hostname, name, namespaces, userns, uid_map, time_offset, readonly,
    volumes, init, network, publish, memory, memory_high, memory_swap, cpus, cpu_shares, pids_limit,
    cpuset_cpus, cap_add, cap_drop, security_opt, privileged, cgroupfs``."""
    spec = ContainerSpec.create(image, argv, **options)
    c = Container(spec, stream=stream, stdin=stdin)
    if detach:
        return c.start()
    try:
        c.start()
        return c.wait(timeout)
    except KeyboardInterrupt:
        # the notebook's stop button: end the container, leave nothing behind, then stop the cell
        try:
            c.kill(signal.SIGKILL)
            c.wait(10)
        finally:
            c.remove()
        raise
    finally:
        if rm:
            c.remove()
