"""What is connected to what, read from the kernel: namespaces, interfaces, addresses, cables.

Nothing here comes from boxkit's own records except *which processes to look at*. For the host and
for each process's network namespace, one ``RTM_GETLINK`` dump lists the interfaces (name, kind,
state, the bridge it is enslaved to) and one ``RTM_GETADDR`` dump their addresses. A veth knows its
peer: ``IFLA_LINK`` holds the peer's interface index and ``IFLA_LINK_NETNSID`` the peer's namespace
(as an id local to the namespace asking), which is how ``ip link`` prints ``eth0@if11``. Matching
those indexes across namespaces recovers the cables, so the picture shows what the kernel holds, even
a pair a learner made by hand.

:func:`snapshot` returns plain data (dicts and lists), which :mod:`boxkit.viz.topology` draws and a
test can assert on.
"""

from __future__ import annotations

import contextlib
import os
import socket
from dataclasses import asdict, dataclass, field

from ..errors import BoxkitError


@dataclass
class Iface:
    index: int
    name: str
    kind: str | None
    up: bool
    addresses: list[str] = field(default_factory=list)
    master: int | None = None          # index of the bridge this is a port of
    peer: int | None = None            # veth: index of the other end (in ``peer_netnsid`` if set)
    peer_netnsid: int | None = None


@dataclass
class Namespace:
    label: str
    pid: int | None                    # None: the host
    inode: int
    ifaces: list[Iface] = field(default_factory=list)


def _read(ipr, label: str, pid: int | None, inode: int) -> Namespace:
    ns = Namespace(label, pid, inode)
    by_index: dict[int, Iface] = {}
    for link in ipr.link("dump"):
        info = link.get_attr("IFLA_LINKINFO")
        kind = info.get_attr("IFLA_INFO_KIND") if info else None
        iface = Iface(index=link["index"], name=link.get_attr("IFLA_IFNAME") or "?", kind=kind,
                      up=bool(link["flags"] & 1), master=link.get_attr("IFLA_MASTER"),
                      peer=link.get_attr("IFLA_LINK"), peer_netnsid=link.get_attr("IFLA_LINK_NETNSID"))
        by_index[iface.index] = iface
        ns.ifaces.append(iface)
    for a in ipr.addr("dump", family=socket.AF_INET):
        iface = by_index.get(a["index"])
        if iface is not None:
            iface.addresses.append(f"{a.get_attr('IFA_ADDRESS')}/{a['prefixlen']}")
    return ns


def _netns_inode(pid: int | None) -> int:
    return os.stat(f"/proc/{pid}/ns/net" if pid else "/proc/self/ns/net").st_ino


def snapshot(pids: dict[str, int] | None = None, containers: bool = True) -> dict:
    """Read the host's namespace and those of ``pids`` (label -> pid) and of boxkit's containers.

    Returns ``{"namespaces": [Namespace as dict, ...], "cables": [(ns_a, ifindex_a, ns_b, ifindex_b)],
    "host": label}``; only boxkit's bridges and the interfaces plugged into them, plus loopback and
    every interface of the listed namespaces, are kept, so the picture stays readable on a busy host.
    """
    # lazy: links loads pyroute2 (~130-230 ms); only a snapshot needs it
    from . import ipam, links

    wanted: dict[str, int] = {}
    if containers:
        for net in ipam.all_networks():
            for cid, lease in net.leases.items():
                if ipam.process_alive(lease.pid, lease.starttime):
                    wanted[lease.name or cid[:12]] = lease.pid
    wanted.update(pids or {})
    host_inode = _netns_inode(None)
    with links.host() as ipr:
        host = _read(ipr, "host", None, host_inode)
    spaces = [host]
    seen = {host_inode}
    for label, pid in wanted.items():
        try:
            inode = _netns_inode(pid)
        except OSError:
            continue
        if inode in seen:       # container:NAME shares a namespace: draw it once
            continue
        seen.add(inode)
        with contextlib.suppress(BoxkitError, OSError), links.inside(pid) as ipr:
            spaces.append(_read(ipr, label, pid, inode))
    # cables: a veth end outside the host names its peer's index in the *host* when its netnsid is set
    # (the peer lives in another namespace); match container ends to host ends both ways
    cables = []
    host_by_index = {i.index: i for i in host.ifaces}
    for ns in spaces[1:]:
        for i in ns.ifaces:
            if i.kind == "veth" and i.peer in host_by_index:
                h = host_by_index[i.peer]
                if h.kind == "veth" and (h.peer == i.index):
                    cables.append((host.label, h.index, ns.label, i.index))
    # keep on the host: bk bridges, their ports, and veths cabled to a drawn namespace
    cabled = {c[1] for c in cables}
    bridges = {i.index for i in host.ifaces if i.kind == "bridge" and i.name.startswith("bk")}
    host.ifaces = [i for i in host.ifaces
                   if i.index in bridges or i.master in bridges or i.index in cabled or i.name == "lo"]
    return {"host": host.label, "namespaces": [asdict(s) for s in spaces], "cables": cables}
