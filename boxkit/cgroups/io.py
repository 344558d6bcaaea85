"""The io controller (v1: blkio): bytes the group read from and wrote to block devices.

Counted per device (``MAJOR:MINOR``) at the block layer, so only I/O that reaches a disk shows: reads
served from the page cache and writes still dirty in memory do not (yet). boxkit reads the totals, summed
over devices; it sets no I/O limits (docker's ``--device-read-bps`` and friends are not part of the
course).

v1 ``blkio.throttle.io_service_bytes_recursive`` has lines ``8:0 Read 4096`` / ``8:0 Write 0``; v2
``io.stat`` has ``8:0 rbytes=4096 wbytes=0 rios=1 wios=0 dbytes=0 dios=0``. Pressure: ``io.pressure``.
On v1 the blkio hierarchy is used only when the host mounts it.
"""

from __future__ import annotations

from .files import read, read_pressure

V1_HIERARCHIES = ("blkio",)
V2_CONTROLLER = "io"

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


def v1_apply(dirs: dict[str, str], lim) -> None:
    pass


def v1_stats(dirs: dict[str, str], s: dict) -> None:
    b = dirs.get("blkio")
    if b:
        try:
            s["io_read_bytes"], s["io_write_bytes"] = parse_v1(read(f"{b}/blkio.throttle.io_service_bytes_recursive"))
        except OSError:
            pass


def v2_apply(d: str, lim) -> None:
    pass


def v2_stats(d: str, s: dict) -> None:
    try:
        s["io_read_bytes"], s["io_write_bytes"] = parse_v2(read(f"{d}/io.stat"))
    except OSError:
        pass
    p = read_pressure(f"{d}/io.pressure")
    if p is not None:
        s.setdefault("psi", {})["io"] = p
