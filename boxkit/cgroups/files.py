"""Reading and writing cgroup control files: the only I/O the drivers do.

A cgroup's knobs and counters are small text files that the kernel generates on every read and parses
on every write. Two rules follow. A write must be ONE ``write(2)``: the kernel parses each write as one
value (one device rule, one PID), so a buffered writer that splits or joins writes changes the meaning.
And no file is ever created: a control file that is missing means the controller is not enabled for
the group (or the kernel is too old), which must fail with that file's name, not make a regular file.

Plain ``os.open``/``os.read`` rather than ``open()``: the sampler reads a dozen files many times a
second, and Python's buffered text layer costs more than the kernel's own work (~15 us against ~45 us
per file here).
"""

from __future__ import annotations

import os


def read(path: str) -> str:
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        return os.read(fd, 65536).decode()
    finally:
        os.close(fd)


def write(path: str, value: str | int) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_TRUNC | os.O_CLOEXEC)   # as a shell's `echo V > F`
    try:
        os.write(fd, str(value).encode())
    except OSError as e:
        # the kernel refuses the *value* at write time (EBUSY, EINVAL): name the file it went to
        raise OSError(e.errno, e.strerror, path) from None
    finally:
        os.close(fd)


def read_int(path: str) -> int | None:
    """An integer file; None when missing, unreadable or ``max`` (no limit)."""
    try:
        s = read(path).strip()
    except OSError:
        return None
    if s == "max":
        return None
    try:
        return int(s)
    except ValueError:
        return None


def read_kv(path: str) -> dict[str, int]:
    """A flat-keyed file (``cpu.stat``, ``memory.events``, ``memory.oom_control``): ``key value`` lines."""
    out: dict[str, int] = {}
    try:
        for line in read(path).splitlines():
            parts = line.split()
            if len(parts) == 2 and parts[1].lstrip("-").isdigit():
                out[parts[0]] = int(parts[1])
    except OSError:
        pass
    return out


def read_pressure(path: str) -> float | None:
    """PSI (``memory.pressure`` ...): the ``some avg10`` figure, the share of the last 10 s in which at
    least one task of the group was stalled waiting for this resource, in percent."""
    try:
        line = read(path).splitlines()[0]   # "some avg10=0.00 avg60=0.00 avg300=0.00 total=0"
        return float(line.split()[1].split("=")[1])
    except (OSError, IndexError, ValueError):
        return None


def exists(path: str) -> bool:
    return os.path.exists(path)
