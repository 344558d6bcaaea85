"""A bundle's ``linux.resources``, checked as hostile input and turned into the typed value boxkit applies.

:func:`parse` reads the section of ``config.json`` into a :class:`boxkit.cgroups.resources.Resources`
— the same value ``boxkit run``'s flags become, which the controller modules of :mod:`boxkit.cgroups`
write on v1 and v2 — and :func:`check_host` holds it against this host. Both run in
:func:`boxkit.oci.bundle.to_plan`, before anything is made, so a bad value stops ``create`` with one
sentence that names the config file and the field (exit status 1, as every bundle error), and no group is
made with half its limits.

What is checked, field by field (the kernel's own ranges where it has them, so that the refusal comes
here, named, rather than as EINVAL from a write):

* ``memory.limit``, ``reservation``, ``swap``, ``kernel``, ``kernelTCP``: a number of bytes, or -1 for
  no limit; 0 means not set, as runc and youki read Go's zero value. ``swap`` counts memory plus swap,
  so it needs a limit and may not be below it (the kernel keeps memsw at least the limit).
* ``memory.swappiness``: 0 to 100 (-1, docker's "not set", is taken as not set);
  ``disableOOMKiller``, ``useHierarchy``, ``checkBeforeUpdate``: true or false (the last two have
  nothing to do: hierarchy is always on in current kernels, and there is no ``update`` verb).
* ``cpu.shares``: 2 to 262144; ``cpu.quota``: at least 1000 µs, the kernel's smallest, or -1 for none;
  ``cpu.period``: 1000 to 1000000 µs, the kernel's range (0 means not set for all three);
  ``burst``, ``realtimePeriod``, ``realtimeRuntime``: microseconds (a runtime of -1 is no limit);
  ``idle``: 0 or 1; ``cpus``, ``mems``: a kernel list such as ``0-3,6`` whose ranges run forwards.
* ``pids.limit``: at most 4194304 (the kernel's PID_MAX_LIMIT); -1 or 0 is no limit.
* ``blockIO``: weights 10 to 1000 (0: not set); devices as ``major``/``minor`` numbers; throttles a
  rate per second.
* ``hugepageLimits``: a ``pageSize`` such as ``2MB`` and a limit in bytes.
* ``network``: a 32-bit ``classID``; priorities per interface name (at most 15 characters).
* ``devices``: ``allow`` true or false, a ``type`` of a, c or b, device numbers or -1 for any, an
  ``access`` made of r, w and m.

The device list is completed here, in the order runc writes it: the bundle's rules, then the rules every
container gets (:data:`boxkit.cgroups.devices.RULES`), then one allowing each node ``linux.devices``
lists. ``unified`` and ``rdma`` are refused (boxkit writes neither); properties this runtime does not know
are ignored, as the spec allows.

:func:`check_host` refuses a limit this host cannot enforce: a section whose controller is not mounted
(v1) or not offered by the root's ``cgroup.controllers`` (v2), and a huge-page size the kernel lacks. On
v2, fields v2 has no file for — kernel memory, swappiness, the OOM switch, real-time CPU, leaf and
per-device weights, net_cls/net_prio, device rules — are not written, as runc does not write them.
"""

from __future__ import annotations

import re

from ..cgroups import hugetlb
from ..cgroups.cpu import CPU
from ..cgroups.devices import RULES, DeviceRule
from ..cgroups.host import CgroupHost, detect
from ..cgroups.hugetlb import HugepageLimit
from ..cgroups.io import BlockIO, Throttle, WeightDevice
from ..cgroups.memory import Memory
from ..cgroups.network import Network
from ..cgroups.resources import Resources
from ..errors import SpecError
from ..spec import parse_list

INT64_MAX = (1 << 63) - 1
UINT32_MAX = (1 << 32) - 1
UINT64_MAX = (1 << 64) - 1
PID_MAX_LIMIT = 4 << 20            # include/linux/threads.h on 64-bit: pids.max refuses more
REFUSED = {"unified": "cgroup v2 files by name are not supported",
           "rdma": "the rdma controller is not supported"}
_PAGE_SIZE = re.compile(r"[1-9]\d*(KB|MB|GB)")
_IFNAME = re.compile(r"[^/\s\0]{1,15}")    # IFNAMSIZ - 1 bytes, no slash or space


class _Reader:
    """Reads one bundle's ``linux.resources``; every refusal names the config file and the field."""

    def __init__(self, config: str):
        self.config = config

    def refuse(self, field: str, value: object, why: str) -> SpecError:
        return SpecError(f"{self.config} field linux.resources.{field}", value, why)

    def section(self, obj: dict, key: str, kind: type, field: str):
        v = obj.get(key)
        if v is None:
            return None
        if not isinstance(v, kind):
            raise self.refuse(field, v, "expected an object" if kind is dict else "expected a list")
        return v

    def rows(self, obj: dict, key: str, field: str, what: str):
        """(field, object) for each entry of the list ``obj[key]``, each checked to be an object and to
        hold every name in ``what``."""
        for i, row in enumerate(self.section(obj, key, list, field) or []):
            if not isinstance(row, dict) or any(name not in row for name in what.split(" and ")):
                raise self.refuse(f"{field}[{i}]", row, f"expected an object with {what}")
            yield f"{field}[{i}]", row

    def number(self, obj: dict, key: str, field: str, lo: int, hi: int, why: str, *,
               unset: tuple = (), keep: tuple = ()) -> int | None:
        """An integer ``lo <= v <= hi``, or one of ``keep`` (kept as it is); ``unset`` values and
        absence give None. Floats, strings and booleans are refused."""
        v = obj.get(key)
        if v is None:
            return None
        if not isinstance(v, int) or isinstance(v, bool):
            raise self.refuse(field, v, f"expected a whole number: {why}")
        if v in unset:
            return None
        if v in keep or lo <= v <= hi:
            return v
        raise self.refuse(field, v, why)

    def size(self, obj: dict, key: str, field: str) -> int | None:
        return self.number(obj, key, field, 1, INT64_MAX,
                           "expected a number of bytes up to 2^63-1, or -1 for no limit", unset=(0,), keep=(-1,))

    def flag(self, obj: dict, key: str, field: str) -> bool:
        v = obj.get(key)
        if v is not None and not isinstance(v, bool):
            raise self.refuse(field, v, "expected true or false")
        return bool(v)

    def cpu_list(self, obj: dict, key: str, field: str) -> str | None:
        v = obj.get(key)
        if v is None or v == "":
            return None
        if not isinstance(v, str):
            raise self.refuse(field, v, "expected a list like 0-3,6 as a string")
        try:
            return parse_list(v, "cpu list")[0]
        except SpecError:
            raise self.refuse(field, v, "expected a list like 0, 0-3 or 0,2-3 whose ranges run forwards") from None

    def device(self, obj: dict, field: str) -> tuple[int, int]:
        major, minor = (self.number(obj, k, f"{field}.{k}", 0, UINT32_MAX, "expected a device number")
                        for k in ("major", "minor"))
        return major, minor

    # --- the sections ------------------------------------------------------------------------------

    def memory(self, raw: dict) -> Memory | None:
        m = self.section(raw, "memory", dict, "memory")
        if m is None:
            return None
        f = "memory."
        limit, swap = self.size(m, "limit", f + "limit"), self.size(m, "swap", f + "swap")
        if swap not in (None, -1):
            if limit in (None, -1):
                raise self.refuse(f + "swap", swap, "a memory+swap limit needs a memory limit; give memory.limit "
                                  "too, or -1 for no swap limit")
            if swap < limit:
                raise self.refuse(f + "swap", swap, f"below memory.limit ({limit}): swap counts memory plus swap, "
                                  "so it must be at least the limit")
        for key in ("useHierarchy", "checkBeforeUpdate"):
            self.flag(m, key, f + key)
        return Memory(limit=limit, swap=swap, reservation=self.size(m, "reservation", f + "reservation"),
                      kernel=self.size(m, "kernel", f + "kernel"), kernel_tcp=self.size(m, "kernelTCP", f + "kernelTCP"),
                      swappiness=self.number(m, "swappiness", f + "swappiness", 0, 100, "expected 0 to 100",
                                             unset=(-1,)),
                      disable_oom_killer=self.flag(m, "disableOOMKiller", f + "disableOOMKiller"))

    def cpu(self, raw: dict) -> CPU | None:
        c = self.section(raw, "cpu", dict, "cpu")
        if c is None:
            return None
        us = "expected microseconds"
        return CPU(
            shares=self.number(c, "shares", "cpu.shares", 2, 262144, "expected 2 to 262144", unset=(0,)),
            quota=self.number(c, "quota", "cpu.quota", 1000, INT64_MAX,
                              "expected at least 1000 microseconds (the kernel's smallest quota), or -1 for none",
                              unset=(0,), keep=(-1,)),
            period=self.number(c, "period", "cpu.period", 1000, 1_000_000,
                               "expected 1000 to 1000000 microseconds, the kernel's range", unset=(0,)),
            burst=self.number(c, "burst", "cpu.burst", 0, INT64_MAX, us),
            realtime_runtime=self.number(c, "realtimeRuntime", "cpu.realtimeRuntime", 1, INT64_MAX,
                                         us + ", or -1 for no limit", unset=(0,), keep=(-1,)),
            realtime_period=self.number(c, "realtimePeriod", "cpu.realtimePeriod", 1, INT64_MAX, us, unset=(0,)),
            cpus=self.cpu_list(c, "cpus", "cpu.cpus"), mems=self.cpu_list(c, "mems", "cpu.mems"),
            idle=self.number(c, "idle", "cpu.idle", 0, 1, "expected 0 or 1"))

    def pids(self, raw: dict) -> int | None:
        p = self.section(raw, "pids", dict, "pids")
        if p is None:
            return None
        if "limit" not in p:
            raise self.refuse("pids", p, "expected a limit")
        return self.number(p, "limit", "pids.limit", -1, PID_MAX_LIMIT,
                           f"expected up to {PID_MAX_LIMIT} processes, or -1 for no limit")

    def block_io(self, raw: dict) -> BlockIO | None:
        b = self.section(raw, "blockIO", dict, "blockIO")
        if b is None:
            return None
        why = "expected a weight from 10 to 1000"

        def weight(obj: dict, key: str, field: str) -> int | None:
            return self.number(obj, key, field, 10, 1000, why, unset=(0,))

        devices = tuple(WeightDevice(*self.device(wd, field), weight(wd, "weight", field + ".weight"),
                                     weight(wd, "leafWeight", field + ".leafWeight"))
                        for field, wd in self.rows(b, "weightDevice", "blockIO.weightDevice", "major and minor"))
        throttles = {key: tuple(Throttle(*self.device(td, field), self.number(td, "rate", field + ".rate", 0,
                                                                              UINT64_MAX, "expected a rate per second"))
                                for field, td in self.rows(b, key, f"blockIO.{key}", "major and minor and rate"))
                     for key in ("throttleReadBpsDevice", "throttleWriteBpsDevice", "throttleReadIOPSDevice",
                                 "throttleWriteIOPSDevice")}
        return BlockIO(weight=weight(b, "weight", "blockIO.weight"),
                       leaf_weight=weight(b, "leafWeight", "blockIO.leafWeight"), weight_device=devices,
                       throttle_read_bps=throttles["throttleReadBpsDevice"],
                       throttle_write_bps=throttles["throttleWriteBpsDevice"],
                       throttle_read_iops=throttles["throttleReadIOPSDevice"],
                       throttle_write_iops=throttles["throttleWriteIOPSDevice"])

    def hugepages(self, raw: dict) -> tuple[HugepageLimit, ...]:
        out = []
        for field, hp in self.rows(raw, "hugepageLimits", "hugepageLimits", "pageSize and limit"):
            size = hp["pageSize"]
            if not isinstance(size, str) or not _PAGE_SIZE.fullmatch(size):
                raise self.refuse(field + ".pageSize", size, "expected a page size such as 2MB or 1GB")
            out.append(HugepageLimit(size, self.number(hp, "limit", field + ".limit", 0, UINT64_MAX,
                                                       "expected a number of bytes")))
        return tuple(out)

    def network(self, raw: dict) -> Network | None:
        n = self.section(raw, "network", dict, "network")
        if n is None:
            return None
        prios = []
        for field, p in self.rows(n, "priorities", "network.priorities", "name and priority"):
            name = p["name"]
            if not isinstance(name, str) or not _IFNAME.fullmatch(name):
                raise self.refuse(field + ".name", name, "expected an interface name of at most 15 characters")
            prios.append((name, self.number(p, "priority", field + ".priority", 0, UINT32_MAX,
                                            "expected a priority from 0 to 4294967295")))
        return Network(class_id=self.number(n, "classID", "network.classID", 0, UINT32_MAX,
                                            "expected a class id from 0 to 4294967295"), priorities=tuple(prios))

    def devices(self, raw: dict, nodes: list[dict]) -> tuple[DeviceRule, ...] | None:
        if self.section(raw, "devices", list, "devices") is None:
            return None
        rules = []
        for field, d in self.rows(raw, "devices", "devices", "allow"):
            if not isinstance(d["allow"], bool):
                raise self.refuse(field + ".allow", d.get("allow"), "expected true or false")
            kind = d.get("type") or "a"
            if kind not in ("a", "c", "b"):
                raise self.refuse(field + ".type", kind, "expected a (all), c (character) or b (block)")
            major, minor = (self.number(d, k, f"{field}.{k}", 0, UINT32_MAX, "expected a device number, or -1 for "
                                        "any", unset=(-1,)) for k in ("major", "minor"))
            access = d.get("access") or "rwm"
            if not isinstance(access, str) or not set(access) <= set("rwm") or len(set(access)) != len(access):
                raise self.refuse(field + ".access", access, "expected r, w and m, each at most once")
            rules.append(DeviceRule(d["allow"], kind, major, minor, access))
        # as runc: the rules every container gets, and the nodes the bundle makes, after the bundle's
        made = [DeviceRule(True, n["type"], n["major"], n["minor"]) for n in nodes if n["type"] in ("c", "b")]
        return (*rules, *RULES, *made)


def parse(raw: object, config: str, nodes: list[dict] | None = None) -> Resources:
    """``linux.resources`` (``raw``, None when absent) of the bundle whose config file is ``config``;
    ``nodes`` are its checked ``linux.devices``. Raises :class:`SpecError` naming the first bad field."""
    if raw is None:
        raw = {}
    r = _Reader(config)
    if not isinstance(raw, dict):
        raise SpecError(f"{config} field linux.resources", raw, "expected an object")
    for key, why in REFUSED.items():
        if raw.get(key):
            raise r.refuse(key, "...", f"{why}; remove it")
    return Resources(memory=r.memory(raw), cpu=r.cpu(raw), pids=r.pids(raw), block_io=r.block_io(raw),
                     hugepage_limits=r.hugepages(raw), network=r.network(raw),
                     devices=r.devices(raw, nodes or []))


def _needs(res: Resources) -> list[tuple[str, str | None, str | None]]:
    """(field, v1 hierarchy, v2 controller) for each section ``res`` sets that this host must offer;
    None where that version writes nothing for it (see the module's docstring)."""
    out: list[tuple[str, str | None, str | None]] = []
    if res.memory is not None:
        out.append(("memory", "memory", "memory"))
    c = res.cpu
    if c is not None:
        if any(v is not None for v in (c.shares, c.quota, c.period, c.burst, c.idle)):
            out.append(("cpu", "cpu", "cpu"))
        if c.realtime_period is not None or c.realtime_runtime is not None:
            out.append(("cpu.realtime", "cpu", None))
        if c.cpus is not None or c.mems is not None:
            out.append(("cpu.cpus", "cpuset", "cpuset"))
    if res.pids is not None:
        out.append(("pids", "pids", "pids"))
    if res.block_io is not None:
        out.append(("blockIO", "blkio", "io"))
    if res.hugepage_limits:
        out.append(("hugepageLimits", "hugetlb", "hugetlb"))
    if res.network is not None and res.network.class_id is not None:
        out.append(("network.classID", "net_cls", None))
    if res.network is not None and res.network.priorities:
        out.append(("network.priorities", "net_prio", None))
    return out


def check_host(res: Resources, config: str, host: CgroupHost | None = None,
               page_sizes: list[str] | None = None) -> None:
    """Refuse a limit this host cannot enforce (see the module's docstring), before anything is made.
    A host without cgroups is reported where the group would be made."""
    host = host or detect()
    if host.mode == "none":
        return
    r = _Reader(config)
    for field, v1, v2 in _needs(res):
        if host.version == 1 and v1 and v1 not in host.v1:
            raise r.refuse(field, "...", f"this host mounts no {v1} cgroup hierarchy, so the limit cannot be "
                           "enforced; remove it or see boxkit probe")
        if host.version == 2 and v2 and v2 not in host.v2_controllers:
            raise r.refuse(field, "...", f"this host's cgroup v2 tree offers no {v2} controller, so the limit "
                           "cannot be enforced; remove it or see boxkit probe")
    if res.hugepage_limits:
        have = hugetlb.sizes() if page_sizes is None else page_sizes
        for i, hp in enumerate(res.hugepage_limits):
            if hp.page_size not in have:
                raise r.refuse(f"hugepageLimits[{i}].pageSize", hp.page_size,
                               f"this kernel has huge pages of {', '.join(have)} only" if have
                               else "this kernel has no huge pages")
