"""The memory controller: a hard limit, where the kernel's OOM killer acts, and the counters around it.

Every page a process in the group touches (anonymous memory, page cache, kernel memory on v2) is
*charged* to the group. When a charge would pass the limit the kernel first reclaims the group's own
pages (drops clean cache, swaps out if swap is allowed); when nothing is left to reclaim it runs the OOM
killer *inside the group*: one of its processes gets SIGKILL (exit 137) and ``oom_kill`` is counted.

========================  ==================================  ==============================
what                      v1 (``/sys/fs/cgroup/memory/...``)  v2
========================  ==================================  ==============================
limit                     ``memory.limit_in_bytes``            ``memory.max``
a reservation             ``memory.soft_limit_in_bytes`` [1]_ ``memory.low`` (runc's mapping)
throttle-first limit      — (v1 has none)                      ``memory.high``
swap                      ``memory.memsw.limit_in_bytes`` [2]_ ``memory.swap.max`` (swap alone)
in use / peak             ``memory.usage_in_bytes`` /          ``memory.current`` /
                          ``memory.max_usage_in_bytes``        ``memory.peak`` (5.19+)
OOM kills                 ``memory.oom_control``: ``oom_kill`` ``memory.events``: ``oom_kill``
pressure                  —                                    ``memory.pressure`` (PSI)
========================  ==================================  ==============================

.. [1] acts only when the whole host is short of memory, and then the other way round: v1 reclaims *first*
   from the groups above their soft limit, while v2's ``memory.low`` protects a group below it, which is
   reclaimed *last* (docker's ``--memory-reservation``; runc maps it to ``memory.low`` on v2); v2's ``memory.high`` throttles the group itself and has no v1 counterpart.
   boxkit's ``memory_high=`` falls back to the soft limit on v1, the nearest thing there.
.. [2] memory *plus* swap, present only when the kernel accounts swap (``swapaccount=1``).

``oom_kill`` exists since Linux 4.13. ``memory.failcnt`` is *not* the OOM signal: it counts charges
that hit the limit and stayed 0 through a real OOM kill on this course's host.
"""

from __future__ import annotations

from .files import exists, read_int, read_kv, read_pressure, write

V1_HIERARCHIES = ("memory",)
V2_CONTROLLER = "memory"
V1_UNLIMITED = 0x7FFFFFFFFFFFF000   # what memory.limit_in_bytes reads when no limit is set (page-aligned LONG_MAX)

FILES = [
    ("memory limit", "memory/memory.limit_in_bytes", "memory.max"),
    # docker's --memory-reservation: v1's soft limit; runc writes it to memory.low on v2 (both protect the
    # group's pages from reclaim down to that size when the host runs short; neither throttles)
    ("memory reservation (acts when the host runs short)", "memory/memory.soft_limit_in_bytes", "memory.low"),
    ("memory throttle line (v2 only)", "— (v1 has none)", "memory.high"),
    ("memory + swap limit", "memory/memory.memsw.limit_in_bytes", "memory.swap.max (swap alone)"),
    ("memory in use", "memory/memory.usage_in_bytes", "memory.current"),
    ("peak memory", "memory/memory.max_usage_in_bytes", "memory.peak"),
    ("OOM kills", "memory/memory.oom_control: oom_kill", "memory.events: oom_kill"),
]


def v1_apply(dirs: dict[str, str], lim) -> None:
    m = dirs.get("memory")
    if not m:
        return
    if lim.memory is not None:
        write(f"{m}/memory.limit_in_bytes", lim.memory)
        # docker lets a container use as much swap again by default; the course wants the OOM killer to
        # act at the limit, so memory+swap equals memory unless asked otherwise
        swap = lim.memory_swap if lim.memory_swap is not None else lim.memory
        if exists(f"{m}/memory.memsw.limit_in_bytes"):
            write(f"{m}/memory.memsw.limit_in_bytes", swap)
    if lim.memory_high is not None:
        write(f"{m}/memory.soft_limit_in_bytes", lim.memory_high)


def v1_stats(dirs: dict[str, str], s: dict) -> None:
    m = dirs.get("memory")
    if not m:
        return
    s["memory_current"] = read_int(f"{m}/memory.usage_in_bytes")
    s["memory_peak"] = read_int(f"{m}/memory.max_usage_in_bytes")   # after: see Stats.memory_in_use
    lim = read_int(f"{m}/memory.limit_in_bytes")
    s["memory_limit"] = None if lim is None or lim >= V1_UNLIMITED else lim
    s["oom_kills"] = read_kv(f"{m}/memory.oom_control").get("oom_kill", 0)


def v1_oom_kills(dirs: dict[str, str]) -> int:
    """Just the OOM counter: one file, read on every container's exit."""
    m = dirs.get("memory")
    return read_kv(f"{m}/memory.oom_control").get("oom_kill", 0) if m else 0


def v2_oom_kills(d: str) -> int:
    return read_kv(f"{d}/memory.events").get("oom_kill", 0)


def v2_apply(d: str, lim) -> None:
    if lim.memory is not None:
        write(f"{d}/memory.max", lim.memory)
        # v2 limits swap alone (docker's --memory-swap is memory+swap): no swap unless asked
        swap = (lim.memory_swap - lim.memory) if lim.memory_swap is not None else 0
        if exists(f"{d}/memory.swap.max"):
            write(f"{d}/memory.swap.max", swap)
    if lim.memory_high is not None:
        write(f"{d}/memory.high", lim.memory_high)


def v2_stats(d: str, s: dict) -> None:
    s["memory_current"] = read_int(f"{d}/memory.current")
    s["memory_peak"] = read_int(f"{d}/memory.peak")   # after current: Stats.memory_in_use caps one by the other
    s["memory_limit"] = read_int(f"{d}/memory.max")
    s["oom_kills"] = read_kv(f"{d}/memory.events").get("oom_kill", 0)
    p = read_pressure(f"{d}/memory.pressure")
    if p is not None:
        s.setdefault("psi", {})["memory"] = p
