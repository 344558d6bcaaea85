"""The v1 devices controller: which device nodes the group may open, read, write or create (mknod).

A device node is only a name for a (type, major, minor) triple; whoever may create or open one reaches
the hardware behind it (``b 8:0`` is the host's first disk). The kernel checks every open and mknod
against the group's list. A rule is one line, ``TYPE MAJOR:MINOR ACCESS`` — type ``c`` (character),
``b`` (block) or ``a`` (all), ``*`` for any number, access a subset of ``r``, ``w``, ``m`` (mknod) —
written to ``devices.allow`` or ``devices.deny``; ``a`` alone means every device. The kernel parses one
rule per ``write(2)``, so a list is written rule by rule, in order: a later rule changes what an
earlier one said.

The list is :attr:`~boxkit.cgroups.resources.Resources.devices`, complete and in write order; this
module writes it as it is. Who fills it decides the policy:

* ``boxkit run``: deny everything (``a`` into ``devices.deny``), then allow :data:`RULES`, what runc
  allows by default — ``mknod`` of any node (``c *:* m``, ``b *:* m``: creating a node is harmless when
  opening it is refused) and full use of the safe ones: ``c 1:3`` null, ``1:5`` zero, ``1:7`` full,
  ``1:8`` random, ``1:9`` urandom, ``c 5:0`` tty, ``5:1`` console, ``5:2`` ptmx, ``c 136:*`` the pty
  slaves. ``--privileged`` allows ``a`` instead, as docker does.
* an OCI bundle: its ``linux.resources.devices`` rules, then :data:`RULES` and the nodes its
  ``linux.devices`` lists, as runc does (:mod:`boxkit.oci.resources`). A bundle without the field leaves
  the group's list as the kernel made it (its parent's).

v2 has no devices files: the same check is an eBPF program attached to the group
(``BPF_CGROUP_DEVICE``), which boxkit does not load; there the rootfs ``nodev`` mount flag and a minimal
``/dev`` do the job (:mod:`boxkit.runtime.rootfs`), and a bundle's rules are not written.
"""

from __future__ import annotations

from dataclasses import dataclass

from .files import write

V1_HIERARCHIES = ("devices",)
V2_CONTROLLER = None


@dataclass(frozen=True)
class DeviceRule:
    """One rule of ``linux.resources.devices``; ``major``/``minor`` None mean any (``*``)."""

    allow: bool
    type: str = "a"                 # "a", "c" or "b"
    major: int | None = None
    minor: int | None = None
    access: str = "rwm"

    def line(self) -> str:
        """The rule as the kernel reads it: ``c 1:3 rwm``, or ``a`` for every device."""
        major = "*" if self.major is None else self.major
        minor = "*" if self.minor is None else self.minor
        if self.type == "a" and major == "*" and minor == "*":
            return "a"
        return f"{self.type} {major}:{minor} {self.access}"


def _allowed(line: str) -> DeviceRule:
    kind, nums, access = line.split()
    major, minor = (None if n == "*" else int(n) for n in nums.split(":"))
    return DeviceRule(True, kind, major, minor, access)


RULES = tuple(_allowed(line) for line in (
    "c *:* m", "b *:* m", "c 1:3 rwm", "c 1:5 rwm", "c 1:7 rwm", "c 1:8 rwm", "c 1:9 rwm",
    "c 5:0 rwm", "c 5:1 rwm", "c 5:2 rwm", "c 136:* rwm"))
DENY_ALL = DeviceRule(False)
ALLOW_ALL = DeviceRule(True)

FILES = [
    ("device nodes allowed", "devices/devices.deny, devices.allow", "— (eBPF program, BPF_CGROUP_DEVICE)"),
]


def v1_apply(dirs: dict[str, str], res) -> None:
    d = dirs.get("devices")
    if not d or res.devices is None:
        return
    for rule in res.devices:
        write(f"{d}/devices.allow" if rule.allow else f"{d}/devices.deny", rule.line())


def v1_stats(dirs: dict[str, str], s: dict) -> None:
    pass


def v2_apply(d: str, res) -> None:
    pass


def v2_stats(d: str, s: dict) -> None:
    pass
