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

**What is written**, from :class:`Memory` — the ``memory`` section of the OCI resources, which both
fronts fill (:mod:`boxkit.cgroups.resources`). Besides the table's limits: v1's kernel-memory limits
(``memory.kmem.limit_in_bytes``, ``memory.kmem.tcp.limit_in_bytes``: deprecated in 5.4 and refused by
newer kernels, so a refusal is passed over, as runc does), ``memory.swappiness`` (0-100; v2 has no
per-group swappiness) and ``memory.oom_control`` (1: a task past the limit waits for memory instead of
being killed; v2 has no such switch).

**The order of the two v1 limits.** The kernel keeps ``memsw.limit_in_bytes >= limit_in_bytes`` at
every moment and refuses (EINVAL) a write that would break it. So the new memory+swap limit is compared
with the group's *current* memory limit: above it (the limits grow), memsw goes first and the limit then
fits under it; otherwise the limit goes first (the new limit is at most the new memsw, which is at most
the current limit, itself at most the current memsw), then memsw. A fresh group's limit reads unlimited,
so there the limit goes first. runc's ``setMemoryAndSwap`` decides the same way.
"""

from __future__ import annotations

from dataclasses import dataclass

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


@dataclass(frozen=True)
class Memory:
    """``linux.resources.memory``: bytes, None where not set; -1 is "no limit" for ``limit``, ``swap``
    and ``reservation``."""

    limit: int | None = None
    reservation: int | None = None     # v1 soft limit, v2 memory.low (docker's --memory-reservation)
    swap: int | None = None            # memory + swap, as docker's --memory-swap (v2 gets swap - limit)
    kernel: int | None = None          # v1 only, deprecated
    kernel_tcp: int | None = None      # v1 only, deprecated
    swappiness: int | None = None      # 0-100, v1 only
    disable_oom_killer: bool = False   # v1 only
    # boxkit run's --memory-high: v2's memory.high, the soft limit on v1. Not an OCI field (a bundle
    # would say it in linux.resources.unified, which boxkit-runtime refuses).
    high: int | None = None


def v1_apply(dirs: dict[str, str], res) -> None:
    m, mem = dirs.get("memory"), res.memory
    if not m or mem is None:
        return
    if mem.limit is not None:
        _v1_limit_and_swap(m, mem.limit, mem.swap)
    soft = mem.reservation if mem.reservation is not None else mem.high
    if soft is not None:
        write(f"{m}/memory.soft_limit_in_bytes", soft)
    for value, name in ((mem.kernel, "memory.kmem.limit_in_bytes"), (mem.kernel_tcp, "memory.kmem.tcp.limit_in_bytes")):
        if value is not None and exists(f"{m}/{name}"):
            try:
                write(f"{m}/{name}", value)
            except OSError:
                pass   # kernel-memory limits are deprecated (5.4) and refused by newer kernels
    if mem.swappiness is not None and 0 <= mem.swappiness <= 100:
        write(f"{m}/memory.swappiness", mem.swappiness)
    if mem.disable_oom_killer:
        write(f"{m}/memory.oom_control", 1)


def _v1_limit_and_swap(m: str, limit: int, swap: int | None) -> None:
    """The limit and memory+swap, in the order the kernel takes them (see the module's docstring). No
    memsw file (the kernel accounts no swap) or an unlimited swap: the limit alone."""
    memsw = f"{m}/memory.memsw.limit_in_bytes"
    if swap is None or swap == -1 or not exists(memsw):
        write(f"{m}/memory.limit_in_bytes", limit)
        return
    current = read_int(f"{m}/memory.limit_in_bytes")
    if swap > (V1_UNLIMITED if current is None else current):
        write(memsw, swap)
        write(f"{m}/memory.limit_in_bytes", limit)
    else:
        write(f"{m}/memory.limit_in_bytes", limit)
        write(memsw, swap)


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


def v2_apply(d: str, res) -> None:
    mem = res.memory
    if mem is None:
        return
    if mem.limit is not None:
        write(f"{d}/memory.max", mem.limit if mem.limit > 0 else "max")
        # v2 limits swap alone (docker's and OCI's swap is memory+swap); no swap file: none to limit
        if mem.swap is not None and exists(f"{d}/memory.swap.max"):
            write(f"{d}/memory.swap.max", "max" if mem.swap == -1 else max(mem.swap - mem.limit, 0))
    if mem.reservation is not None:
        write(f"{d}/memory.low", "max" if mem.reservation == -1 else mem.reservation)
    if mem.high is not None:
        write(f"{d}/memory.high", mem.high)


def v2_stats(d: str, s: dict) -> None:
    s["memory_current"] = read_int(f"{d}/memory.current")
    s["memory_peak"] = read_int(f"{d}/memory.peak")   # after current: Stats.memory_in_use caps one by the other
    s["memory_limit"] = read_int(f"{d}/memory.max")
    s["oom_kills"] = read_kv(f"{d}/memory.events").get("oom_kill", 0)
    p = read_pressure(f"{d}/memory.pressure")
    if p is not None:
        s.setdefault("psi", {})["memory"] = p
