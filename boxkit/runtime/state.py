"""What a container leaves on disk so that nothing outlives a crash.

Each container has ``$BOXKIT_ROOT/containers/ID/state.json``: its PID 1, that process's start time
(field 22 of ``/proc/PID/stat``, in clock ticks since boot — a PID alone can be reused by an unrelated
process, the pair cannot), and the same pair for the supervisor that owns it. A CLI container's keeper
(:mod:`.keeper`) adds its status; one kept after its exit (``boxkit run`` without ``--rm``) says
``"status": "exited"`` with its exit code, and gc leaves it for ``boxkit rm``.

A supervisor that exits normally removes its containers. One that was killed outright (``kill -9`` of a
Jupyter kernel's process group, an OOM kill) leaves them behind: :func:`collect_containers` — the first step of
:func:`boxkit.collect.gc`, run in the background after ``import boxkit`` and by ``boxkit gc`` — finds
every container whose supervisor is gone, kills its processes (only if PID and start time still
match) and removes its directory; the collector then releases its cgroups and network leases. Mounts need no
collection: they live only in the container's mount namespace and vanish with its last process.
"""

from __future__ import annotations

import json
import os
import signal
import time
from dataclasses import dataclass

from .. import files, paths
from ..proc import alive, kill, proc_state, starttime  # noqa: F401 (re-exported: the identity a state file records)


def write(cid: str, data: dict) -> None:
    write_in(paths.container_dir(cid), data)


def write_in(d: str, data: dict) -> None:
    files.write_json(os.path.join(d, "state.json"), data)   # readable by all: ps and gc read it


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


def running(st: dict) -> bool:
    """Whether the container a state record describes runs now: its owner and its PID 1 are alive
    (a record written by an owner killed outright stays behind until gc: not running)."""
    return owner_alive(st) and alive(st["pid"], st.get("starttime"))


def find_by_name(name: str) -> dict | None:
    for cid in list_ids():
        st = read(cid)
        if st and st.get("name") == name and owner_alive(st) and alive(st["pid"], st.get("starttime")):
            return st
    return None


@dataclass
class Collected:
    """What :func:`collect_containers` did and found: the lines it reports, the containers still owned
    (``live``: their cgroups and network leases stay) and those it removed (``dead``: theirs may go)."""

    done: list[str]
    live: set[str]
    dead: set[str]


def collect_containers() -> Collected:
    """Kill and remove the containers (and spare staging directories) whose owners are dead. The
    cgroups, network leases and podman stores they leave are the next steps, above this layer
    (:func:`boxkit.collect.gc`)."""
    # lazy: rootless loads ctypes (boxkit._sys), and ``import boxkit`` reads this module to look for
    # leftovers on every command
    from .rootless import remove_tree

    done: list[str] = []
    live: set[str] = set()
    dead: set[str] = set()   # ours and orphaned: their cgroups may be killed outright
    for cid in list_ids():
        d = paths.container_dir(cid)
        st = read(cid)
        if st is not None and (owner_alive(st) or st.get("status") == "exited"):
            # running, or stopped and kept (boxkit run without --rm): its keeper released its cgroup
            # and network before it wrote "exited", so only its directory is left, on purpose
            live.add(cid)
            continue
        if st is None:
            # a directory without state: a start that died between mkdir and the state write.
            # Leave very young ones alone: their supervisor may be writing the state right now.
            try:
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
        remove_tree(d)
        done.append(f"removed {d}")
    spare_dir = os.path.join(paths.root(), "spare")
    for name in os.listdir(spare_dir) if os.path.isdir(spare_dir) else []:
        zpid, zstart = name.split("-")[:2]
        if not alive(int(zpid), int(zstart) if zstart.isdigit() else None):
            remove_tree(os.path.join(spare_dir, name))   # a prebuilt spare's has overlay dirs
            done.append(f"removed spare staging {name}")
    return Collected(done, live, dead)
