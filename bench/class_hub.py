#!/usr/bin/env python3
"""A class at nine o'clock: N learners on one VM's hub at once, each running chapter 01's cells.

    sudo flock /tmp/boxkit-live.lock .venv/bin/python bench/class_hub.py [-n 20]

The hub is the teacher's ``deploy/onevm/jupyterhub_config.py`` (learners as Unix users, boxkit
rootless, each server in a cgroup of its own with the config's 1 GiB memory limit), started by
tests/hub/hubctl.py on 127.0.0.1 as in the tests. N Unix users are made (homes on tmpfs mounts of
their own, outside /tmp), all N servers are asked for at once through the REST API, each gets a
kernel, and then chapter 01's code cells (``notebooks/src/01-namespaces.py``, in order, exactly as a
learner runs them: ``course.start`` replays what needs root) run in all N kernels at once, one cell at a
time across the class, as a class follows the teacher.

Measured:

* **spawn**: seconds from ``POST /hub/api/users/NAME/server`` to the hub's ``ready``, p50 and p95;
* **cell latency**: each cell's time from the request to the kernel's ``idle``, p50 and p95 over
  every learner and cell, and the slowest cell's p95;
* **memory per learner**, from the learner's own cgroup (server + kernel + boxkit's helpers and
  containers, and the page cache and tmpfs pages the group was charged): now and peak, at three points
  (server alone; kernel after ``import boxkit``; after the chapter), p50 and max over the class; and the
  proportional set size (PSS: shared pages split between their users) of the group's processes after
  the chapter, which does not charge one learner for the pages all of them share;
* **the host**: MemAvailable before the hub and with the whole class at its peak, and from it how many
  such learners fit in this VM's RAM, against z2jh's default guarantee of 1 GiB per user.

Everything is removed afterwards (servers, groups, homes, users, mounts), as in the tests.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import os
import platform
import statistics
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
ONEVM = os.path.join(REPO, "deploy", "onevm")
sys.path[:0] = [os.path.join(REPO, "tests"), os.path.join(REPO, "tests", "hub"), ONEVM]
os.environ.setdefault("BOXKIT_NO_GC", "1")   # only boxkit.course's directive parser is needed here

import hubctl  # noqa: E402
from learner_cgroup import LearnerGroup, groups_left  # noqa: E402
from learners import learner_checkout, make_user, pids_of  # noqa: E402

from boxkit.course import directives  # noqa: E402

MiB = 1024**2
GiB = 1024**3
HOME_SIZE = 512 * MiB     # a ceiling, not a reservation: tmpfs takes memory only for what is written


def chapter_cells(name: str = "01-namespaces") -> list[str]:
    """The code cells of ``notebooks/src/NAME.py`` (jupytext percent format), in order."""
    with open(os.path.join(REPO, "notebooks", "src", f"{name}.py")) as f:
        text = f.read()
    cells, cur, kind = [], [], None
    for line in text.splitlines():
        if line.startswith("# %%"):
            if kind == "code" and "".join(cur).strip():
                cells.append("\n".join(cur).strip("\n"))
            cur, kind = [], "markdown" if "[markdown]" in line else "code"
            continue
        cur.append(line)
    if kind == "code" and "".join(cur).strip():
        cells.append("\n".join(cur).strip("\n"))
    return cells


def meminfo(key: str) -> int:
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1]) * 1024
    raise KeyError(key)


def pss(pids) -> int:
    total = 0
    for pid in pids:
        with contextlib.suppress(OSError), open(f"/proc/{pid}/smaps_rollup") as f:
            for line in f:
                if line.startswith("Pss:"):
                    total += int(line.split()[1]) * 1024
    return total


def pct(values: list[float], q: float) -> float:
    values = sorted(values)
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[int(q) - 1]


def mib(n: float) -> str:
    return f"{n / MiB:.0f} MiB"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("-n", type=int, default=20, help="learners at once (default 20)")
    ap.add_argument("--chapter", default="01-namespaces")
    a = ap.parse_args(argv)
    if os.geteuid() != 0:
        print("class_hub: run as root (it makes Unix users, mounts and cgroups)", file=sys.stderr)
        return 2
    why = hubctl.missing()
    if why:
        print(f"class_hub: {why}", file=sys.stderr)
        return 2
    cells = chapter_cells(a.chapter)
    avail_before = meminfo("MemAvailable")
    report = {}
    with contextlib.ExitStack() as stack:
        repo = stack.enter_context(learner_checkout())
        install = stack.enter_context(hubctl.shared_install(repo))
        homes = hubctl.outside_tmp()
        stack.callback(os.rmdir, homes)
        users = []
        for _ in range(a.n):
            u = stack.enter_context(make_user("bkb"))
            users.append(stack.enter_context(hubctl.learner_home(u, homes, HOME_SIZE)))
        names = [u.name for u in users]
        cfg = f"""
        c.Spawner.cmd = {install.cmd!r}
        c.Spawner.environment = {{"PYTHONPATH": {":".join(install.pythonpath)!r}}}
        """
        hub = stack.enter_context(hubctl.Hub(cfg, subconfig=os.path.join(ONEVM, "jupyterhub_config.py")))
        hub.add_users(names)
        t0 = time.monotonic()
        spawn = hub.spawn_all(names, timeout=600)
        print(f"{a.n} servers ready in {time.monotonic() - t0:.1f} s", flush=True)
        groups = {n: LearnerGroup(n) for n in names}
        limit = groups[names[0]].usage().memory_limit_bytes
        server_only = {n: g.usage().memory_bytes for n, g in groups.items()}
        kernels = {n: hub.kernel(n) for n in names}
        hub.run_all([(n, kernels[n], "import boxkit") for n in names], timeout=600)
        with_kernel = {n: g.usage().memory_bytes for n, g in groups.items()}
        latencies, failed, slowest = [], {}, (0.0, "")
        for i, code in enumerate(cells):
            done = hub.run_all([(n, kernels[n], code) for n in names], timeout=900)
            for n, cell in zip(names, done, strict=True):
                latencies.append(cell.seconds)
                if cell.error:
                    failed.setdefault(n, []).append(f"cell {i + 1}: {cell.error[0]}: {cell.error[1][:120]}")
            p95 = pct([c.seconds for c in done], 95)
            if p95 > slowest[0]:
                slowest = (p95, code.splitlines()[-1][:60])
            print(f"cell {i + 1}/{len(cells)}: p50 {statistics.median(c.seconds for c in done):.2f} s, "
                  f"p95 {p95:.2f} s", flush=True)
        after = {n: g.usage() for n, g in groups.items()}
        pss_after = {n: pss(g.pids()) for n, g in groups.items()}
        avail_class = meminfo("MemAvailable")
        hub_pss = pss([hub.proc.pid] + ([hub.proxy_pid] if hub.proxy_pid else []))
        report = dict(spawn=list(spawn.values()), server_only=list(server_only.values()),
                      with_kernel=list(with_kernel.values()),
                      now=[u.memory_bytes for u in after.values()],
                      peak=[u.memory_peak_bytes for u in after.values()],
                      oom=sum(u.oom_kills or 0 for u in after.values()), pss=list(pss_after.values()),
                      latencies=latencies, slowest=slowest, failed=failed, limit=limit,
                      avail_class=avail_class, cells=len(cells),
                      marked=sum(1 for c in cells if directives(c)), hub_pss=hub_pss)
        hub.stop()
        left = hub.leftovers()
    stray = [p for u in users for p in pids_of(u.uid)]
    print_table(a.n, report, avail_before, left + [f"group {g}" for g in groups_left()] +
                [f"pid {p}" for p in stray])
    return 0


def print_table(n: int, r: dict, avail_before: int, left: list[str]) -> None:
    total = meminfo("MemTotal")
    per_learner_host = (avail_before - r["avail_class"]) / n
    peak_p95 = pct(r["peak"], 95)
    rows = [
        ("learners at once", f"{n}"),
        ("chapter", f"01-namespaces, {r['cells']} code cells in every kernel"),
        ("cells marked as needing more (replayed rootless)", f"{r['marked']}"),
        ("spawn to ready, p50 / p95 / max",
         f"{statistics.median(r['spawn']):.1f} s / {pct(r['spawn'], 95):.1f} s / {max(r['spawn']):.1f} s"),
        ("cell latency, p50 / p95 (all cells)",
         f"{statistics.median(r['latencies']):.2f} s / {pct(r['latencies'], 95):.2f} s"),
        ("slowest cell's p95", f"{r['slowest'][0]:.2f} s ({r['slowest'][1]!r})"),
        ("cells that raised", f"{sum(len(v) for v in r['failed'].values())}"),
        ("group memory, server alone (p50 / max)",
         f"{mib(statistics.median(r['server_only']))} / {mib(max(r['server_only']))}"),
        ("group memory, + kernel and import boxkit",
         f"{mib(statistics.median(r['with_kernel']))} / {mib(max(r['with_kernel']))}"),
        ("group memory after the chapter, now", f"{mib(statistics.median(r['now']))} / {mib(max(r['now']))}"),
        ("group memory, peak (p50 / p95 / max)",
         f"{mib(statistics.median(r['peak']))} / {mib(peak_p95)} / {mib(max(r['peak']))}"),
        ("PSS of the group's processes after", f"{mib(statistics.median(r['pss']))} / {mib(max(r['pss']))}"),
        ("host MemAvailable used per learner", mib(per_learner_host)),
        ("each group's memory limit", mib(r["limit"])),
        ("OOM kills in the class", f"{r['oom']}"),
        ("z2jh's default guarantee", "1024 MiB"),
        ("learners in this VM's RAM at the p95 peak", f"{int(total * 0.9 // peak_p95)} "
                                                      f"(90% of {total / GiB:.1f} GiB)"),
        ("learners at the host's use per learner", f"{int((avail_before - r['hub_pss']) // per_learner_host)} "
                                                   "(MemAvailable before the hub)"),
        ("learners at z2jh's 1 GiB guarantee", f"{int(total * 0.9 // GiB)}"),
        ("the hub and its proxy (PSS)", mib(r["hub_pss"])),
        ("left after the hub stopped", ", ".join(left) or "nothing"),
    ]
    w = max(len(k) for k, _ in rows)
    print(f"\nclass hub, {datetime.date.today()}, {platform.node()}, {os.cpu_count()} CPUs, "
          f"{platform.release()}")
    for k, v in rows:
        print(f"  {k:<{w}}  {v}")
    for name, errs in r["failed"].items():
        print(f"  {name}: " + "; ".join(errs[:3]))


if __name__ == "__main__":
    sys.exit(main())
