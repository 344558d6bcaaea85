"""The zygote: a single-threaded helper process that a notebook kernel talks to over a socket.

Started once per kernel as ``python -m boxkit.runtime.zygote FD`` (``FD`` is one end of a
``SOCK_SEQPACKET`` socket pair). Requests and replies are JSON messages (:class:`.protocol.Op`: the
exchange is drawn in :mod:`.protocol`); the container's stdin, stdout
and stderr travel with the ``run`` request as file descriptors (``SCM_RIGHTS``), so the container writes
straight into the kernel's pipes. Exits are announced as events. When the socket closes — the kernel
exited or was killed — the zygote kills and removes every container it owns, then exits.

It is started in a new session so a terminal's Ctrl-C (sent to the whole foreground process group)
reaches the client, which decides what to stop, and not the zygote.
"""

from __future__ import annotations

import json
import os
import selectors
import signal
import socket
import sys
import time

from . import supervisor
from .plan import Plan
from .protocol import NOREPLY, OP, REQ, Event, Op, event, refused, reply

MAX_MSG = 1 << 20
# After a start, housekeeping waits this long for the container's exit (a short command ends within a
# few milliseconds), so that its report does not queue behind the next spare's fork
GRACE = 0.005


class Zygote:
    def __init__(self, sock: socket.socket):
        self.sock = sock
        self.sup = supervisor.Supervisor(spares=True)
        rfd, wfd = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
        self.wake = rfd
        signal.signal(signal.SIGCHLD, lambda *_: None)
        signal.set_wakeup_fd(wfd)
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, lambda *_: self._quit())
        self.running = True
        self.quiet_from = 0.0   # monotonic time from which housekeeping may run

    def _quit(self) -> None:
        self.running = False

    def send(self, msg: dict) -> None:
        try:
            self.sock.send(json.dumps(msg).encode())
        except OSError:
            self.running = False

    def handle(self, msg: dict, fds: list[int]) -> None:
        op = msg.get(OP)
        req = msg.get(REQ)
        try:
            if op == Op.RUN:
                run = self.sup.start(Plan.from_wire(msg["plan"]), fds)
                self.send({REQ: req, **reply(pid=run.pid, started=run.started)})
            elif op == Op.EXEC:
                pid = self.sup.exec(msg["id"], msg["argv"], msg["env"], msg["cwd"], msg.get("user"), fds)
                self.send({REQ: req, **reply(pid=pid)})
            elif op == Op.KILL:
                self.sup.kill(msg["id"], int(msg.get("signal", signal.SIGKILL)))
                self.send({REQ: req, **reply()})
            elif op == Op.REMOVE:
                # nobody waits for this answer (the client does not ask for one): removing an upper
                # dir and a cgroup takes milliseconds, and requests are handled in order, so a later
                # request can never see the container half-removed
                if not msg.get(NOREPLY):
                    self.send({REQ: req, **reply()})
                self.sup.remove(msg["id"])
            elif op == Op.PING:
                self.send({REQ: req, **reply(pid=os.getpid())})
            else:
                self.send({REQ: req, **refused({"message": f"unknown request {op}"})})
        except BaseException as e:  # a failed start must not end the zygote
            self.send({REQ: req, **refused(e)})
        finally:
            for fd in fds:
                os.close(fd)
        if op == Op.RUN:
            self.quiet_from = time.monotonic() + GRACE

    def on_children(self) -> None:
        try:
            while os.read(self.wake, 512):
                pass
        except BlockingIOError:
            pass
        done = self.sup.reap()
        for cid, what, pid, info in done:
            self.send(event(Event.EXITED, id=cid, what=what, pid=pid, info=info))
        if any(what == "init" for _cid, what, _pid, _info in done):
            self.quiet_from = 0.0   # reported: the caller has its answer, housekeeping may start
        for cid, what, _pid, _info in done:
            if what == "init":
                self.sup.release_later(cid)   # teardown is off the caller's path: see serve()

    def serve(self) -> None:
        sel = selectors.DefaultSelector()
        sel.register(self.sock, selectors.EVENT_READ, "sock")
        sel.register(self.wake, selectors.EVENT_READ, "wake")
        watched: list[socket.socket] = []   # spares' sockets, while their "ready" is still to come
        try:
            while self.running:
                spares = self.sup.spares.waiting()
                if spares != watched:
                    for sock in watched:
                        try:
                            sel.unregister(sock)
                        except (KeyError, ValueError):
                            pass
                    for sock in spares:
                        sel.register(sock, selectors.EVENT_READ, "spare")
                    watched = spares
                # Housekeeping (the next spare, a dead container's cgroup) waits until nothing is
                # asked of us and a just-started container had GRACE to end: a start or an exit
                # report never queues behind it. Bridges, kept for
                # the next container, go after a second of quiet.
                timeout = max(0.0, self.quiet_from - time.monotonic()) if self.sup.has_idle_work() else 1.0
                ready = sel.select(timeout=timeout)
                if not ready:
                    if not self.sup.idle_work():
                        self.sup.reap_network()
                    continue
                for key, _ in ready:
                    if key.data == "wake":
                        self.on_children()
                        continue
                    if key.data == "spare":
                        self.sup.spares.message(key.fileobj)
                        continue
                    try:
                        data, fds, _flags, _addr = socket.recv_fds(self.sock, MAX_MSG, 8)
                    except InterruptedError:
                        continue
                    except ConnectionResetError:
                        data, fds = b"", []
                    if not data:
                        self.running = False
                        break
                    self.handle(json.loads(data), list(fds))
        finally:
            self.sup.shutdown()


def main(argv: list[str]) -> int:
    fd = int(argv[1])
    sock = socket.socket(fileno=fd)
    zygote = Zygote(sock)
    _freeze()
    zygote.serve()
    return 0


def _freeze() -> None:
    """Import what a start needs now, then move every object into the collector's permanent
    generation. A forked child shares the zygote's memory copy-on-write; a garbage collection in
    either process writes to every object it scans and so copies the page it sits on (page faults
    were 16% of the busy CPU time in a perf profile of 20 starts here). Frozen objects are never
    scanned; the children disable the collector (init.stage1)."""
    import gc

    for mod in ("boxkit.cgroups", "boxkit.images.overlay", "boxkit.spec"):
        __import__(mod)   # each is part of the package: one that fails to import is a bug to see
    gc.collect()
    gc.freeze()


if __name__ == "__main__":
    sys.exit(main(sys.argv))
