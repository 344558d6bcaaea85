"""The controllers, one per class, each knowing its files on v1 and on v2.

=========  =============================================  ===========================================
           v1 (one tree per controller)                   v2 (one tree, files prefixed by controller)
=========  =============================================  ===========================================
memory     ``memory.limit_in_bytes``, ``memory.memsw.*``,   ``memory.max``, ``memory.high``,
           ``memory.usage_in_bytes``,                      ``memory.swap.max``, ``memory.current``,
           ``memory.max_usage_in_bytes``,                  ``memory.peak`` (6.1+... 5.19),
           ``memory.oom_control`` (``oom_kill N``, 4.13+)  ``memory.events`` (``oom_kill N``)
cpu        ``cpu.cfs_quota_us`` / ``cpu.cfs_period_us``,    ``cpu.max`` ("quota period"),
           ``cpu.shares`` (2..262144),                     ``cpu.weight`` (1..10000),
           ``cpu.stat``, ``cpuacct.usage`` (ns)            ``cpu.stat`` (``usage_usec`` ...)
pids       ``pids.max``, ``pids.current``                  the same names
cpuset     ``cpuset.cpus``, ``cpuset.mems``                 the same names
=========  =============================================  ===========================================

The OOM signal is ``oom_kill`` in ``memory.oom_control`` (v1) or ``memory.events`` (v2) — not
``memory.failcnt``, which counts failed charges and stayed 0 on a real OOM kill on this course's host.
:data:`FILE_MAP` is that table as data; the cgroups notebook prints it with the host's mode highlighted.
"""

from __future__ import annotations

import os

# (what, v1 file, v2 file) — printed by the notebook, used by the drivers below
FILE_MAP = [
    ("memory limit", "memory/memory.limit_in_bytes", "memory.max"),
    ("memory soft limit (throttle first)", "memory/memory.soft_limit_in_bytes", "memory.high"),
    ("memory + swap limit", "memory/memory.memsw.limit_in_bytes", "memory.swap.max (swap alone)"),
    ("memory in use", "memory/memory.usage_in_bytes", "memory.current"),
    ("peak memory", "memory/memory.max_usage_in_bytes", "memory.peak"),
    ("OOM kills", "memory/memory.oom_control: oom_kill", "memory.events: oom_kill"),
    ("CPU quota", "cpu/cpu.cfs_quota_us + cpu.cfs_period_us", "cpu.max"),
    ("CPU weight", "cpu/cpu.shares (1024 = 1x)", "cpu.weight (100 = 1x)"),
    ("CPU used", "cpuacct/cpuacct.usage (ns)", "cpu.stat: usage_usec"),
    ("throttling", "cpu/cpu.stat: nr_throttled, throttled_time (ns)", "cpu.stat: nr_throttled, throttled_usec"),
    ("process limit", "pids/pids.max", "pids.max"),
    ("processes", "pids/pids.current", "pids.current"),
    ("CPUs allowed", "cpuset/cpuset.cpus", "cpuset.cpus"),
    ("pressure (PSI)", "— (none)", "memory.pressure, cpu.pressure"),
]

PERIOD_US = 100_000

# runc's defaults for the v1 devices controller: deny everything, allow the nodes a container needs
DEVICE_RULES = ["c *:* m", "b *:* m", "c 1:3 rwm", "c 1:5 rwm", "c 1:7 rwm", "c 1:8 rwm", "c 1:9 rwm",
                "c 5:0 rwm", "c 5:1 rwm", "c 5:2 rwm", "c 136:* rwm"]


# Plain os.open/read/write, not open(): a control file is read many times a second by the sampler, and
# Python's buffered text layer costs more than the kernel's work (~15 us against ~45 us a file). A
# write must be ONE write(2): the kernel parses each write as one value (a device rule, a PID).
def read(path: str) -> str:
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        return os.read(fd, 65536).decode()
    finally:
        os.close(fd)


def write(path: str, value: str | int) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_TRUNC | os.O_CLOEXEC)   # as a shell's `echo V > F`
    try:
        os.write(fd, str(value).encode())
    finally:
        os.close(fd)


def read_int(path: str) -> int | None:
    try:
        s = read(path).strip()
    except OSError:
        return None
    if s == "max":
        return None
    try:
        return int(s)
    except ValueError:
        return None


def read_kv(path: str) -> dict[str, int]:
    out: dict[str, int] = {}
    try:
        for line in read(path).splitlines():
            parts = line.split()
            if len(parts) == 2 and parts[1].lstrip("-").isdigit():
                out[parts[0]] = int(parts[1])
    except OSError:
        pass
    return out


def shares_to_weight(shares: int) -> int:
    """runc's conversion: v1 shares 2..262144 → v2 weight 1..10000 (1024 → 39, not 100: as runc)."""
    return 1 + ((shares - 2) * 9999) // 262142


V1_UNLIMITED = 0x7FFFFFFFFFFFF000  # what memory.limit_in_bytes reads when no limit is set


class V1:
    """Limits and stats on v1, given the group's directory in each hierarchy."""

    @staticmethod
    def apply(dirs: dict[str, str], lim) -> None:
        if "memory" in dirs:
            m = dirs["memory"]
            if lim.memory is not None:
                write(f"{m}/memory.limit_in_bytes", lim.memory)
                # docker lets a container use as much swap again by default; the course wants the OOM
                # killer to act at the limit, so memory+swap equals memory unless asked otherwise
                swap = lim.memory_swap if lim.memory_swap is not None else lim.memory
                if os.path.exists(f"{m}/memory.memsw.limit_in_bytes"):
                    write(f"{m}/memory.memsw.limit_in_bytes", swap)
            if lim.memory_high is not None:
                write(f"{m}/memory.soft_limit_in_bytes", lim.memory_high)
        if "cpu" in dirs:
            c = dirs["cpu"]
            if lim.cpus is not None:
                write(f"{c}/cpu.cfs_period_us", PERIOD_US)
                write(f"{c}/cpu.cfs_quota_us", int(lim.cpus * PERIOD_US))
            if lim.cpu_shares is not None:
                write(f"{c}/cpu.shares", lim.cpu_shares)
        if "pids" in dirs and lim.pids is not None:
            write(f"{dirs['pids']}/pids.max", lim.pids)
        if "cpuset" in dirs and lim.cpuset is not None:
            write(f"{dirs['cpuset']}/cpuset.cpus", lim.cpuset)
        if "devices" in dirs:
            d = dirs["devices"]
            write(f"{d}/devices.deny", "a")
            for rule in DEVICE_RULES:
                write(f"{d}/devices.allow", rule)

    @staticmethod
    def stats(dirs: dict[str, str]) -> dict:
        s: dict = {}
        m = dirs.get("memory")
        if m:
            s["memory_current"] = read_int(f"{m}/memory.usage_in_bytes")
            s["memory_peak"] = read_int(f"{m}/memory.max_usage_in_bytes")
            lim = read_int(f"{m}/memory.limit_in_bytes")
            s["memory_limit"] = None if lim is None or lim >= V1_UNLIMITED else lim
            s["oom_kills"] = read_kv(f"{m}/memory.oom_control").get("oom_kill", 0)
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
        p = dirs.get("pids")
        if p:
            s["pids_current"] = read_int(f"{p}/pids.current")
            s["pids_max"] = read_int(f"{p}/pids.max")
        s["psi"] = None
        return s


class V2:
    """Limits and stats on v2, given the group's one directory."""

    @staticmethod
    def apply(d: str, lim) -> None:
        if lim.memory is not None:
            write(f"{d}/memory.max", lim.memory)
            swap = (lim.memory_swap - lim.memory) if lim.memory_swap is not None else 0
            if os.path.exists(f"{d}/memory.swap.max"):
                write(f"{d}/memory.swap.max", swap)
        if lim.memory_high is not None:
            write(f"{d}/memory.high", lim.memory_high)
        if lim.cpus is not None:
            write(f"{d}/cpu.max", f"{int(lim.cpus * PERIOD_US)} {PERIOD_US}")
        if lim.cpu_shares is not None:
            write(f"{d}/cpu.weight", shares_to_weight(lim.cpu_shares))
        if lim.pids is not None:
            write(f"{d}/pids.max", lim.pids)
        if lim.cpuset is not None:
            write(f"{d}/cpuset.cpus", lim.cpuset)

    @staticmethod
    def stats(d: str) -> dict:
        s: dict = {"memory_current": read_int(f"{d}/memory.current"),
                   "memory_peak": read_int(f"{d}/memory.peak"),
                   "memory_limit": read_int(f"{d}/memory.max"),
                   "oom_kills": read_kv(f"{d}/memory.events").get("oom_kill", 0)}
        st = read_kv(f"{d}/cpu.stat")
        s["cpu_usage_usec"] = st.get("usage_usec")
        s["nr_periods"] = st.get("nr_periods", 0)
        s["nr_throttled"] = st.get("nr_throttled", 0)
        s["throttled_usec"] = st.get("throttled_usec", 0)
        try:
            q, p = read(f"{d}/cpu.max").split()
            s["cpu_limit"] = None if q == "max" else int(q) / int(p)
        except (OSError, ValueError):
            s["cpu_limit"] = None
        s["pids_current"] = read_int(f"{d}/pids.current")
        s["pids_max"] = read_int(f"{d}/pids.max")
        psi = {}
        for res in ("memory", "cpu", "io"):
            try:
                line = read(f"{d}/{res}.pressure").splitlines()[0]   # "some avg10=0.00 avg60=..."
                psi[res] = float(line.split()[1].split("=")[1])
            except (OSError, IndexError, ValueError):
                pass
        s["psi"] = psi or None
        return s
