"""The cpu controller: a quota of CPU time per period, and weights that split a contended CPU.

**Quota (``--cpus 0.5``).** The CFS bandwidth controller gives the group *quota* microseconds of CPU
per *period* (boxkit uses docker's 100 ms), summed over all its threads and CPUs. Once the group has
used its quota it is taken off every CPU until the next period starts: a *throttle*, counted in
``cpu.stat``. 0.5 CPUs is 50 ms per 100 ms; 1.5 CPUs lets two threads run 75 ms each.

**Weights (``--cpu-shares``).** Not a cap: they decide only how a CPU that several groups want is split
between siblings. v1 ``cpu.shares`` (2..262144, 1024 = 1x); v2 ``cpu.weight`` (1..10000, 100 = 1x).
docker's shares are converted as runc does, so 1024 becomes weight 39, not 100.

=====================  ==============================================  ===================================
what                   v1                                              v2
=====================  ==============================================  ===================================
quota                  ``cpu/cpu.cfs_quota_us`` + ``cpu.cfs_period_us``  ``cpu.max`` ("quota period")
weight                 ``cpu/cpu.shares``                              ``cpu.weight``
CPU used               ``cpuacct/cpuacct.usage`` (ns, own hierarchy)   ``cpu.stat``: ``usage_usec``
throttling             ``cpu/cpu.stat``: ``throttled_time`` (ns)        ``cpu.stat``: ``throttled_usec``
pressure               —                                               ``cpu.pressure`` (PSI)
=====================  ==============================================  ===================================

On v1, CPU *accounting* is its own controller (``cpuacct``), often co-mounted with ``cpu`` as
``cpu,cpuacct`` — but not on this course's host, where they are two hierarchies.

**What is written**, from :class:`CPU` — the ``cpu`` section of the OCI resources, which both fronts
fill (:mod:`boxkit.cgroups.resources`: ``--cpus 0.5`` arrives as quota 50000 per period 100000). Besides
the table: a *burst* (``cpu.cfs_burst_us``, v2 ``cpu.max.burst``, 5.14+: quota left unused in earlier
periods that the group may spend at once), ``cpu.idle`` (1: the group's threads run only when nothing
else wants the CPU, SCHED_IDLE for a group, 5.15+) and v1's real-time budget (``cpu.rt_period_us`` then
``cpu.rt_runtime_us``: how long the group's SCHED_FIFO/RR threads may run per period; v2 has no
real-time groups, so there it is not written, as runc does not). The period goes before the quota: the
kernel checks the pair against the parent's bandwidth as each is written. The cpuset fields of the same
section (``cpus``, ``mems``) are :mod:`.cpuset`'s.
"""

from __future__ import annotations

from dataclasses import dataclass

from .files import read, read_int, read_kv, read_pressure, write

V1_HIERARCHIES = ("cpu", "cpuacct")
V2_CONTROLLER = "cpu"
PERIOD_US = 100_000   # docker's and runc's default CFS period

FILES = [
    ("CPU quota", "cpu/cpu.cfs_quota_us + cpu.cfs_period_us", "cpu.max"),
    ("CPU weight", "cpu/cpu.shares (1024 = 1x)", "cpu.weight (100 = 1x)"),
    ("CPU used", "cpuacct/cpuacct.usage (ns)", "cpu.stat: usage_usec"),
    ("throttling", "cpu/cpu.stat: nr_throttled, throttled_time (ns)", "cpu.stat: nr_throttled, throttled_usec"),
]


@dataclass(frozen=True)
class CPU:
    """``linux.resources.cpu``: microseconds and weights, None where not set."""

    shares: int | None = None             # 2..262144 (v1 cpu.shares; v2 cpu.weight via shares_to_weight)
    quota: int | None = None              # per period; -1: no limit
    period: int | None = None             # v2: PERIOD_US when only a quota is given
    burst: int | None = None
    realtime_runtime: int | None = None   # v1 only; -1: no limit
    realtime_period: int | None = None    # v1 only
    cpus: str | None = None               # cpuset.cpus, written by .cpuset
    mems: str | None = None               # cpuset.mems, written by .cpuset
    idle: int | None = None               # 0 or 1


def shares_to_weight(shares: int) -> int:
    """runc's conversion: v1 shares 2..262144 → v2 weight 1..10000 (1024 → 39, not 100: as runc)."""
    return 1 + ((shares - 2) * 9999) // 262142


def v1_apply(dirs: dict[str, str], res) -> None:
    c, cpu = dirs.get("cpu"), res.cpu
    if not c or cpu is None:
        return
    for value, name in ((cpu.shares, "cpu.shares"), (cpu.period, "cpu.cfs_period_us"),
                        (cpu.quota, "cpu.cfs_quota_us"), (cpu.burst, "cpu.cfs_burst_us"),
                        (cpu.realtime_period, "cpu.rt_period_us"), (cpu.realtime_runtime, "cpu.rt_runtime_us"),
                        (cpu.idle, "cpu.idle")):
        if value is not None:
            write(f"{c}/{name}", value)


def v1_stats(dirs: dict[str, str], s: dict) -> None:
    acct = dirs.get("cpuacct")
    if acct:
        ns = read_int(f"{acct}/cpuacct.usage")
        s["cpu_usage_usec"] = ns // 1000 if ns is not None else None
    c = dirs.get("cpu")
    if c:
        st = read_kv(f"{c}/cpu.stat")
        s["nr_periods"] = st.get("nr_periods", 0)
        s["nr_throttled"] = st.get("nr_throttled", 0)
        s["throttled_usec"] = st.get("throttled_time", 0) // 1000
        q = read_int(f"{c}/cpu.cfs_quota_us")
        p = read_int(f"{c}/cpu.cfs_period_us")
        s["cpu_limit"] = q / p if q and q > 0 and p else None


def v2_apply(d: str, res) -> None:
    cpu = res.cpu
    if cpu is None:
        return
    if cpu.shares is not None:
        write(f"{d}/cpu.weight", shares_to_weight(cpu.shares))
    if cpu.quota is not None or cpu.period is not None:
        quota = cpu.quota if cpu.quota is not None and cpu.quota > 0 else "max"
        write(f"{d}/cpu.max", f"{quota} {cpu.period or PERIOD_US}")
    if cpu.burst is not None:
        write(f"{d}/cpu.max.burst", cpu.burst)
    if cpu.idle is not None:
        write(f"{d}/cpu.idle", cpu.idle)


def v2_stats(d: str, s: dict) -> None:
    st = read_kv(f"{d}/cpu.stat")   # present even without the cpu controller (usage only)
    s["cpu_usage_usec"] = st.get("usage_usec")
    s["nr_periods"] = st.get("nr_periods", 0)
    s["nr_throttled"] = st.get("nr_throttled", 0)
    s["throttled_usec"] = st.get("throttled_usec", 0)
    try:
        q, p = read(f"{d}/cpu.max").split()
        s["cpu_limit"] = None if q == "max" else int(q) / int(p)
    except (OSError, ValueError):
        s["cpu_limit"] = None
    pr = read_pressure(f"{d}/cpu.pressure")
    if pr is not None:
        s.setdefault("psi", {})["cpu"] = pr
