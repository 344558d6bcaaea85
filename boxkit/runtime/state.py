"""What a container leaves on disk so that nothing outlives a crash.

Each container has ``$BOXKIT_ROOT/containers/ID/state.json``: its PID 1, that process's start time
(field 22 of ``/proc/PID/stat``, in clock ticks since boot — a PID alone can be reused by an unrelated
process, the pair cannot), and the same pair for the supervisor that owns it.

A supervisor that exits normally removes its containers. One that was killed outright (``kill -9`` of a
Jupyter kernel's process group, an OOM kill) leaves them behind: :func:`gc` — run on ``import boxkit``
as root and by ``boxkit gc`` — finds every container whose supervisor is gone, kills its processes (only
if PID and start time still match), and removes its directory, cgroup and network leases. Mounts need no
collection: they live only in the container's mount namespace and vanish with its last process.
"""

from __future__ import annotations

import json
import os
import signal

from .. import paths


def _stat(pid: int) -> list[bytes] | None:
    """/proc/PID/stat from field 3 (the state letter) on; None when the process does not exist."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            data = f.read()
    except OSError:
        return None
    # the command name (field 2) may contain spaces and parentheses: split after the last ')'
    return data[data.rindex(b")") + 2:].split()


def starttime(pid: int) -> int | None:
    """Start time of a live process; None when it does not exist or is a zombie (dead, not reaped:
    a killed supervisor whose parent has not waited for it yet)."""
    rest = _stat(pid)
    if rest is None or rest[0] in (b"Z", b"X"):
        return None
    return int(rest[19])


def proc_state(pid: int) -> str | None:
    """A process's state letter (R, S, D, t stopped by ptrace, Z ...); None when it does not exist."""
    rest = _stat(pid)
    return rest[0].decode() if rest else None


def kill(pid: int, sig: int = signal.SIGKILL) -> None:
    """Signal a process that may have ended already."""
    try:
        os.kill(pid, sig)
    except ProcessLookupError:
        pass


def alive(pid: int, start: int | None) -> bool:
    return start is not None and starttime(pid) == start


def write(cid: str, data: dict) -> None:
    write_in(paths.container_dir(cid), data)


def write_in(d: str, data: dict) -> None:
    tmp = os.path.join(d, "state.json.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o644)
    try:
        os.write(fd, json.dumps(data).encode())
    finally:
        os.close(fd)
    os.replace(tmp, os.path.join(d, "state.json"))


def read(cid: str) -> dict | None:
    try:
        with open(os.path.join(paths.container_dir(cid), "state.json")) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def list_ids() -> list[str]:
    try:
        return sorted(os.listdir(paths.containers_dir()))
    except FileNotFoundError:
        return []


def owner_alive(st: dict) -> bool:
    z = st.get("zygote") or [0, None]
    return alive(int(z[0]), z[1])


def find_by_name(name: str) -> dict | None:
    for cid in list_ids():
        st = read(cid)
        if st and st.get("name") == name and owner_alive(st) and alive(st["pid"], st.get("starttime")):
            return st
    return None


def gc(*, verbose: bool = False) -> list[str]:
    """Remove what dead supervisors left. Returns one line per thing removed."""
    done: list[str] = []
    live: set[str] = set()
    dead: set[str] = set()   # ours and orphaned: their cgroups may be killed outright
    for cid in list_ids():
        d = paths.container_dir(cid)
        st = read(cid)
        if st is not None and owner_alive(st):
            live.add(cid)
            continue
        if st is None:
            # a directory without state: a start that died between mkdir and the state write.
            # Leave very young ones alone: their supervisor may be writing the state right now.
            try:
                import time

                if time.time() - os.stat(d).st_mtime < 30:
                    live.add(cid)
                    continue
            except OSError:
                continue
        if st is not None and alive(st["pid"], st.get("starttime")):
            try:
                os.kill(st["pid"], signal.SIGKILL)
                done.append(f"killed container {cid} (pid {st['pid']})")
            except ProcessLookupError:
                pass
        dead.add(cid)
        from .rootless import remove_tree

        remove_tree(d)
        done.append(f"removed {d}")
    spare_dir = os.path.join(paths.root(), "spare")
    for name in os.listdir(spare_dir) if os.path.isdir(spare_dir) else []:
        zpid, zstart = name.split("-")[:2]
        if not alive(int(zpid), int(zstart) if zstart.isdigit() else None):
            from .rootless import remove_tree

            remove_tree(os.path.join(spare_dir, name))   # a prebuilt spare's has overlay dirs
            done.append(f"removed spare staging {name}")
    try:
        from .. import podman

        done += podman.gc()   # comparisons with podman: its store, mount and cgroups (boxkit/podman.py)
    except OSError:
        pass
    try:
        from .. import cgroups

        done += [f"removed cgroup {p}" for p in cgroups.gc(live, dead=dead)]
    except OSError:
        pass
    if os.path.isdir(os.path.join(paths.root(), "net")) or os.path.isdir(paths.locks_dir()):
        try:
            from .. import net
        except ImportError:   # pyroute2 is missing: then no network was ever set up either
            return done
        done += [f"released network of {c}" for c in net.gc(live)]
    return done
