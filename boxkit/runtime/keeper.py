"""The keeper: one small monitor process per CLI container, so a container can outlive its command.

``boxkit run`` forks itself twice (the middle process exits at once, so the keeper is nobody's child
and in a session of its own: a terminal's ^C or hang-up does not reach it) and the grandchild becomes
the container's keeper. It creates a :class:`~.supervisor.Supervisor` — a child sub-reaper — starts the
container from the plan the command already built, and from then on holds what docker's daemon would:

* the container's PID 1 (its parent: only it can ``waitpid`` for the exit status),
* its exit status, written to ``state.json`` beside the stopped container (``ps -a``, ``inspect``,
  ``wait`` read it there after the keeper is gone),
* its output when detached: ``container.log`` in the container's directory (the container writes
  into the file itself — fds 1 and 2 are the file — so nothing is copied; with ``-t`` the keeper
  holds the terminal's master side and copies it into the file),
* a unix socket, ``keeper.sock``, for ``stop``/``kill``/``wait``/``rm -f`` (the requests are
  :class:`.protocol.Op`; the exchange is drawn in :mod:`.protocol`). It accepts only its owner:
  the file is mode 0600 and every connection's peer credentials (``SO_PEERCRED``) must be root's or
  the keeper's own uid (a rootless learner's).

The command that started it keeps a socket pair to it. The keeper treats that socket's end of file as
the command's death: when a foreground ``boxkit run`` is killed outright (``SIGKILL`` leaves no chance
to clean up), the keeper sees EOF at once, kills the container and removes it — well within 2 s, not at
the next ``gc``. A detached (``-d``) command hangs up on purpose and the keeper carries on.

Why a monitor per container (conmon's way) and not a service (docker's daemon): a service is one more
long-lived process that must be started, found, upgraded and trusted with every user's containers; a
killed service takes them all with it. A monitor holds one container, dies with it, and a monitor
killed outright loses nothing that :func:`boxkit.collect.gc` cannot collect: ``state.json`` names the keeper
(PID and start time) as the container's owner, so ``ps`` reports the container as not running once the
keeper is gone and ``gc`` kills and removes what it left. Measured here (2 cores, shared): a keeper
costs 17 MB resident per running container, 12 MB of it private (the command's Python heap, copied
on write and no longer shared once the command exits; conmon, in C, needs ~1 MB), and a start has no
warm spare (see :mod:`.spare`): ``boxkit run --rm true`` takes 130-150 ms, of which the interpreter
and imports are ~85 ms (``boxkit ps`` alone). A service keeps spares warm and costs one process for
all containers: that is the fast path, :mod:`boxkit.cli.warm` (a per-user helper started on first use, for
foreground ``run --rm`` from the ``python -I -S`` client; 22.5 ms against runc's 30.1 ms in one bench
run). Containers that outlive their command stay with a keeper each, so a killed helper takes only
foreground runs whose commands die with it anyway.

Exec does not go through the keeper: the command joins the container's namespaces itself, from the
PID in ``state.json`` (:func:`.join.start_in`), which works alike for containers a keeper, a
notebook kernel's zygote or another process owns.
"""

from __future__ import annotations

import json
import os
import selectors
import signal
import socket
import struct
import sys
import time

from .. import files, paths
from ..errors import SpecError
from . import state
from .plan import Plan
from .protocol import OP, Event, Op, event, refused, reply

SOCK = "keeper.sock"
LOG = "container.log"
PLAN = "plan.json"
_CRED = struct.Struct("3i")   # struct ucred: pid, uid, gid


def sock_path(cid: str) -> str:
    return os.path.join(paths.container_dir(cid), SOCK)


def log_path(cid: str) -> str:
    return os.path.join(paths.container_dir(cid), LOG)


def read_plan(cid: str) -> Plan | None:
    """The plan a keeper wrote for its container; None when there is none or it does not read as one
    (written by another boxkit version)."""
    try:
        with open(os.path.join(paths.container_dir(cid), PLAN)) as f:
            return Plan.from_wire(json.load(f))
    except (OSError, ValueError, TypeError, SpecError):
        return None


def peer_allowed(conn: socket.socket) -> bool:
    """Root, or the user the keeper runs as (the rootless learner who started it)."""
    _pid, uid, _gid = _CRED.unpack(conn.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, _CRED.size))
    return uid in (0, os.geteuid())


# --- the command's side ----------------------------------------------------------------------------

def spawn(plan: Plan, stdio: list[int], *, detach: bool, rm: bool, tty: bool, interactive: bool,
          restart: bool = False) -> tuple[socket.socket, dict]:
    """Fork the keeper and wait until the container runs. Returns the socket to the keeper and its
    first message (``{"ok": true, "pid": ...}`` or a refusal, ``{"ok": false, "error": ...}``)."""
    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid == 0:
        try:
            ours.close()
            os.setsid()
            if os.fork() != 0:
                os._exit(0)
            code = Keeper(plan, theirs, stdio, detach=detach, rm=rm, tty=tty, interactive=interactive,
                          restart=restart).run()
        except BaseException:
            code = 125
        os._exit(code)
    theirs.close()
    os.waitpid(pid, 0)
    data = ours.recv(1 << 16)
    return ours, (json.loads(data) if data else refused({"message": "the keeper ended"}))


def connect(cid: str) -> socket.socket | None:
    """A connection to a container's keeper; None when it has none or it is gone."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET | socket.SOCK_CLOEXEC)
    try:
        s.connect(sock_path(cid))
    except OSError:
        s.close()
        return None
    return s


def request(s: socket.socket, msg: dict, timeout: float | None = None) -> dict | None:
    """Send one request; its answer, None on timeout or when the keeper hung up."""
    s.settimeout(timeout)
    try:
        s.send(json.dumps(msg).encode())
        data = s.recv(1 << 16)
    except (TimeoutError, OSError):
        return None
    return json.loads(data) if data else None


# --- the keeper itself --------------------------------------------------------------------------------

class Keeper:
    def __init__(self, plan: Plan, client: socket.socket, stdio: list[int], *, detach: bool, rm: bool,
                 tty: bool, interactive: bool, restart: bool) -> None:
        self.plan, self.client, self.stdio = plan, client, stdio
        self.cid = plan.id
        self.detach, self.rm, self.tty, self.interactive, self.restart = detach, rm, tty, interactive, restart
        self.orphaned = False     # the foreground command died, or rm -f asked: remove at the end
        self.waiters: list[socket.socket] = []
        self.master = -1          # -dt: the terminal's master side, copied into the log
        self.log = -1
        self.stdin_hold = -1      # -di: the write end of the container's stdin, held open

    def run(self) -> int:
        # lazy: the keeper process only; its client side (ps, exec, warm) must not load init/_sys
        from .init import close_fds_but

        # nothing of the command's but our socket and the container's stdio (a terminal's master
        # side held here would keep the command's pty open after the command died)
        close_fds_but({self.client.fileno(), *self.stdio})
        # lazy: _sys (ctypes) in the keeper process only
        from .._sys import SYS

        SYS.set_comm("boxkit-keeper")   # what ps -o comm and the test suite's leak check see
        for s in (signal.SIGINT, signal.SIGHUP, signal.SIGPIPE):
            signal.signal(s, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        rfd, wfd = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
        signal.signal(signal.SIGCHLD, lambda *_: None)
        signal.set_wakeup_fd(wfd)
        # lazy: the supervisor (~50 ms) in the keeper process only
        from .supervisor import Supervisor

        sup = Supervisor()
        prior = state.read(self.cid) if self.restart else None
        try:
            stdio = self._detached_stdio() if self.detach else self.stdio
            run = sup.start(self.plan, stdio)
        except BaseException as e:
            if prior is not None:
                state.write(self.cid, prior)   # boxkit start failed: still the stopped container it was
            sup.shutdown()
            self._send(self.client, refused(e))
            return 125
        keep = {self.master, self.stdin_hold, self.log if self.master >= 0 else -1}
        for fd in {*self.stdio, *stdio} - keep:
            if fd > 2:
                os.close(fd)
        self._quiet_stdio()
        listener = self._listen()
        self._record(run)
        self._send(self.client, reply(pid=run.pid, id=self.cid))
        try:
            info = self._serve(sup, listener, rfd)
        finally:
            listener.close()
            try:
                os.unlink(sock_path(self.cid))
            except OSError:
                pass
        sup.release(self.cid)
        if self.rm or self.orphaned:
            sup.remove(self.cid)
        else:
            st = state.read(self.cid) or {}
            st.update(status="exited", exit_code=info["exit_code"], signal=info.get("signal"),
                      oom_killed=bool(info.get("oom_killed")), finished_at=info.get("ended", time.time()))
            state.write(self.cid, st)
            sup.containers.pop(self.cid, None)   # kept, stopped: shutdown must not remove it
        for conn in [self.client, *self.waiters]:
            self._send(conn, event(Event.EXITED, info=_info(info)))
        sup.shutdown()
        return 0

    def _detached_stdio(self) -> list[int]:
        d = paths.ensure(paths.container_dir(self.cid), 0o711)
        self.log = os.open(os.path.join(d, LOG), os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, 0o640)
        if self.tty:
            self.master, slave = os.openpty()
            os.set_inheritable(self.master, False)
            return [slave, slave, slave]
        if self.interactive:
            r, self.stdin_hold = os.pipe2(os.O_CLOEXEC)   # docker -di: stdin open, nothing written
            return [r, self.log, self.log]
        return [os.open("/dev/null", os.O_RDONLY | os.O_CLOEXEC), self.log, self.log]

    def _quiet_stdio(self) -> None:
        """The keeper must not hold the command's terminal or pipes: a reader of the command's output
        would wait for the keeper's exit to see end of file."""
        nul = os.open("/dev/null", os.O_RDWR)
        for fd in (0, 1, 2):
            os.dup2(nul, fd)
        os.close(nul)

    def _listen(self) -> socket.socket:
        path = sock_path(self.cid)
        s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET | socket.SOCK_CLOEXEC)
        old = os.umask(0o177)
        try:
            s.bind(path)
        finally:
            os.umask(old)
        s.listen(8)
        return s

    def _record(self, run) -> None:
        st = state.read(self.cid) or {}
        st.update(keeper=True, status="running", started_at=run.started, rm=self.rm, tty=self.tty,
                  interactive=self.interactive, detached=self.detach, exit_code=None, finished_at=None,
                  oom_killed=False, log=log_path(self.cid) if self.detach else None)
        state.write(self.cid, st)
        # the plan holds the environment: the owner's only (state.json is readable by everyone)
        files.write_json(os.path.join(paths.container_dir(self.cid), PLAN), self.plan.to_wire(), 0o600)

    def _serve(self, sup, listener: socket.socket, wake: int) -> dict:
        sel = selectors.DefaultSelector()
        sel.register(self.client, selectors.EVENT_READ, "client")
        sel.register(listener, selectors.EVENT_READ, "listen")
        sel.register(wake, selectors.EVENT_READ, "wake")
        if self.master >= 0:
            sel.register(self.master, selectors.EVENT_READ, "master")
        while True:
            for key, _ in sel.select():
                what = key.data
                if what == "wake":
                    try:
                        while os.read(wake, 512):
                            pass
                    except BlockingIOError:
                        pass
                    for cid, kind, _pid, info in sup.reap():
                        if cid == self.cid and kind == "init":
                            self._drain(sel)
                            return info
                elif what == "master":
                    self._copy_master(sel)
                elif what == "listen":
                    try:
                        conn, _ = listener.accept()
                    except OSError:
                        continue
                    if not peer_allowed(conn):
                        conn.close()   # another user: not a word
                        continue
                    sel.register(conn, selectors.EVENT_READ, "conn")
                else:
                    conn = key.fileobj
                    try:
                        data = conn.recv(1 << 16)
                    except OSError:
                        data = b""
                    if not data:
                        sel.unregister(conn)
                        if conn in self.waiters:
                            self.waiters.remove(conn)
                        if conn is self.client:
                            if not self.detach:
                                # the foreground command is gone without a word: killed outright
                                self.orphaned = True
                                sup.kill(self.cid, signal.SIGKILL)
                        else:
                            conn.close()
                        continue
                    self._handle(sup, conn, json.loads(data))

    def _handle(self, sup, conn: socket.socket, msg: dict) -> None:
        op = msg.get(OP)
        if op == Op.KILL:
            sup.kill(self.cid, int(msg.get("signal", signal.SIGKILL)))
            self._send(conn, reply())
        elif op == Op.WAIT:
            self.waiters.append(conn)
        elif op == Op.REMOVE:
            self.orphaned = True
            sup.kill(self.cid, signal.SIGKILL)
            self.waiters.append(conn)
        elif op == Op.DETACH:
            self.detach = True
            self._send(conn, reply())
        elif op == Op.PING:
            self._send(conn, reply(pid=os.getpid()))
        else:
            self._send(conn, refused({"message": f"unknown request {op}"}))

    def _copy_master(self, sel) -> None:
        try:
            data = os.read(self.master, 65536)
        except OSError:
            data = b""
        if not data:
            sel.unregister(self.master)
            os.close(self.master)
            self.master = -1
            return
        os.write(self.log, data)

    def _drain(self, sel) -> None:
        while self.master >= 0:
            os.set_blocking(self.master, False)
            try:
                self._copy_master(sel)
            except BlockingIOError:
                break

    @staticmethod
    def _send(conn: socket.socket, msg: dict) -> None:
        try:
            conn.send(json.dumps(msg).encode())
        except OSError:
            pass


def _info(info: dict) -> dict:
    return {k: info.get(k) for k in ("exit_code", "signal", "oom_killed", "ended")}
