"""``boxkit gc``: what killed owners left, collected piece by piece, each by the layer that made it.

A notebook kernel killed outright (``kill -9`` of its process group, an OOM kill) or a ``boxkit run``
killed by its terminal cannot clean up after itself. What it leaves is spread over the layers:

1. its containers' state directories and processes, and its spares' staging (:mod:`boxkit.runtime.state`:
   a container counts as dead when its supervisor's (PID, start time) pair no longer runs);
2. podman stores of comparisons whose owner died (:mod:`boxkit.podman`);
3. the cgroup directories of the dead containers, in every hierarchy (:mod:`boxkit.cgroups`);
4. their network leases, veths and firewall rules (:mod:`boxkit.net`).

The order matters: cgroups are removed only for containers step 1 found dead or that no live record
names, and network leases only for containers no live record names. This module sits above all four,
so no library package imports another to clean up after it. The background collector that ``import
boxkit`` starts (:mod:`boxkit.runtime.collector`, which only *looks*) runs :func:`main`.
"""

from __future__ import annotations

import contextlib
import os
import sys

from . import cgroups, net, paths, podman
from .runtime import collector, state


def collect() -> list[str]:
    """Every step above, without the collector lock. Returns one line per thing removed."""
    found = state.collect_containers()
    done = list(found.done)
    with contextlib.suppress(OSError):
        done += podman.gc()   # comparisons with podman: its store, mount and cgroups (boxkit/podman.py)
    with contextlib.suppress(OSError):
        done += [f"removed cgroup {p}" for p in cgroups.gc(found.live, dead=found.dead)]
    # net.gc loads pyroute2 (~130 ms): only where a network was ever set up
    if os.path.isdir(os.path.join(paths.root(), "net")) or os.path.isdir(paths.locks_dir()):
        done += [f"released network of {c}" for c in net.gc(found.live)]
    return done


def gc() -> list[str]:
    """Remove what a killed kernel left behind, never beside a background collector."""
    with collector.exclusive():
        return collect()


def main() -> int:
    """The background collector: holds the lock its spawner handed it (``BOXKIT_GC_LOCK_FD``)."""
    fd = int(os.environ.get("BOXKIT_GC_LOCK_FD", "-1"))
    try:
        collect()
    except Exception:   # a background job has no one to tell; boxkit gc reports the same errors
        return 1
    finally:
        if fd >= 0:
            with contextlib.suppress(OSError):
                os.close(fd)
    return 0


if __name__ == "__main__":
    sys.exit(main())
