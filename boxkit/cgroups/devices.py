"""The v1 devices controller: which device nodes the group may open, read, write or create (mknod).

A device node is only a name for a (type, major, minor) triple; whoever may create or open one reaches
the hardware behind it (``b 8:0`` is the host's first disk). The kernel checks every open and mknod
against the group's list: boxkit first denies everything (``a`` into ``devices.deny``), then allows
what runc allows by default — ``mknod`` of any node (``c *:* m``, ``b *:* m``: creating a node is
harmless when opening it is refused) and full use of the safe ones:

``c 1:3`` null, ``1:5`` zero, ``1:7`` full, ``1:8`` random, ``1:9`` urandom, ``c 5:0`` tty, ``5:1``
console, ``5:2`` ptmx, ``c 136:*`` the pty slaves.

The kernel parses one rule per ``write(2)``. v2 has no devices files: the same check is an eBPF
program attached to the group (``BPF_CGROUP_DEVICE``), which boxkit does not load; there the rootfs
``nodev`` mount flag and a minimal ``/dev`` do the job (:mod:`boxkit.runtime.rootfs`).
"""

from __future__ import annotations

from .files import write

V1_HIERARCHIES = ("devices",)
V2_CONTROLLER = None

RULES = ["c *:* m", "b *:* m", "c 1:3 rwm", "c 1:5 rwm", "c 1:7 rwm", "c 1:8 rwm", "c 1:9 rwm",
         "c 5:0 rwm", "c 5:1 rwm", "c 5:2 rwm", "c 136:* rwm"]

FILES = [
    ("device nodes allowed", "devices/devices.deny, devices.allow", "— (eBPF program, BPF_CGROUP_DEVICE)"),
]


def v1_apply(dirs: dict[str, str], lim) -> None:
    d = dirs.get("devices")
    if not d:
        return
    if getattr(lim, "all_devices", None):
        write(f"{d}/devices.allow", "a")   # --privileged, as docker's: every device node
        return
    write(f"{d}/devices.deny", "a")
    for rule in RULES:
        write(f"{d}/devices.allow", rule)


def v1_stats(dirs: dict[str, str], s: dict) -> None:
    pass


def v2_apply(d: str, lim) -> None:
    pass


def v2_stats(d: str, s: dict) -> None:
    pass
