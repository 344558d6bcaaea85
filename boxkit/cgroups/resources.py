"""What a container's group is limited to: the OCI resources, one typed value for every front.

boxkit starts containers from three fronts — the Python API and ``boxkit run`` (which fill a
:class:`boxkit.spec.Limits` from flags like ``--memory 500M``), and ``boxkit-runtime`` (which reads an
OCI bundle's ``linux.resources``). All three reach the kernel through the same controller modules:
:class:`Resources` is what those modules accept, and :func:`of` turns a ``Limits`` into one.

**Why the OCI shape, not a larger Limits.** The OCI runtime spec's ``linux.resources`` is the complete
vocabulary of cgroup limits that container engines agree on: docker's and podman's flags are translated
into it, and runc, crun and youki apply it (youki's controllers take it as it is:
``Controller::apply(&ControllerOpt)`` reads ``LinuxResources``). ``Limits`` is something else: the
handful of flags ``boxkit run`` offers, parsed from what people type, with the course's defaults. Growing
``Limits`` to every OCI field would mix the two — a user-facing type with thirty fields no flag sets, and
one field meaning two things (docker's ``--memory-swap`` defaults to no swap here; an OCI bundle without
``swap`` leaves the kernel's default). So the flags are *translated* into the OCI shape, in one place
(:func:`from_limits`), exactly as docker translates its flags into a bundle, and every policy of
``boxkit run`` is written there as an OCI value: memory+swap equal to the memory limit (the OOM killer
acts at the limit), ``--cpus 0.5`` as quota 50000 per period 100000, the device rules (deny all, then
the safe nodes). The controllers then hold no front's policy: each writes the fields it owns, on v1 and
on v2, the same way for a flag, a bundle and the spare's pre-group.

Each section's type lives with the controller module that applies it — :class:`.memory.Memory`,
:class:`.cpu.CPU` (whose ``cpus``/``mems`` :mod:`.cpuset` writes), :class:`.io.BlockIO`,
:class:`.hugetlb.HugepageLimit`, :class:`.network.Network`, :class:`.devices.DeviceRule` — and
:class:`Resources` puts them together, as ``linux.resources`` does. Values are as the kernel takes them
(bytes, microseconds), None where a field is not set; OCI's "0 means not set" and range checks are the
bundle parser's business (:mod:`boxkit.oci.resources`), ``Limits.parse``'s for the flags. The value is
frozen: one is built per container and only read afterwards.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING

from .cpu import CPU, PERIOD_US
from .devices import ALLOW_ALL, DENY_ALL, RULES, DeviceRule
from .hugetlb import HugepageLimit
from .io import BlockIO, Throttle, WeightDevice
from .memory import Memory
from .network import Network

if TYPE_CHECKING:   # boxkit.spec compiles its patterns at import (~6 ms): readers of cgroup files skip it
    from ..spec import Limits

__all__ = ["Resources", "from_limits", "of"]


@dataclass(frozen=True)
class Resources:
    """``linux.resources``, typed (see the module's docstring)."""

    memory: Memory | None = None
    cpu: CPU | None = None
    pids: int | None = None                        # pids.limit: > 0 a limit, -1 or 0 none
    block_io: BlockIO | None = None
    hugepage_limits: tuple[HugepageLimit, ...] = ()
    network: Network | None = None
    # every rule in write order; None leaves the group's device list as the kernel made it
    devices: tuple[DeviceRule, ...] | None = None

    def any(self) -> bool:
        """Does it ask for anything at all?"""
        return any(v not in (None, ()) for v in vars(self).values())

    def to_wire(self) -> dict:
        """The JSON form (a plan crosses processes as JSON: :meth:`boxkit.runtime.plan.Plan.to_wire`)."""
        return asdict(self)

    @classmethod
    def from_wire(cls, d: dict) -> Resources:
        """The value :meth:`to_wire` gave, rebuilt section by section (JSON made the tuples lists)."""
        def make(kind, row):
            return None if row is None else kind(**row)

        blk = d.get("block_io")
        if blk is not None:
            rows = {k: tuple(Throttle(**t) for t in v) for k, v in blk.items() if k.startswith("throttle_")}
            blk = BlockIO(weight=blk["weight"], leaf_weight=blk["leaf_weight"],
                          weight_device=tuple(WeightDevice(**w) for w in blk["weight_device"]), **rows)
        net = d.get("network")
        if net is not None:
            net = Network(net["class_id"], tuple((name, prio) for name, prio in net["priorities"]))
        devices = d.get("devices")
        return cls(memory=make(Memory, d.get("memory")), cpu=make(CPU, d.get("cpu")), pids=d.get("pids"),
                   block_io=blk, hugepage_limits=tuple(HugepageLimit(**h) for h in d.get("hugepage_limits", ())),
                   network=net, devices=None if devices is None else tuple(DeviceRule(**r) for r in devices))


def from_limits(lim: Limits) -> Resources:
    """``boxkit run``'s limits as OCI resources, with its policies spelled out (see the module's
    docstring): what docker does with its flags when it writes a bundle."""
    memory = None
    if lim.memory is not None or lim.memory_high is not None:
        swap = None
        if lim.memory is not None:
            # no swap beyond the limit unless asked: the course wants the OOM killer to act at the limit
            swap = lim.memory_swap if lim.memory_swap is not None else lim.memory
        memory = Memory(limit=lim.memory, swap=swap, high=lim.memory_high)
    cpu = None
    if lim.cpus is not None or lim.cpu_shares is not None or lim.cpuset is not None:
        quota = int(lim.cpus * PERIOD_US) if lim.cpus is not None else None
        cpu = CPU(shares=lim.cpu_shares, quota=quota, period=PERIOD_US if quota is not None else None,
                  cpus=lim.cpuset)
    devices = (ALLOW_ALL,) if lim.all_devices else (DENY_ALL, *RULES)
    return Resources(memory=memory, cpu=cpu, pids=lim.pids, devices=devices)


def of(limits: Resources | Limits) -> Resources:
    """A :class:`Resources` as it is, or a :class:`~boxkit.spec.Limits` translated."""
    return limits if isinstance(limits, Resources) else from_limits(limits)
