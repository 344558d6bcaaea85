#!/usr/bin/env python3
"""What watching costs: the CPU boxkit's cgroup sampler takes while it samples an idle container.

    sudo .venv/bin/python bench/sampler_overhead.py [-d 5] [--no-podman]

An idle container (``sleep``) is started; this process's CPU time (``time.process_time``: every thread
of the process, user + system) is measured over ``-d`` seconds without a sampler, then with a sampler
at 20 Hz and at 100 Hz. The sampler's cost is the difference, printed as % of one core, with the rate
it really achieved and the CPU per sample.

Peer, in the same run: ``podman stats --no-stream`` on an idle podman container (the same busybox
root, ``--rootfs``): the CPU of one call (its own and its children's, ``os.times``) against boxkit's
CPU per sample. Absolute numbers on a shared machine are noise; read the ratio.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
sys.path.insert(0, HERE)


def cpu_over(seconds: float) -> tuple[float, float]:
    """(process CPU seconds, wall seconds) spent while sleeping ``seconds`` in the main thread."""
    c0, w0 = time.process_time(), time.monotonic()
    time.sleep(seconds)
    return time.process_time() - c0, time.monotonic() - w0


def podman_stats_cost(n: int) -> float | str:
    """CPU seconds of one ``podman stats --no-stream`` call, or why it could not be measured."""
    from startup import make_rootfs

    if not shutil.which("podman"):
        return "podman not installed"
    from boxkit.podman import Podman

    d = tempfile.mkdtemp(prefix="boxkit-bench-")
    name = f"bk-sampler-bench-{os.getpid()}"
    # this sandbox caps RLIMIT_NOFILE/NPROC below podman's defaults: pin the limits. A store of its own
    # (runc, as crun refuses the hybrid cgroup layout), removed at the end: boxkit/podman.py
    store = Podman()
    try:
        root = make_rootfs(d)
        os.symlink("busybox", os.path.join(root, "bin", "sleep"))
        r = store.run("run", "-d", "--name", name, "--network", "none", "--ulimit", "nofile=1024:1024",
                      "--ulimit", "nproc=1024:1024", "--memory", "500m", "--rootfs", root, "/bin/sleep", "600")
        if r.returncode != 0:
            return "podman run failed: " + (r.stderr.strip().splitlines() or ["?"])[-1][:100]
        store.run("stats", "--no-stream", name)   # warm-up
        t0 = os.times()
        for _ in range(n):
            r = store.run("stats", "--no-stream", "--format", "json", name)
            if r.returncode != 0:
                return "podman stats failed: " + r.stderr.strip()[:100]
        t1 = os.times()
        return (t1.children_user + t1.children_system - t0.children_user - t0.children_system) / n
    finally:
        store.run("rm", "-f", "-t", "0", name)
        store.close()
        shutil.rmtree(d, ignore_errors=True)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("-d", type=float, default=5.0, help="seconds per measurement")
    p.add_argument("--no-podman", action="store_true")
    a = p.parse_args()
    if os.geteuid() != 0:
        print("needs root: starts a container and creates cgroups")
        return 1
    import boxkit

    rows = []
    c = boxkit.run("busybox", ["sleep", "600"], detach=True, memory="64M", cpus=0.5, pids_limit=20)
    try:
        time.sleep(0.5)
        base_cpu, base_wall = cpu_over(a.d)
        for hz in (20, 100):
            s = c.sample(hz=hz)
            cpu, wall = cpu_over(a.d)
            series = s.stop()
            used = max(0.0, cpu - base_cpu * wall / base_wall)
            n = len(series.t)
            rows.append((hz, used / wall * 100, n / wall, used / n * 1e6 if n else float("nan")))
    finally:
        c.remove()
    print(f"cgroup {boxkit.cgroups.detect().mode}; idle container; {a.d:g} s each; baseline "
          f"(no sampler) {base_cpu / base_wall * 100:.2f}% of a core, subtracted")
    print(f"{'rate':>8}  {'% of one core':>14}  {'achieved Hz':>11}  {'CPU per sample':>15}")
    for hz, pct, got, per in rows:
        print(f"{hz:>5} Hz  {pct:>13.2f}%  {got:>11.1f}  {per:>12.0f} µs")
    if not a.no_podman:
        peer = podman_stats_cost(5)
        if isinstance(peer, str):
            print(f"peer podman stats: skipped ({peer})")
        else:
            per = rows[0][3] / 1e6
            print(f"peer: one `podman stats --no-stream` call {peer * 1e3:.0f} ms CPU; boxkit sample "
                  f"{per * 1e6:.0f} µs CPU; ratio podman/boxkit per sample {peer / per:.0f}x "
                  f"(podman at 20 Hz would need {peer * 20 * 100:.0f}% of a core)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
