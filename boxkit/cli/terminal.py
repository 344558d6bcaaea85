"""The command's side of ``-t``: a pseudo-terminal between the user's terminal and the container.

A pty is a pair: the *slave* side looks like a terminal to whoever has it as stdin/stdout/stderr (the
container's process makes it its controlling terminal, ``TIOCSCTTY``), the *master* side is a file the
command reads the container's output from and writes the user's keystrokes into. The kernel's line
discipline sits between them: it echoes, edits lines, and turns ^C into SIGINT and ^Z into SIGTSTP
for the terminal's *foreground process group* — the job the container's shell put there. So the user's
own terminal goes into raw mode (every byte passes through unchanged, ^C included), and job control
happens inside the container, as with ``docker run -it``.

Window size: the slave's size is set from the user's terminal before the container starts, and on
every SIGWINCH the command copies the new size to the master side (``TIOCSWINSZ``); the kernel then
sends SIGWINCH to the container's foreground group itself.
"""

from __future__ import annotations

import fcntl
import os
import selectors
import signal
import struct
import termios
import tty

_WINSZ = struct.Struct("HHHH")


def window_size(fd: int) -> bytes | None:
    try:
        return fcntl.ioctl(fd, termios.TIOCGWINSZ, b"\0" * _WINSZ.size)
    except OSError:
        return None


def copy_window_size(src: int, dst: int) -> None:
    size = window_size(src)
    if size is not None:
        try:
            fcntl.ioctl(dst, termios.TIOCSWINSZ, size)
        except OSError:
            pass


def open_pty(like: int = 0) -> tuple[int, int]:
    """A new pty (master, slave), sized like the terminal on ``like`` when it is one."""
    master, slave = os.openpty()
    os.set_inheritable(master, False)
    copy_window_size(like, slave)
    return master, slave


class Relay:
    """Copy bytes user terminal <-> master until ``finished()`` says so; :meth:`watch` adds more fds
    with callbacks the loop calls when they are readable (the keeper's socket, a signal wake-up
    pipe)."""

    def __init__(self, master: int, interactive: bool) -> None:
        self.master = master
        self.interactive = interactive and _readable(0)
        self.saved = None
        self.sel = selectors.DefaultSelector()
        self.done = False

    def __enter__(self) -> Relay:
        if self.interactive and os.isatty(0):
            self.saved = termios.tcgetattr(0)
            tty.setraw(0)
        self.sel.register(self.master, selectors.EVENT_READ, self._from_master)
        if self.interactive:
            self.sel.register(0, selectors.EVENT_READ, self._from_user)
        if os.isatty(0):
            signal.signal(signal.SIGWINCH, lambda *_: copy_window_size(0, self.master))
        return self

    def __exit__(self, *exc) -> None:
        if self.saved is not None:
            termios.tcsetattr(0, termios.TCSADRAIN, self.saved)
        signal.signal(signal.SIGWINCH, signal.SIG_DFL)
        self.sel.close()

    def watch(self, fd, callback) -> None:
        self.sel.register(fd, selectors.EVENT_READ, callback)

    def loop(self, finished, timeout=lambda: None) -> None:
        """Run until ``finished()`` (the container's or exec'd process's end), then copy what the
        master side still holds. ``timeout()``: the longest wait before ``finished`` is asked again
        (None: until something happens), for a deadline such as a stop's grace period."""
        while not finished():
            wait = timeout()
            if self.done:
                wait = 0.5 if wait is None else min(wait, 0.5)
            for key, _ in self.sel.select(wait):
                key.data()
        if not self.done:
            os.set_blocking(self.master, False)
            while not self.done:
                try:
                    self._from_master()
                except BlockingIOError:
                    break

    def _from_master(self) -> None:
        try:
            data = os.read(self.master, 65536)
        except BlockingIOError:
            raise
        except OSError:   # EIO: no slave left open, the container's terminal is gone
            data = b""
        if not data:
            self.sel.unregister(self.master)
            self.done = True
            return
        _write_all(1, data)

    def _from_user(self) -> None:
        try:
            data = os.read(0, 65536)
        except OSError:
            data = b""
        if not data:
            self.sel.unregister(0)   # end of input: stop reading, the container runs on
            return
        try:
            _write_all(self.master, data)
        except OSError:
            pass


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def _readable(fd: int) -> bool:
    try:
        os.fstat(fd)
    except OSError:
        return False
    return True


class Signals:
    """SIGINT, SIGTERM and SIGHUP caught and queued, read in the select loop through a wake-up pipe."""

    FORWARDED = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)

    def __init__(self) -> None:
        self.r, self.w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
        self.pending: list[int] = []

    def __enter__(self) -> Signals:
        for s in self.FORWARDED:
            signal.signal(s, lambda n, _f: self.pending.append(n))
        signal.signal(signal.SIGCHLD, lambda *_: None)
        signal.set_wakeup_fd(self.w)
        return self

    def __exit__(self, *exc) -> None:
        signal.set_wakeup_fd(-1)
        for s in (*self.FORWARDED, signal.SIGCHLD):
            signal.signal(s, signal.SIG_DFL)
        os.close(self.r)
        os.close(self.w)

    def take(self) -> list[int]:
        try:
            while os.read(self.r, 512):
                pass
        except BlockingIOError:
            pass
        out, self.pending = self.pending, []
        return out
