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
"""

from __future__ import annotations

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


def shares_to_weight(shares: int) -> int:
    """runc's conversion: v1 shares 2..262144 → v2 weight 1..10000 (1024 → 39, not 100: as runc)."""
    return 1 + ((shares - 2) * 9999) // 262142


def v1_apply(dirs: dict[str, str], lim) -> None:
    c = dirs.get("cpu")
    if not c:
        return
    if lim.cpus is not None:
        write(f"{c}/cpu.cfs_period_us", PERIOD_US)
        write(f"{c}/cpu.cfs_quota_us", int(lim.cpus * PERIOD_US))
    if lim.cpu_shares is not None:
        write(f"{c}/cpu.shares", lim.cpu_shares)


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


def v2_apply(d: str, lim) -> None:
    if lim.cpus is not None:
        write(f"{d}/cpu.max", f"{int(lim.cpus * PERIOD_US)} {PERIOD_US}")
    if lim.cpu_shares is not None:
        write(f"{d}/cpu.weight", shares_to_weight(lim.cpu_shares))


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
