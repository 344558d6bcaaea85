"""Files several processes share: a lock, and a write that readers never see half done.

boxkit has no daemon. A notebook kernel's helper, a ``boxkit`` command, a keeper and the collector may
all touch the same files — an image store's index, a network's address leases, a container's
``state.json`` — at the same moment. Two kernel facts make that safe without a server:

**flock(2)** locks belong to the *open file description*: the lock goes when the last fd to it is
closed, and the kernel closes every fd of a process that dies, however it dies. So a ``kill -9`` in
the middle of a write never leaves a stale lock behind, and a lock file needs no clean-up (it is left
in place, empty; deleting it would let two processes lock two different files of one name).
``O_CLOEXEC``: a container forked while the lock is held must not inherit the fd and hold the lock
for as long as it runs.

**rename(2)** within one file system replaces the target atomically: a reader opens the old file or
the new one, never a half-written one, and a crash leaves one of the two. So a whole-file write goes
to a temporary name *in the same directory* (a rename across file systems fails with EXDEV), then is
renamed over the target. The temporary name carries the writer's PID and a serial, so two writers
never write into one temporary file. Its mode is given at creation: a file that holds secrets (a
container's plan has its environment) is never readable by others, not even for a moment, as a
``chmod`` after the write would allow.

Not here: ``fsync``. boxkit's files describe processes and mounts that do not survive a reboot either,
so what a power cut loses is what the reboot ends anyway.
"""

from __future__ import annotations

import contextlib
import fcntl
import itertools
import json
import os
from collections.abc import Iterator

_serial = itertools.count()


@contextlib.contextmanager
def locked(path: str, mode: int = 0o600) -> Iterator[int]:
    """Hold an exclusive ``flock`` on ``path`` (created if missing, its directory must exist) for the
    ``with`` block; yields the fd. Waits while another process holds it."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, mode)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield fd
    finally:
        os.close(fd)   # the last fd closed drops the lock


def write_atomic(path: str, data: bytes | str, mode: int = 0o644) -> None:
    """Replace ``path`` with ``data`` at once: readers see the old content or the new. ``mode`` (less
    the umask) is the new file's from its creation. Nothing is left behind when the write fails."""
    tmp = f"{path}.tmp-{os.getpid()}-{next(_serial)}"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, mode)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data.encode() if isinstance(data, str) else data)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def write_json(path: str, obj, mode: int = 0o644, **dump_args) -> None:
    """:func:`write_atomic` of ``obj`` as JSON (``dump_args`` go to :func:`json.dumps`)."""
    write_atomic(path, json.dumps(obj, **dump_args), mode)


def is_temporary(name: str) -> bool:
    """Whether a file name is one :func:`write_atomic` writes to before the rename (a writer killed
    between the two leaves it: whoever removes the directory removes these too)."""
    head, sep, tail = name.rpartition(".tmp-")
    return bool(sep and head) and all(p.isdigit() for p in tail.split("-")) and tail.count("-") == 1
