"""Workloads that run *inside* containers, for the cgroups demos and tests.

As crun's tests use one static payload (``memhog``, ``forkbomb``, ``pause``), boxkit builds argv lists
for the base images: Python programs for the ``host`` image (which carries python3), shell loops for
``busybox``. Each bounds itself in time so a demo can never run away.
"""

from __future__ import annotations

MEMHOG = r"""
import sys, time
step, target, pause = int(sys.argv[1]) << 20, int(sys.argv[2]) << 20, float(sys.argv[3])
held = []
while sum(map(len, held)) < target:
    held.append(b"x" * step)          # b"x" * n writes every page: resident, charged to the cgroup
    time.sleep(pause)
print("reached", sum(map(len, held)) >> 20, "MiB", flush=True)
time.sleep(1)
"""


def memhog(target_mb: int, step_mb: int = 10, pause: float = 0.02) -> list[str]:
    """``host`` image: grow by ``step_mb`` every ``pause`` seconds up to ``target_mb``."""
    return ["python3", "-c", MEMHOG, str(step_mb), str(target_mb), str(pause)]


def cpuburn(seconds: float, workers: int = 1) -> list[str]:
    """``busybox`` image: ``workers`` busy loops for ``seconds``."""
    loop = f"end=$(( $(date +%s) + {int(seconds)} )); while [ $(date +%s) -lt $end ]; do :; done"
    return ["sh", "-c", " & ".join([f"({loop})"] * workers) + "; wait"]


FORKBOMB = r"""
import os, sys, time
end = time.monotonic() + float(sys.argv[1])
made = refused = 0
while time.monotonic() < end:
    try:
        if os.fork() == 0:
            time.sleep(max(0.0, end - time.monotonic()) + 1)
            os._exit(0)
        made += 1
    except BlockingIOError:          # EAGAIN: pids.max reached, the kernel refused the fork
        refused += 1
        time.sleep(0.001)
print("forked", made, "refused", refused, flush=True)
"""


def forkbomb(seconds: float) -> list[str]:
    """``host`` image: fork as fast as possible for ``seconds`` (children sleep), then stop by itself
    and report how many forks the kernel refused."""
    return ["python3", "-c", FORKBOMB, str(seconds)]


def pause(seconds: float = 300) -> list[str]:
    return ["sleep", str(seconds)]
