"""The caller's connection to its zygote: one helper process per Python process, started on first use.

A notebook kernel is multi-threaded (Jupyter's own threads, matplotlib's, the stdout pump's), and
``fork`` in a multi-threaded process copies only the calling thread — any lock another thread held
stays locked forever in the child. So the caller never forks: it starts ``python -m
boxkit.runtime.zygote FD`` once, with one end of a socket pair, and sends it JSON requests (start,
kill, remove, exec: :class:`.protocol.Op`) with file descriptors attached (``SCM_RIGHTS``: the
container's stdio). Requests are serialised by a lock; a thread reads replies and exit events and
hands each to whoever waits for it. The zygote keeps the root it was started with: a change of ``BOXKIT_ROOT`` starts a new one. When
this process exits (``atexit``) or its socket closes (a killed kernel), the zygote removes every
container it made. Errors come back whole (:func:`boxkit.errors.from_wire`).
"""

from __future__ import annotations

import atexit
import json
import os
import queue
import socket
import subprocess
import sys
import threading
import time

from .. import paths
from ..errors import BoxkitError, HostError, from_wire
from . import rootless
from .protocol import EVENT, NOREPLY, OK, REQ, Event, Op, refused, request


class _Client:
    """One zygote per Python process; requests are serialised, events are dispatched by a thread."""

    def __init__(self) -> None:
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        env = dict(os.environ)
        pkg_parent = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
        env["PYTHONPATH"] = pkg_parent + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "boxkit.runtime.zygote", str(theirs.fileno())],
            pass_fds=[theirs.fileno()], stdin=subprocess.DEVNULL, start_new_session=True, env=env)
        theirs.close()
        self.sock = ours
        self.root = paths.root()
        self.lock = threading.Lock()
        self.req = 0
        self.replies: dict[int, queue.Queue] = {}
        self.events: dict[str, list] = {}
        self.cond = threading.Condition()
        self.alive = True
        self.reader = threading.Thread(target=self._read, name="boxkit-zygote", daemon=True)
        self.reader.start()
        self.call(request(Op.PING))

    def _read(self) -> None:
        while True:
            try:
                data = self.sock.recv(1 << 20)
            except OSError:
                data = b""
            if not data:
                with self.cond:
                    self.alive = False
                    self.cond.notify_all()
                for q in list(self.replies.values()):
                    q.put(refused({"message": "the boxkit helper process ended"}))
                return
            msg = json.loads(data)
            if REQ in msg:
                q = self.replies.get(msg[REQ])
                if q is not None:
                    q.put(msg)
            elif msg.get(EVENT) == Event.EXITED:
                with self.cond:
                    self.events.setdefault(msg["id"], []).append(msg)
                    self.cond.notify_all()

    def call(self, msg: dict, fds: list[int] | None = None) -> dict:
        if not self.alive:
            raise HostError("cannot reach the boxkit helper process", str(self.proc.pid),
                            hint="restart the kernel or run boxkit gc")
        with self.lock:
            self.req += 1
            msg = {**msg, REQ: self.req}
            q: queue.Queue = queue.Queue()
            self.replies[self.req] = q
            socket.send_fds(self.sock, [json.dumps(msg).encode()], fds or [])
        try:
            try:
                reply = q.get()
            except KeyboardInterrupt:
                # the zygote answers within milliseconds, and without its answer (the new PID) the
                # caller could not clean up what the request made
                raise _Interrupted(q.get(timeout=60)) from None
        finally:
            self.replies.pop(msg[REQ], None)
        if not reply.get(OK):
            raise _rebuild_error(reply.get("error", {}))
        return reply

    def notify(self, msg: dict) -> None:
        """A request whose answer nobody waits for."""
        if not self.alive:
            raise HostError("cannot reach the boxkit helper process", str(self.proc.pid),
                            hint="restart the kernel or run boxkit gc")
        with self.lock:
            socket.send_fds(self.sock, [json.dumps({**msg, NOREPLY: True}).encode()], [])

    def wait_event(self, cid: str, pid: int, timeout: float | None) -> dict | None:
        deadline = None if timeout is None else time.monotonic() + timeout
        with self.cond:
            while True:
                for ev in self.events.get(cid, []):
                    if ev["pid"] == pid:
                        self.events[cid].remove(ev)
                        return ev["info"]
                if not self.alive:
                    raise HostError("the boxkit helper process ended while waiting for", cid,
                                    hint="restart the kernel; boxkit gc removes leftovers")
                left = None if deadline is None else deadline - time.monotonic()
                if left is not None and left <= 0:
                    return None
                self.cond.wait(left)

    def close(self) -> None:
        try:
            # shutdown, not just close: the reader thread is blocked in recv() on this socket, and a
            # close() alone leaves the socket alive under that call — the zygote would never see EOF
            try:
                self.sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            self.sock.close()
        finally:
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


class _Interrupted(KeyboardInterrupt):
    """Ctrl-C (a notebook's stop button) arrived while a request was in flight; carries its reply."""

    def __init__(self, reply: dict):
        super().__init__()
        self.reply = reply


def _rebuild_error(err: dict) -> BoxkitError:
    return from_wire(err)   # the class, op, path, errno and hint the helper raised with


_client: _Client | None = None
_client_lock = threading.Lock()


def client() -> _Client:
    global _client
    with _client_lock:
        if _client is not None and _client.root != paths.root():
            _client.close()   # the zygote keeps the root it was started with: start one for the new root
            _client = None
        if _client is None or not _client.alive:
            rootless.require()
            _client = _Client()
            atexit.register(_shutdown)
        return _client


def _shutdown() -> None:
    global _client
    if _client is not None:
        _client.close()
        _client = None
