"""Starting and ending containers: the caller's side (:mod:`.container`), the single-threaded
supervisor that forks them (:mod:`.supervisor`, :mod:`.zygote`), what the forked processes do before
``execve`` (:mod:`.init`, :mod:`.rootfs`, :mod:`.caps`), and what survives a crash (:mod:`.state`)."""

from __future__ import annotations

__all__ = ["Container", "Result", "build_plan", "run"]


def __getattr__(name: str):
    # lazy: ``import boxkit`` looks for leftovers through .state and .collector on every command, and
    # .container (the caller's side, 30 ms of imports) is needed only to start a container
    if name in __all__:
        from . import container  # lazy: as above

        return getattr(container, name)
    raise AttributeError(f"module 'boxkit.runtime' has no attribute {name!r}")
