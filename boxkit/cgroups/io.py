"""The io controller (v1: blkio): bytes the group read from and wrote to block devices, and limits on them.

Counted per device (``MAJOR:MINOR``) at the block layer, so only I/O that reaches a disk shows: reads
served from the page cache and writes still dirty in memory do not (yet). boxkit reads the totals, summed
over devices. v1 ``blkio.throttle.io_service_bytes_recursive`` has lines ``8:0 Read 4096`` / ``8:0 Write
0``; v2 ``io.stat`` has ``8:0 rbytes=4096 wbytes=0 rios=1 wios=0 dbytes=0 dios=0``. Pressure:
``io.pressure``. On v1 the blkio hierarchy is used only when the host mounts it.

**Limits** (:class:`BlockIO`, the OCI resources' ``blockIO``; ``boxkit run`` sets none, docker's
``--device-read-bps`` and friends are not part of the course):

* a *weight* (10-1000) shares a contended disk between groups, as CPU weights share a CPU: v1
  ``blkio.weight`` (the CFQ scheduler's), or ``blkio.bfq.weight`` where only the BFQ scheduler offers one
  (then per device too: ``MAJOR:MINOR WEIGHT`` into the same file); leaf weights (v1 only) weigh the
  group's own tasks against its children. v2: ``io.weight``, written as given.
* a *throttle* caps one device's bytes or operations per second, one ``MAJOR:MINOR RATE`` line a write:
  v1 ``blkio.throttle.{read,write}_{bps,iops}_device``, v2 ``io.max`` (``MAJOR:MINOR rbps=RATE``, with
  ``wbps``, ``riops``, ``wiops``).
"""

from __future__ import annotations

from dataclasses import dataclass

from .files import exists, read, read_pressure, write

V1_HIERARCHIES = ("blkio",)
V2_CONTROLLER = "io"


@dataclass(frozen=True)
class WeightDevice:
    major: int
    minor: int
    weight: int | None = None
    leaf_weight: int | None = None


@dataclass(frozen=True)
class Throttle:
    major: int
    minor: int
    rate: int   # bytes or operations per second


@dataclass(frozen=True)
class BlockIO:
    """``linux.resources.blockIO``; None or empty where not set."""

    weight: int | None = None
    leaf_weight: int | None = None
    weight_device: tuple[WeightDevice, ...] = ()
    throttle_read_bps: tuple[Throttle, ...] = ()
    throttle_write_bps: tuple[Throttle, ...] = ()
    throttle_read_iops: tuple[Throttle, ...] = ()
    throttle_write_iops: tuple[Throttle, ...] = ()

    def throttles(self) -> list[tuple[str, str, tuple[Throttle, ...]]]:
        """(v1 file suffix, v2 io.max key, rows) for the four throttles."""
        return [("read_bps_device", "rbps", self.throttle_read_bps),
                ("write_bps_device", "wbps", self.throttle_write_bps),
                ("read_iops_device", "riops", self.throttle_read_iops),
                ("write_iops_device", "wiops", self.throttle_write_iops)]


FILES = [
    ("bytes read / written", "blkio/blkio.throttle.io_service_bytes_recursive", "io.stat: rbytes, wbytes"),
]


def parse_v1(text: str) -> tuple[int, int]:
    r = w = 0
    for line in text.splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[2].isdigit():
            if parts[1] == "Read":
                r += int(parts[2])
            elif parts[1] == "Write":
                w += int(parts[2])
    return r, w


def parse_v2(text: str) -> tuple[int, int]:
    r = w = 0
    for line in text.splitlines():
        for kv in line.split()[1:]:
            k, _, v = kv.partition("=")
            if k == "rbytes" and v.isdigit():
                r += int(v)
            elif k == "wbytes" and v.isdigit():
                w += int(v)
    return r, w


def v1_apply(dirs: dict[str, str], res) -> None:
    b, blk = dirs.get("blkio"), res.block_io
    if not b or blk is None:
        return
    # CFQ's weight files, or BFQ's where the kernel offers only that scheduler's
    weight = "blkio.weight" if exists(f"{b}/blkio.weight") else "blkio.bfq.weight"
    per_device = "blkio.weight_device" if weight == "blkio.weight" else weight
    if blk.weight is not None:
        write(f"{b}/{weight}", blk.weight)
    if blk.leaf_weight is not None:
        write(f"{b}/blkio.leaf_weight", blk.leaf_weight)
    for wd in blk.weight_device:
        if wd.weight is not None:
            write(f"{b}/{per_device}", f"{wd.major}:{wd.minor} {wd.weight}")
        if wd.leaf_weight is not None:
            write(f"{b}/blkio.leaf_weight_device", f"{wd.major}:{wd.minor} {wd.leaf_weight}")
    for name, _key, rows in blk.throttles():
        for t in rows:
            write(f"{b}/blkio.throttle.{name}", f"{t.major}:{t.minor} {t.rate}")


def v1_stats(dirs: dict[str, str], s: dict) -> None:
    b = dirs.get("blkio")
    if b:
        try:
            s["io_read_bytes"], s["io_write_bytes"] = parse_v1(read(f"{b}/blkio.throttle.io_service_bytes_recursive"))
        except OSError:
            pass


def v2_apply(d: str, res) -> None:
    blk = res.block_io
    if blk is None:
        return
    if blk.weight is not None:
        write(f"{d}/io.weight", blk.weight)
    for _name, key, rows in blk.throttles():
        for t in rows:
            write(f"{d}/io.max", f"{t.major}:{t.minor} {key}={t.rate}")


def v2_stats(d: str, s: dict) -> None:
    try:
        s["io_read_bytes"], s["io_write_bytes"] = parse_v2(read(f"{d}/io.stat"))
    except OSError:
        pass
    p = read_pressure(f"{d}/io.pressure")
    if p is not None:
        s.setdefault("psi", {})["io"] = p
