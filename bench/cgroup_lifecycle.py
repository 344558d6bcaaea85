#!/usr/bin/env python3
"""What a container's cgroup costs to make and to remove, against the bare mkdir/rmdir floor.

    sudo .venv/bin/python bench/cgroup_lifecycle.py [-n 40]

``cgroups.create(id, memory+cpu+pids limits)`` + ``add(pid)`` + ``remove()`` — what the runtime does
for every container — median of N, against the floor of one plain ``mkdir`` + ``rmdir`` per hierarchy
boxkit uses (what any runtime pays just to have a group in each). On v1 boxkit's group spans
memory, cpu, cpuacct, pids, blkio and devices (6 directories when cpu and cpuacct are mounted apart, as
here) and writes the limits plus 12 device rules; on v2 it is one directory. A plain host ``sleep`` stands in
for the container's PID 1 and is moved back home (untimed) before ``remove()``, as the container's
exit would empty the group. These run back to back, so the move stays cheap (see below). Absolute
times on a shared machine are noise: read the ratios.

Then what a *start* pays, with containers some 50 ms apart as in a notebook: moving a fresh process
into a new group (the first write to ``cgroup.procs`` after a quiet spell waits for an RCU grace period:
the kernel's ``cgroup_threadgroup_rwsem`` is a per-CPU rwsem whose writer must flip it to its slow
mode) against claiming a group prepared and joined ahead of time (:func:`boxkit.cgroups.pregroup.prepare`,
:meth:`~boxkit.cgroups.pregroup.PreGroup.claim`: a rename and the limit writes, v1 only).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))


def home_of(pid: int) -> dict[str, str]:
    """hierarchy mount point -> the directory the process sits in now (from /proc/PID/cgroup)."""
    from boxkit import cgroups

    host = cgroups.detect()
    root = host.v2_root or "/sys/fs/cgroup"
    out = {}
    with open(f"/proc/{pid}/cgroup") as f:
        for line in f:
            _, ctrls, path = line.rstrip("\n").split(":", 2)
            if ctrls == "" and host.version == 2:
                out[root] = root + path
            for c in ctrls.split(","):
                if c in host.v1:
                    out[host.v1[c]] = host.v1[c] + path
    return out


def lifecycle(n: int) -> tuple[list[float], int]:
    from boxkit import cgroups
    from boxkit.spec import Limits

    lim = Limits.parse(memory="500M", cpus="0.5", pids=100)
    sleeper = subprocess.Popen(["sleep", "600"])
    times: list[float] = []
    dirs = 0
    try:
        home = home_of(sleeper.pid)
        for i in range(n):
            t = time.perf_counter()
            g = cgroups.create(f"bench-{os.getpid()}-{i}", lim)
            g.add(sleeper.pid)
            spent = time.perf_counter() - t
            for f in g.procs_files:   # back home, untimed: a container's exit empties its group
                mount = os.path.dirname(os.path.dirname(os.path.dirname(f)))
                if mount in home:
                    with open(os.path.join(home[mount], "cgroup.procs"), "w") as fh:
                        fh.write(str(sleeper.pid))
            t = time.perf_counter()
            g.remove()
            times.append(spent + time.perf_counter() - t)
            dirs = len(g.paths)
    finally:
        sleeper.kill()
        sleeper.wait()
    return times, dirs


def floor(n: int) -> list[float]:
    from boxkit import cgroups
    from boxkit.cgroups.controllers import v1_hierarchies
    from boxkit.spec import Limits

    host = cgroups.detect()
    bases = ([host.v2_root or "/sys/fs/cgroup"] if host.version == 2
             else sorted({host.v1[c] for c in v1_hierarchies(Limits.parse(memory="500M")) if c in host.v1}))
    out = []
    for i in range(n):
        names = [os.path.join(b, f"bench-floor-{os.getpid()}-{i}") for b in bases]
        t = time.perf_counter()
        for d in names:
            os.mkdir(d)
        for d in names:
            os.rmdir(d)
        out.append(time.perf_counter() - t)
    return out


def start_path(n: int, gap: float = 0.05) -> tuple[list[float], list[float] | None]:
    """(create + add of a fresh process, claim of a prepared and joined group), each after ``gap`` s idle."""
    from boxkit import cgroups
    from boxkit.cgroups import pregroup
    from boxkit.spec import Limits

    lim = Limits.parse(memory="500M", cpus="0.5", pids=100)
    fresh: list[float] = []
    claimed: list[float] = []
    for i in range(n):
        p = subprocess.Popen(["sleep", "60"])
        time.sleep(gap)
        t = time.perf_counter()
        g = cgroups.create(f"bench-start-{os.getpid()}-{i}", lim)
        try:
            g.add(p.pid)
            fresh.append(time.perf_counter() - t)
        finally:
            p.kill()
            p.wait()
            g.remove()
        spare = pregroup.prepare(f"bench-spare-{os.getpid()}-{i}")
        if spare is None:
            continue
        p = subprocess.Popen(["sleep", "60"])
        try:
            spare.add(p.pid)   # ahead of time, off the start path
            time.sleep(gap)
            t = time.perf_counter()
            spare.claim(f"bench-claim-{os.getpid()}-{i}", lim)
            claimed.append(time.perf_counter() - t)
        finally:
            p.kill()
            p.wait()
            spare.remove()
    return fresh, claimed or None


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-n", type=int, default=40)
    a = ap.parse_args(argv)
    if os.geteuid() != 0:
        print("skipped: needs root (creates cgroups)")
        return 0
    from boxkit import cgroups

    host = cgroups.detect()
    if host.mode == "none":
        print("skipped: no cgroup file system at /sys/fs/cgroup")
        return 0
    lifecycle(3)   # warm-up: boxkit/ exists from here on, as it does while any container runs
    full, k = lifecycle(a.n)
    bare = floor(a.n)
    cgroups.gc(alive=set())   # removes boxkit/ again when nothing else uses it
    mf, mb = statistics.median(full) * 1e3, statistics.median(bare) * 1e3
    print(f"cgroup mode: {host.mode} (driver v{host.version}); median of {a.n}")
    print(f"  boxkit create+add+remove (memory+cpu+pids limits)  {mf:6.2f} ms   ({k} directories)")
    print(f"  mkdir+rmdir floor, same hierarchies                {mb:6.2f} ms")
    print(f"  ratio boxkit/floor: {mf / mb:.1f}x")
    fresh, claimed = start_path(max(10, a.n // 2))
    ff = statistics.median(fresh) * 1e3
    print(f"\non the start path, 50 ms after the last cgroup change, median of {len(fresh)}:")
    print(f"  create + move a fresh process in                   {ff:6.2f} ms")
    if claimed:
        fc = statistics.median(claimed) * 1e3
        print(f"  claim a prepared, joined group (rename + limits)   {fc:6.2f} ms")
        print(f"  ratio create+move / claim: {ff / fc:.0f}x")
    else:
        print("  claim: not on this host (cgroup v2 directories cannot be renamed)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
