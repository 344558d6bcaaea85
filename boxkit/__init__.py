"""boxkit — real Linux containers from a Jupyter notebook, measured and drawn.

    >>> import boxkit
    >>> boxkit.probe()                                   # what this host allows
    >>> r = boxkit.run("busybox", ["ps"])                # a container whose ps shows PID 1
    >>> r = boxkit.run("host", "python3 -c 'print(1)'", memory="500M", cpus=0.5)

Only the standard library is imported here; matplotlib, ipywidgets and pyroute2 load when a plot, a
widget or a network is asked for.
"""

from __future__ import annotations

import os as _os

from .errors import BoxkitError, ContainerError, ExecError, HostError, NotFoundError, SpecError, check_linux
from .spec import ContainerSpec, Limits, Mount

__version__ = "0.1.0"
__all__ = [
    "run", "Container", "Result", "ContainerSpec", "Limits", "Mount", "probe", "gc",
    "BoxkitError", "ContainerError", "ExecError", "HostError", "NotFoundError", "SpecError",
]

check_linux()


def __getattr__(name: str):
    if name in ("run", "Container", "Result"):
        from . import runtime

        return getattr(runtime, name)
    if name == "probe":
        from .probe import probe

        return probe
    raise AttributeError(f"module 'boxkit' has no attribute {name!r}")


def gc(verbose: bool = False) -> list[str]:
    """Remove what a killed kernel left behind: containers, cgroups, network leases."""
    from .runtime import state

    return state.gc(verbose=verbose)


def _gc_on_import() -> None:
    # a kernel killed outright cannot clean up; the next import does (cheap when nothing is there)
    if _os.environ.get("BOXKIT_NO_GC"):
        return
    from . import paths

    left = False
    try:
        # a podman store is named OWNERPID-STARTTIME (boxkit/podman.py): only a dead owner's is left over
        left = any(not _alive_name(n) for n in _os.listdir(paths.podman_dir()))
    except OSError:
        pass
    try:
        # only a container whose owner is gone is something to collect: running ones (a keeper's, a
        # live kernel's) and stopped ones kept for boxkit rm are not, and a full gc costs ~2 s on a
        # busy host (net.gc imports pyroute2) — on every CLI verb while any container runs
        left = left or any(_orphaned(_os.path.join(paths.containers_dir(), c))
                           for c in _os.listdir(paths.containers_dir()))
    except OSError:
        pass
    if not left:
        return
    try:
        gc()
    except Exception:  # never break an import over housekeeping; boxkit gc reports errors
        pass


def _alive_name(name: str) -> bool:
    from .runtime.state import alive

    pid, start = (name.split("-") + ["", ""])[:2]
    return pid.isdigit() and alive(int(pid), int(start) if start.isdigit() else None)


def _orphaned(d: str) -> bool:
    from .runtime import state

    try:
        with open(_os.path.join(d, "state.json"), "rb") as f:
            import json

            st = json.loads(f.read())
    except (OSError, ValueError):
        return True   # no state: a start that died half-way (gc leaves very young ones alone)
    return st.get("status") != "exited" and not state.owner_alive(st)


_gc_on_import()
