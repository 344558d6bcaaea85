"""One function per cgroup experiment: start a limited container, sample it, return what happened.

Each experiment is the smallest run that makes one limit *visible* — the kernel, not boxkit, enforces it:

* :func:`memory_oom` — a hog grows past ``memory.limit_in_bytes`` (v1) / ``memory.max`` (v2). The kernel
  first reclaims (there is little to reclaim from anonymous memory without swap, and boxkit sets
  memory+swap equal to memory), then its OOM killer picks a process *in that cgroup* and sends SIGKILL:
  exit 137, and ``oom_kill`` in ``memory.oom_control`` / ``memory.events`` goes up by one.
* :func:`cpu_quota` — busy loops under ``cpu.cfs_quota_us / cpu.cfs_period_us`` (v1) or ``cpu.max``
  (v2). The CFS bandwidth controller lets the group run for *quota* microseconds of CPU per *period*
  (100 ms), summed over all its threads, then takes it off the CPUs until the next period: that pause is
  a *throttle*, counted in ``cpu.stat`` (``nr_throttled``, ``throttled_time``).
* :func:`cpu_weights` — two busy containers pinned to one CPU (``cpuset.cpus``) with ``cpu.shares``
  256 and 768 (v2: ``cpu.weight``). Shares are not a cap: they only decide how a *contended* CPU is
  split between siblings, here 1:3. On an idle CPU either one could use all of it.
* :func:`fork_bomb` — a process forking as fast as it can under ``pids.max``. Past the limit
  ``fork()``/``clone()`` fail with EAGAIN inside the container, while the host still forks
  (``host_forks=`` measures that while the bomb holds the limit).
* :func:`group_files` — the files the v1/v2 table names, looked up in a running container's group;
  :func:`read_back` reads the numbers they hold.
* :func:`memory_high` — v2 only: ``memory.high`` below ``memory.max``. Above *high* the kernel throttles
  and reclaims the group instead of killing it; the stall shows up as memory *pressure* (PSI,
  ``memory.pressure``). v1's ``memory.soft_limit_in_bytes`` acts only under global memory pressure,
  so on v1 hosts there is nothing to see.

Every function returns ``(Result, Series)`` (:func:`cpu_weights`: lists of both) and takes
``on_sample``, which the sampler calls from its thread after each sample — the live plots in
:mod:`boxkit.viz.cgroups` use it to redraw while the container runs.
"""

from __future__ import annotations

import signal
import time
from collections.abc import Callable

from . import workloads
from .cgroups import detect
from .cgroups.sampler import Series
from .errors import HostError
from .i18n import N_
from .runtime import run

OnSample = Callable[[Series], None] | None


def _run_sampled(image: str, argv: list[str], *, hz: float, on_sample: OnSample, timeout: float,
                 **limits) -> tuple:
    """Start ``argv`` detached with ``limits``, sample until it ends, remove it (even on Ctrl-C)."""

    c = run(image, argv, detach=True, **limits)
    try:
        sampler = c.sample(hz=hz, on_sample=on_sample)
        try:
            result = c.wait(timeout)
        finally:
            series = sampler.stop()
    finally:
        c.remove()
    return result, series


def memory_oom(memory: str | int = "500M", target_mb: int = 900, step_mb: int = 20, pause: float = 0.02,
               hz: float = 20, on_sample: OnSample = None, timeout: float = 60) -> tuple:
    """A Python hog (``host`` image) grows by ``step_mb`` up to ``target_mb`` under a memory limit.
    With ``target_mb`` above the limit it ends OOM-killed (``result.oom_killed``, exit 137)."""
    return _run_sampled("host", workloads.memhog(target_mb, step_mb, pause), hz=hz, on_sample=on_sample,
                        timeout=timeout, memory=memory)


def cpu_quota(cpus: float | str = 0.5, seconds: float = 4, workers: int = 2, hz: float = 10,
              on_sample: OnSample = None, timeout: float = 60) -> tuple:
    """``workers`` busy loops (``busybox`` image) for ``seconds`` under a CPU quota of ``cpus`` cores."""
    return _run_sampled("busybox", workloads.cpuburn(seconds, workers), hz=hz, on_sample=on_sample,
                        timeout=timeout, cpus=cpus)


# A fork bomb that stops when it is told (SIGTERM), not after a time: the host decides when it has
# seen enough (its own forks done, a count of samples taken), so a slow machine shows the same story.
# The children sleep; when PID 1 (the bomb) exits, the kernel ends the rest of its PID namespace.
BOMB_UNTIL_TERM = r"""
import os, signal, sys, time
stop = []
signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
limit = time.monotonic() + float(sys.argv[1])     # a safety bound only: the host sends SIGTERM first
made = refused = 0
while not stop and time.monotonic() < limit:
    try:
        if os.fork() == 0:
            time.sleep(3600)
            os._exit(0)
        made += 1
    except BlockingIOError:          # EAGAIN: pids.max reached, the kernel refused the fork
        refused += 1
        time.sleep(0.001)
print("forked", made, "refused", refused, flush=True)
"""


def fork_bomb(pids_limit: int = 20, seconds: float = 3, hz: float = 20, on_sample: OnSample = None,
              timeout: float = 60, host_forks: int = 0) -> tuple:
    """A fork bomb (``host`` image) under ``pids.max``; its stdout says how many forks the kernel
    refused (``forked N refused M``). Without ``host_forks`` it stops by itself after ``seconds``.

    With ``host_forks``, the host decides when it ends, by counts: once ``pids.current`` has reached
    ``pids.max`` the host (this process) starts ``host_forks`` processes of its own (``true``) and reads
    ``pids.current`` again, then lets the sampler take ``seconds * hz`` more samples, then sends the
    bomb SIGTERM. ``result.stats["host_forks"]`` says ``{"asked", "started", "pids_before",
    "pids_after", "limit"}``: both reads at the limit mean the host forked while the bomb was stuck."""
    if not host_forks:
        return _run_sampled("host", workloads.forkbomb(seconds), hz=hz, on_sample=on_sample,
                            timeout=timeout, pids_limit=pids_limit)
    c = run("host", ["python3", "-c", BOMB_UNTIL_TERM, str(timeout)], detach=True, pids_limit=pids_limit)
    try:
        sampler = c.sample(hz=hz, on_sample=on_sample)
        try:
            forks = _fork_at_limit(c.cgroup, pids_limit, host_forks)
            _more_samples(sampler, int(seconds * hz))
            c.kill(signal.SIGTERM)
            result = c.wait(timeout)
        finally:
            series = sampler.stop()
    finally:
        c.remove()
    result.stats["host_forks"] = forks
    return result, series


def _more_samples(sampler, n: int, reads: int = 100_000) -> None:
    """Wait until ``sampler`` has taken ``n`` more samples (a count; at most ``reads`` looks)."""
    goal = len(sampler.series.t) + n
    for _look in range(reads):
        if len(sampler.series.t) >= goal:
            return
        time.sleep(0.005)


def _fork_at_limit(group, limit: int, count: int, reads: int = 5000) -> dict:
    """Wait (at most ``reads`` reads of ``pids.current``, a millisecond apart) for the group to reach
    ``limit``, then start ``count`` host processes and read ``pids.current`` again."""
    import subprocess

    before = group.stats().pids_current or 0
    for _read in range(reads):
        if before >= limit:
            break
        time.sleep(0.001)
        before = group.stats().pids_current or 0
    started = 0
    for _fork in range(count):
        try:
            started += subprocess.run(["true"], check=False).returncode == 0
        except OSError:   # EAGAIN from fork on the host would land here
            pass
    after = group.stats().pids_current or 0
    return {"asked": count, "started": started, "pids_before": before, "pids_after": after,
            "limit": limit}


def group_files(pid: int, rows, mode: str, root: str = "/sys/fs/cgroup",
                cgroup_lines: str | None = None) -> list[tuple[str, str, str | None]]:
    """The files one column of :data:`boxkit.cgroups.FILE_MAP` names (v2's for ``mode`` "v2", else
    v1's), looked up in the cgroup directories of process ``pid`` as its ``/proc/PID/cgroup`` gives
    them: ``(what, file, path)`` for every file named (a ``—`` entry names none), ``path`` None where
    the kernel has no such file there. Reads the kernel, not the table (``cgroup_lines``, the text of
    ``/proc/PID/cgroup``, and ``root`` are for tests)."""
    import os
    import re

    where: dict[str, str] = {}
    if cgroup_lines is None:
        with open(f"/proc/{pid}/cgroup") as f:
            cgroup_lines = f.read()
    for line in cgroup_lines.splitlines():
        if line.strip():
            _n, ctrls, path = line.split(":", 2)
            if ctrls == "":
                where["v2"] = os.path.join(root, path.lstrip("/"))
            for ctrl in ctrls.split(","):
                if ctrl:
                    where[ctrl] = os.path.join(root, ctrl, path.lstrip("/"))
    out = []
    column = 2 if mode == "v2" else 1
    for row in rows:
        what, text = row[0], row[column]
        if text.startswith("—"):
            continue
        text = re.sub(r"\([^)]*\)", "", text).split(":")[0]       # "(ns)", ": key" say nothing of the file
        hier = ""
        if column == 1 and "/" in text:
            hier, text = text.split("/", 1)
        for name in re.split(r"[+,]", text):
            name = name.strip()
            if not name:
                continue
            d = where.get("v2") if column == 2 else where.get(hier)
            path = os.path.join(d, name) if d else None
            out.append((what, f"{hier}/{name}" if hier else name,
                        path if path and os.path.exists(path) else None))
    return out


def read_back(found) -> dict[str, list[int]]:
    """For each file :func:`group_files` found (``path`` not None): its name → the whole numbers on its
    first line (``cpu.max`` "50000 100000" gives both; "max" or a keyed line gives none; a write-only
    file such as v1's ``devices.deny`` gives none)."""
    out: dict[str, list[int]] = {}
    for _what, name, path in found:
        if path:
            try:
                with open(path) as f:
                    first = f.readline().split()
            except OSError:   # EINVAL: the kernel has no read for this file
                first = []
            out[name] = [int(x) for x in first if x.isdigit()]
    return out


def cpu_weights(shares: tuple[int, ...] = (256, 768), seconds: float = 4, cpuset: str = "0",
                hz: float = 10, on_sample: OnSample = None) -> tuple[list, list[Series]]:
    """Busy containers, one per entry of ``shares``, all pinned to the CPUs ``cpuset``, sampled together
    for ``seconds`` and then killed (their loops would run longer: the window holds only contention).
    Returns ``(results, series)`` in the order of ``shares``; :func:`measured_shares` turns the series
    into fractions of the CPU time used."""

    started = []
    samplers = []
    try:
        for s in shares:
            started.append(run("busybox", workloads.cpuburn(seconds + 30, 1), detach=True,
                                      cpu_shares=s, cpuset_cpus=cpuset))
        samplers = [c.sample(hz=hz, on_sample=on_sample if i == 0 else None) for i, c in enumerate(started)]
        time.sleep(seconds)
        series = [s.stop() for s in samplers]
        results = []
        for c in started:
            c.kill(signal.SIGKILL)
            results.append(c.wait(10))
    finally:
        for s in samplers:
            s.stop()
        for c in started:
            c.remove()
    return results, series


def measured_shares(series: list[Series], skip: float = 1.0) -> list[float]:
    """Each series' fraction of the CPU time all of them used after ``skip`` seconds (the start-up,
    when not all were running yet, is left out)."""
    used = [s.mean_cores(skip=skip) for s in series]
    total = sum(used)
    return [u / total if total > 0 else 0.0 for u in used]


def memory_high(high: str = "200M", memory: str = "400M", target_mb: int = 300, step_mb: int = 10,
                pause: float = 0.05, hz: float = 10, on_sample: OnSample = None,
                timeout: float = 60) -> tuple:
    """v2 only: a hog grows past ``memory.high`` but stays under ``memory.max``; returns
    ``(Result, Series, psi)`` where ``psi`` lists ``(t, memory some avg10)`` read at each sample."""

    if detect().version != 2:

        # i18n: followed by the path /sys/fs/cgroup
        raise HostError(N_("cannot show memory.high on"), "/sys/fs/cgroup", hint=N_("it needs a cgroup v2 host"),
                        detail=N_("v1 has no memory.high (soft_limit_in_bytes acts only under global pressure)"))
    result, series = _run_sampled("host", workloads.memhog(target_mb, step_mb, pause), hz=hz,
                                  on_sample=on_sample, timeout=timeout, memory=memory, memory_high=high)
    psi = [(t, p) for t, p in zip(series.t, series.memory_psi, strict=True) if p is not None]
    return result, series, psi
