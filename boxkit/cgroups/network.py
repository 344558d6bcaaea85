"""The v1 net_cls and net_prio controllers: marks on the group's network packets (v1 only).

Neither limits anything by itself. ``net_cls.classid`` stamps every packet a socket of the group sends
with a class id (``0xAAAABBBB``: a traffic-control class ``AAAA:BBBB``), which a ``tc`` filter
(``cgroup`` classifier) or an iptables ``-m cgroup --cgroup`` rule on the host can then match: the
group's traffic is shaped or filtered by the host's own rules. ``net_prio.ifpriomap`` sets the priority
(``SO_PRIORITY``) of the group's packets per interface, one ``IFNAME PRIORITY`` line a write, which the
interface's queueing discipline uses to order them.

Both come from the OCI resources' ``network`` section (:class:`Network`); ``boxkit run`` sets neither.
v2 has no such controllers: there a host matches a container's traffic by its cgroup *path*
(``iptables -m cgroup --path``, or an eBPF program on the group), so :func:`v2_apply` writes nothing and
a bundle asking for them on v2 is refused (:mod:`boxkit.oci.resources`).
"""

from __future__ import annotations

from dataclasses import dataclass

from .files import write

V1_HIERARCHIES = ("net_cls", "net_prio")
V2_CONTROLLER = None

FILES = [
    ("packet class id (v1 only)", "net_cls/net_cls.classid", "— (match the group's path instead)"),
    ("packet priority per interface (v1 only)", "net_prio/net_prio.ifpriomap", "— (v2 has none)"),
]


@dataclass(frozen=True)
class Network:
    """``linux.resources.network``."""

    class_id: int | None = None
    priorities: tuple[tuple[str, int], ...] = ()   # (interface name, priority)


def wanted(res) -> bool:
    return res.network is not None and (res.network.class_id is not None or bool(res.network.priorities))


def v1_apply(dirs: dict[str, str], res) -> None:
    net = res.network
    if net is None:
        return
    if net.class_id is not None and "net_cls" in dirs:
        write(f"{dirs['net_cls']}/net_cls.classid", net.class_id)
    if "net_prio" in dirs:
        for name, priority in net.priorities:
            write(f"{dirs['net_prio']}/net_prio.ifpriomap", f"{name} {priority}")


def v1_stats(dirs: dict[str, str], s: dict) -> None:
    pass


def v2_apply(d: str, res) -> None:
    pass


def v2_stats(d: str, s: dict) -> None:
    pass
