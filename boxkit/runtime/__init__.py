"""Starting and ending containers: the caller's side (:mod:`.container`), the single-threaded
supervisor that forks them (:mod:`.supervisor`, :mod:`.zygote`), what the forked processes do before
``execve`` (:mod:`.init`, :mod:`.rootfs`, :mod:`.caps`), and what survives a crash (:mod:`.state`)."""

from .container import Container, Result, build_plan, run

__all__ = ["Container", "Result", "build_plan", "run"]
