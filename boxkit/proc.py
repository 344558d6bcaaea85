"""Process identity: a PID and its start time, read from ``/proc/PID/stat``.

A PID alone names a process only while it lives: the kernel hands the number to the next fork once it
has been reaped (``/proc/sys/kernel/pid_max``, 4194304 on 64-bit since 5.x, wraps). Field 22 of
``/proc/PID/stat``, the start time in clock ticks since boot, does not repeat for a PID within a boot,
so the pair (PID, start time) is what state files, network leases, podman stores and spares record of
their owner, and what every collector compares before it kills or removes anything.

The command name (field 2) is in parentheses and may itself contain spaces and ``)``: the fields after
it are found from the *last* ``)``. Field 3 is the state letter: ``Z`` (zombie) and ``X`` (dead) count as
gone — a killed owner whose parent has not reaped it yet owns nothing any more. Field 9 holds the task's
flags (``PF_EXITING`` while it is inside ``do_exit``).
"""

from __future__ import annotations

import os
import signal

PF_EXITING = 0x4   # include/linux/sched.h: the task is in do_exit()


def stat_fields(pid: int) -> list[bytes] | None:
    """``/proc/PID/stat`` from field 3 (the state letter) on; None when the process does not exist."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            data = f.read()
    except OSError:
        return None
    return data[data.rindex(b")") + 2:].split()


def starttime(pid: int) -> int | None:
    """Start time of a live process; None when it does not exist or is a zombie (dead, not reaped:
    a killed supervisor whose parent has not waited for it yet)."""
    rest = stat_fields(pid)
    if rest is None or rest[0] in (b"Z", b"X"):
        return None
    return int(rest[19])


def proc_state(pid: int) -> str | None:
    """A process's state letter (R, S, D, t stopped by ptrace, Z ...); None when it does not exist."""
    rest = stat_fields(pid)
    return rest[0].decode() if rest else None


def alive(pid: int, start: int | None) -> bool:
    """The process that had ``start`` as its start time still runs under ``pid``."""
    return start is not None and starttime(pid) == start


def named_owner_gone(name: str) -> bool:
    """Is the owner named by ``PID-STARTTIME[-...]`` (a podman store's or a spare's staging directory)
    gone? A name of another shape has no owner to ask: gone."""
    pid, start = (name.split("-") + ["", ""])[:2]
    return not (pid.isdigit() and alive(int(pid), int(start) if start.isdigit() else None))


def dying(pid: int) -> bool:
    """Gone, a zombie, inside ``do_exit``, or with a SIGKILL pending (delivered a moment after kill()
    returns): a process a collector may stop waiting for."""
    rest = stat_fields(pid)
    try:
        with open(f"/proc/{pid}/status") as f:
            status = dict(line.split(":", 1) for line in f if ":" in line)
    except OSError:
        return True
    if rest is None or rest[0] in (b"Z", b"X") or int(rest[6]) & PF_EXITING:
        return True
    sigkill = 1 << (signal.SIGKILL - 1)
    return any(int(status.get(k, "0").strip() or "0", 16) & sigkill for k in ("SigPnd", "ShdPnd"))


def kill(pid: int, sig: int = signal.SIGKILL) -> None:
    """Signal a process that may have ended already."""
    try:
        os.kill(pid, sig)
    except ProcessLookupError:
        pass
