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

from . import paths, proc
from .errors import BoxkitError, ContainerError, ExecError, HostError, NotFoundError, SpecError, check_linux
from .i18n import language, set_language

__version__ = "0.1.0"
__all__ = [
    "run", "Container", "Result", "ContainerSpec", "Limits", "Mount", "probe", "gc",
    "BoxkitError", "ContainerError", "ExecError", "HostError", "NotFoundError", "SpecError",
    "set_language", "language",
]

check_linux()


def __getattr__(name: str):
    if name in ("run", "Container", "Result"):
        # lazy: boxkit.runtime's container side costs ~30 ms; `import boxkit` stays at errors, paths and spec
        from . import runtime

        return getattr(runtime, name)
    if name in ("ContainerSpec", "Limits", "Mount"):
        # lazy: boxkit.spec (dataclasses, ~10 ms) is not needed by pip's `boxkit` command before it
        # hands a run to the warm helper (boxkit.fastrun)
        from . import spec

        return getattr(spec, name)
    if name == "probe":
        # lazy: the probe's modules cost ~25 ms; only boxkit.probe() needs them
        from .probe import probe

        return probe
    raise AttributeError(f"module 'boxkit' has no attribute {name!r}")


def gc() -> list[str]:
    """Remove what a killed kernel left behind: containers, cgroups, network leases, podman stores."""
    from . import collect  # lazy: it loads cgroups, net and podman

    return collect.gc()


def _gc_on_import() -> None:
    # a kernel killed outright cannot clean up; the next import has it collected, in the background:
    # the import itself only looks (boxkit/runtime/collector.py says why and what it costs)
    if _os.environ.get("BOXKIT_NO_GC"):
        return

    # cheap first: a container directory, or a store or spare staging whose owner (named in it) is
    # gone; the spares of a live helper are no leftovers, and need no collector module loaded
    left = False
    for d in (paths.containers_dir(), paths.podman_dir(), _os.path.join(paths.root(), "spare")):
        try:
            names = _os.listdir(d)
        except OSError:
            continue
        left = left or (any(proc.named_owner_gone(n) for n in names) if d != paths.containers_dir()
                        else bool(names))
    if not left:
        return
    try:
        # lazy: the collector is only looked up when a collection may be due (a fresh kernel's first import)
        from .runtime import collector

        if collector.orphans():
            collector.spawn()
    except Exception:  # never break an import over housekeeping; boxkit gc reports errors
        pass


_gc_on_import()
