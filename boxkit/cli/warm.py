"""The warm helper: one long-lived zygote per user and ``BOXKIT_ROOT`` that the fast client talks to.

``boxkit run`` from a shell pays for an interpreter start (20 ms with site and the editable install's
finder), boxkit's imports (~50 ms) and a keeper's start without a spare. The fast client
(``boxkit/fastrun.py``, run as ``python -I -S``: no site, ~7 ms) imports almost nothing: it sends its
argv, its working directory and its stdin, stdout and stderr (``SCM_RIGHTS``) to this process over
``$BOXKIT_ROOT/warm.sock`` and waits for one line back. The helper parses the argv with the real
command line (same flags, same errors, same exit codes), builds the plan, starts the container on a
warm spare (:mod:`boxkit.runtime.spare`) and answers ``exit N`` when it ends — after removing it (``--rm``).
An error is answered ``err N`` and the error whole (:func:`boxkit.errors.to_wire`, JSON): its English
message ids and fields, which the client renders in its own language (the helper speaks English).

Only what fits a warm start is taken: a foreground ``run --rm`` without ``-t`` or ``-d``. Anything
else is answered ``fallback`` and the client execs the full command (a keeper per container).

It sits in the command-line layer (it parses command lines, then drives the runtime as any front
does). The same promises as the keeper's (:mod:`boxkit.runtime.keeper`): the socket is mode 0600 and every peer's
credentials must be root's or ours (``SO_PEERCRED``); a client that dies (its socket closes) takes
its container with it at once; the helper is the owner in each container's ``state.json``, so one
killed outright leaves what :func:`boxkit.collect.gc` collects. It exits after :data:`IDLE_EXIT` seconds with
nothing to do.
"""

from __future__ import annotations

import contextlib
import io
import os
import selectors
import signal
import socket
import sys
import time

from .. import paths
from ..errors import BoxkitError, to_wire
from ..i18n import N_
from ..runtime import state
from ..runtime.keeper import peer_allowed
from .arguments import normalize
from .run_args import spec_from_args
from .verbs import parser

IDLE_EXIT = 600.0
SOCK = "warm.sock"


def sock_path() -> str:
    return os.path.join(paths.root(), SOCK)


class Warm:
    def __init__(self, listener: socket.socket) -> None:
        # lazy: the supervisor costs ~50 ms; only the helper process needs it, not the client
        from ..runtime.supervisor import Supervisor

        self.listener = listener
        self._parser = None
        self.sup = Supervisor(spares=True)
        rfd, wfd = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
        self.wake = rfd
        signal.signal(signal.SIGCHLD, lambda *_: None)
        signal.set_wakeup_fd(wfd)
        for s in (signal.SIGINT, signal.SIGHUP, signal.SIGPIPE):
            signal.signal(s, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, lambda *_: self._quit())
        self.running = True
        self.owner: dict[str, socket.socket] = {}     # container id -> its client
        self.of: dict[socket.socket, str] = {}        # client -> its container id
        self.last = time.monotonic()

    def _quit(self) -> None:
        self.running = False

    def serve(self) -> None:
        sel = selectors.DefaultSelector()
        sel.register(self.listener, selectors.EVENT_READ, "listen")
        sel.register(self.wake, selectors.EVENT_READ, "wake")
        watched: list[socket.socket] = []
        try:
            while self.running:
                spares = self.sup.spares.waiting()
                if spares != watched:
                    for s in watched:
                        with contextlib.suppress(KeyError, ValueError):
                            sel.unregister(s)
                    for s in spares:
                        sel.register(s, selectors.EVENT_READ, "spare")
                    watched = spares
                timeout = 0.0 if self.sup.has_idle_work() else 5.0
                ready = sel.select(timeout=timeout)
                if not ready:
                    if not self.sup.idle_work():
                        self.sup.reap_network()
                        if not self.of and time.monotonic() - self.last > IDLE_EXIT:
                            break
                    continue
                for key, _ in ready:
                    if key.data == "wake":
                        self._children()
                    elif key.data == "spare":
                        self.sup.spares.message(key.fileobj)
                    elif key.data == "listen":
                        try:
                            conn, _ = self.listener.accept()
                        except OSError:
                            continue
                        if not peer_allowed(conn):
                            conn.close()
                            continue
                        sel.register(conn, selectors.EVENT_READ, "conn")
                    else:
                        self._from_client(sel, key.fileobj)
        finally:
            with contextlib.suppress(OSError):
                os.unlink(sock_path())
            self.sup.shutdown()

    def _from_client(self, sel, conn: socket.socket) -> None:
        try:
            data, fds, _f, _a = socket.recv_fds(conn, 1 << 16, 3)
        except OSError:
            data, fds = b"", []
        self.last = time.monotonic()
        if not data:
            sel.unregister(conn)
            cid = self.of.pop(conn, None)
            if cid is not None:   # the client died (or was killed) before its container ended
                self.owner.pop(cid, None)
                self.sup.remove(cid)
            conn.close()
            return
        fields = data.split(b"\0")
        try:
            if fields[0] == b"run":
                self._run(conn, [f.decode() for f in fields[2:]], fields[1].decode(), list(fds))
            elif fields[0] == b"kill" and conn in self.of:
                self.sup.kill(self.of[conn], int(fields[1]))
        finally:
            for fd in fds:
                os.close(fd)

    def _run(self, conn: socket.socket, argv: list[str], cwd: str, fds: list[int]) -> None:
        from ..runtime.container import build_plan  # lazy: the helper's start, not the client's

        if self._parser is None:   # built once: every verb's sub-parser costs ~4 ms a request
            self._parser = parser()
        err = io.StringIO()
        try:
            with contextlib.redirect_stderr(err):
                # docker's manners, as the full command line: --memory -5M is a value (arguments.normalize)
                a = self._parser.parse_args(normalize(self._parser, argv))
        except BoxkitError as e:   # a usage error (boxkit.cli.arguments.Parser): 125, one sentence
            _reply_error(conn, e)
            return
        except SystemExit as e:
            if not e.code:   # --help: the full command line prints it where the user sees it
                _reply(conn, "fallback")
                return
            _reply(conn, f"err {125 if e.code == 2 else int(e.code or 0)} {err.getvalue().strip()}")
            return
        if (getattr(a, "verb", None) != "run" or a.detach or a.tty or not a.rm or len(fds) != 3
                or (a.name and _name_taken(a.name))):
            _reply(conn, "fallback")
            return
        try:
            os.chdir(cwd)
            spec = spec_from_args(a)
            plan = build_plan(spec)
            stdio = fds if a.interactive else [os.open("/dev/null", os.O_RDONLY | os.O_CLOEXEC), fds[1], fds[2]]
            try:
                run = self.sup.start(plan, stdio)
            finally:
                if not a.interactive:
                    os.close(stdio[0])
        except Exception as e:  # noqa: BLE001 - one sentence to the client, never the helper's end
            _reply_error(conn, e)
            return
        finally:
            os.chdir("/")
        self.owner[run.cid] = conn
        self.of[conn] = run.cid
        _reply(conn, f"ok {run.pid} {a.stop_timeout}")   # the client enforces the grace period

    def _children(self) -> None:
        try:
            while os.read(self.wake, 512):
                pass
        except BlockingIOError:
            pass
        for cid, what, _pid, info in self.sup.reap():
            if what != "init":
                continue
            conn = self.owner.pop(cid, None)
            self.sup.remove(cid)   # --rm: gone before the command returns, as docker's
            if conn is not None:
                self.of.pop(conn, None)
                _reply(conn, f"exit {info['exit_code']}" + (" oom" if info.get("oom_killed") else ""))


def _name_taken(name: str) -> bool:
    return any((state.read(c) or {}).get("name") == name for c in state.list_ids())


def _reply_error(conn: socket.socket, e: BaseException) -> None:
    """``err CODE`` and the error as JSON, for the client to render in its language: a BoxkitError with
    its own exit code, anything else as "cannot start container" (125)."""
    import json

    wire = to_wire(e, N_("cannot start container"))
    _reply(conn, f"err {wire.get('exit_code', 125)} {json.dumps(wire)}")


def _reply(conn: socket.socket, line: str) -> None:
    with contextlib.suppress(OSError):
        conn.send(line.encode(errors="replace"))


def stop(timeout: float = 10.0) -> int | None:
    """End this root's warm helper, if one runs (its PID from the socket's peer credentials); it
    removes its spares and containers on the way out. Returns its PID, None when none answered."""
    import struct

    s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET | socket.SOCK_CLOEXEC)
    try:
        s.connect(sock_path())
        pid = struct.unpack("3i", s.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, 12))[0]
    except OSError:
        return None
    finally:
        s.close()

    start = state.starttime(pid)
    state.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while state.alive(pid, start) and time.monotonic() < deadline:
        time.sleep(0.02)
    return pid


def main() -> int:
    path = sock_path()
    paths.ensure(paths.root(), 0o711)
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET | socket.SOCK_CLOEXEC)
    old = os.umask(0o177)
    new = f"{path}.{os.getpid()}"   # two helpers started at once: each binds its own, the last replace wins
    try:
        listener.bind(new)
    finally:
        os.umask(old)
    listener.listen(64)
    warm = Warm(listener)
    # lazy: the zygote's modules (supervisor, cgroups, images) only in the helper, not the client
    from ..runtime.zygote import _freeze

    _freeze()
    os.replace(new, path)   # only now may clients find it: it answers at once
    nul = os.open("/dev/null", os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(nul, fd)
    os.close(nul)
    warm.serve()
    return 0


if __name__ == "__main__":
    sys.exit(main())
