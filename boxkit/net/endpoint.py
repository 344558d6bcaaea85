"""Joining a container to a network and taking it off again: the steps in order, and their undo.

:func:`attach` runs in the runtime's helper process after the container's PID 1 exists in its own,
empty network namespace and before the user's command runs. Under the host-wide network lock
(:func:`boxkit.net.ipam.locked`) it:

1. reclaims leases whose process is gone (a killed kernel, a crash), so addresses are never lost;
2. brings the network's bridge up if no container uses it yet (checking the subnet against the host's
   routes first) — a bridge exists only while a container is on it;
3. takes the lowest free address, publishes the ports (``create element``: a taken host port fails
   here, atomically), plugs a veth pair into the container's namespace;
4. records the lease and rewrites the ``/etc/hosts`` of the peers already running.

Every step that succeeds pushes its undo on a stack; if a later step fails, the stack runs backwards
and the error propagates: nothing half-made stays on the host.

:meth:`Attachment.release` is the reverse. It is off the container's start and exit path: the runtime
calls it after the container has exited, possibly from a background thread. The veth usually needs no
work (the kernel deletes it with the namespace); the bridge of the last container is *retired* under
the lock (down + renamed, a millisecond) and deleted after the lock is dropped (~40 ms), so a
container starting meanwhile does not wait for it.
"""

from __future__ import annotations

import contextlib
import errno
from collections.abc import Callable
from dataclasses import dataclass, field

from ..errors import BoxkitError, NotFoundError, SpecError
from . import firewall, hosts, ipam
from .firewall import PortSpec


@dataclass
class Attachment:
    """A container's place on a network, and the files the runtime writes into it."""

    cid: str
    network: str
    address: str | None
    gateway: str | None
    prefixlen: int | None
    veth: str | None
    hostname: str
    name: str | None
    ports: list[PortSpec] = field(default_factory=list)
    resolv_conf: str = ""
    _released: bool = False

    @property
    def hosts(self) -> str:
        """Rendered when read, from the current leases: peers that joined meanwhile are in it."""
        try:
            net = ipam.load(self.network)
        except BoxkitError:
            net = None
        return hosts.render_hosts(net, self.cid, self.hostname, self.name)

    def release(self, defer: bool = False) -> None:
        """Take the container off its network (idempotent; safe from a background thread).

        With ``defer=True`` the bridge stays up even when this was its last container, so the next
        container on the network starts without making one (and this call skips the ~10 ms retire);
        :func:`reap`, which a single-threaded caller runs when it has been idle a while, removes idle
        bridges. Without ``defer``, the last container's release removes the bridge itself.
        """
        if self._released:
            return
        self._released = True
        release(self.cid, self.network, defer=defer)


def _bridge_for(net: ipam.Network, undo: list[Callable[[], None]], ipr=None) -> None:
    """Make sure the network's bridge is up; clash-check (and maybe move) its subnet first."""
    # lazy: links loads pyroute2 (~130-230 ms); only a networked container needs it
    from . import links

    if links.bridge_exists(net.bridge, ipr):
        return
    taken = links.host_networks(exclude=net.bridge, ipr=ipr)
    hit = ipam.clash(net.net, taken)
    if hit is not None:
        if not net.auto_subnet:
            raise SpecError("subnet", net.subnet, f"network {net.name} overlaps {hit}, a route of the host",
                            hint="remove the network and create it with another --subnet")
        net.subnet = str(ipam.pick_subnet(taken + [n.net for n in ipam.all_networks() if n.name != net.name]))
    links.bridge_up(net.bridge, net.gateway, net.prefixlen, ipr)
    undo.append(lambda: links.delete_link(net.bridge))
    if firewall.ip_forward() or net.nat:
        # routing between interfaces is on: the table must keep boxkit networks apart (see firewall)
        made = firewall.ensure_table()
        if made:
            undo.append(firewall.delete_table)
        script = firewall.add_bridges_script(links.bridges(ipr))
        if net.nat:
            script += firewall.nat_script("add", net.subnet)
        firewall.apply(script)
        if net.nat:
            firewall.enable_ip_forward()


def attach(cid: str, pid: int, network: str, name: str | None, hostname: str,
           publish: list[str] | None = None, lo_up: bool = True) -> Attachment:
    """Connect the network namespace of ``pid`` to ``network`` (see the module docstring)."""
    ipam.veth_name(cid)   # validates the id
    if network != ipam.DEFAULT_NETWORK:
        ipam.check_network_name(network)
    specs = firewall.parse_publish(publish)
    if not isinstance(pid, int) or pid <= 0 or ipam.proc_starttime(pid) is None:
        raise BoxkitError("cannot attach network to process", str(pid), errno=errno.ESRCH,
                          hint="the container exited before its network was set up")
    if specs:
        firewall.nft_path()
    from . import links  # pyroute2: only now

    undo: list[Callable[[], None]] = []
    stale_links: list[str] = []
    with ipam.locked(), links.host() as ipr:
        try:
            net = _load_or_default(network)
            _reclaim(net, ipam.stale(net), stale_links)
            if cid in net.leases:
                raise BoxkitError("cannot attach container", cid, errno=errno.EEXIST,
                                  detail=f"it is already on network {network}")
            if name and any(lease.name == name for lease in net.leases.values()):
                raise SpecError("container name", name, f"a running container on network {network} has it")
            _bridge_for(net, undo, ipr)
            address = net.allocate()
            if specs:
                for s in specs:
                    firewall.check_free(s)
                if firewall.ensure_table():
                    undo.append(firewall.delete_table)
                firewall.set_route_localnet(net.bridge)
                try:
                    firewall.apply(firewall.add_bridges_script([net.bridge])
                                   + firewall.ports_script("create", address, specs), "cannot publish ports")
                except BoxkitError as e:
                    if e.errno == errno.EEXIST:
                        raise BoxkitError("cannot publish port", ", ".join(str(s) for s in specs),
                                          errno=errno.EADDRINUSE, detail="another container publishes it",
                                          hint="pick another host port") from None
                    raise
                undo.append(lambda: firewall.nft(firewall.ports_script("delete", address, specs)))
            veth = ipam.veth_name(cid)
            links.plug(pid, veth, net.bridge, address, net.prefixlen, net.gateway, ipr=ipr, lo_up=lo_up)
            undo.append(lambda: links.delete_link(veth))
            net.leases[cid] = ipam.Lease(address=address, pid=pid, starttime=ipam.proc_starttime(pid),
                                         veth=veth, hostname=hostname, name=name,
                                         ports=[[s.proto, s.host_port, s.container_port] for s in specs])
            ipam.save(net)
        except BaseException:
            for fn in reversed(undo):
                with contextlib.suppress(Exception):
                    fn()
            raise
        hosts.refresh_peers(net, skip=cid)
    _delete_all(stale_links)
    return Attachment(cid=cid, network=network, address=address, gateway=net.gateway,
                      prefixlen=net.prefixlen, veth=veth, hostname=hostname, name=name, ports=specs,
                      resolv_conf=hosts.render_resolv(net.nat))


def _load_or_default(network: str) -> ipam.Network:
    try:
        return ipam.load(network)
    except NotFoundError:
        if network != ipam.DEFAULT_NETWORK:
            raise
    # lazy: links loads pyroute2 (~130-230 ms)
    from . import links

    return ipam.define(network, taken=links.host_networks())


def _reclaim(net: ipam.Network, cids: list[str], doomed: list[str], gone_with_netns: bool = True) -> list[str]:
    """Drop leases (caller holds the lock) and their ports; saves ``net``.

    Their veths go on ``doomed``, to be deleted after the lock is dropped (~20 ms each); usually the
    kernel has deleted them already, with the container's namespace.
    """
    if not cids:
        return []
    for cid in cids:
        lease = net.leases.pop(cid)
        specs = [PortSpec(int(h), int(c), p) for p, h, c in lease.ports]
        if specs:
            with contextlib.suppress(BoxkitError):
                firewall.nft(firewall.ports_script("delete", lease.address, specs))
        # a dead process's namespace is freed by the kernel (a worker, not us), and its veth with
        # it within a few ms; deleting it ourselves would cost ~20 ms for nothing
        if ipam.process_alive(lease.pid, lease.starttime) or not gone_with_netns:
            doomed.append(lease.veth)
    ipam.save(net)
    return cids


def _delete_all(names: list[str]) -> None:
    # lazy: links loads pyroute2 (~130-230 ms)
    from . import links

    for n in names:
        with contextlib.suppress(BoxkitError):
            links.delete_link(n)


def _retire_if_idle(net: ipam.Network) -> list[str]:
    """With no lease left, retire the bridge (and the table if no boxkit bridge remains)."""
    # lazy: links loads pyroute2 (~130-230 ms)
    from . import links

    if net.leases:
        return []
    dead = links.retire(net.bridge)
    if dead is None:
        return []
    if not [b for b in links.bridges() if not b.startswith("bkx")]:
        firewall.delete_table()
    elif firewall.table_exists():
        script = firewall.del_bridge_script(net.bridge)
        if net.nat:
            script += firewall.nat_script("delete", net.subnet)
        with contextlib.suppress(BoxkitError):
            firewall.nft(script)
    return [dead]


def release(cid: str, network: str, defer: bool = False) -> None:
    doomed: list[str] = []
    with ipam.locked():
        try:
            net = ipam.load(network)
        except NotFoundError:
            net = None
        if net is not None and cid in net.leases:
            _reclaim(net, [cid], doomed)
            hosts.refresh_peers(net)
            if not defer:
                doomed += _retire_if_idle(net)
        else:
            doomed.append(ipam.veth_name(cid))
    _delete_all(doomed)   # ~20 ms per veth, ~40 ms per bridge: outside the lock


RETIRED_PREFIX = "bkx"


def reap() -> list[str]:
    """Remove the bridges of this root's networks that no container uses, and retired leftovers.

    Pairs with ``release(defer=True)``: call it when idle (and before exiting) so that nothing stays
    on the host. Returns the names of the interfaces deleted.
    """
    # lazy: links loads pyroute2 (~130-230 ms)
    from . import links

    doomed: list[str] = []
    if ipam.names():
        with ipam.locked():
            for net in ipam.all_networks():
                if not [c for c in net.leases if c not in ipam.stale(net)]:
                    _reclaim(net, list(net.leases), doomed, gone_with_netns=False)
                    doomed += _retire_if_idle(net)
    with links.host() as ipr:
        doomed += [n for n in (link.get_attr("IFLA_IFNAME") or "" for link in ipr.link("dump"))
                   if n.startswith(RETIRED_PREFIX) and len(n) == 11 and n not in doomed]
    _delete_all(doomed)
    return doomed


def gc(alive: set[str]) -> list[str]:
    """Reclaim the leases of containers not in ``alive`` or whose process is gone; return their ids.

    ``alive`` must hold every container the runtime considers running or starting.
    """
    if not ipam.names():
        return []

    reclaimed: list[str] = []
    doomed: list[str] = []
    with ipam.locked():
        for net in ipam.all_networks():
            cids = _reclaim(net, ipam.stale(net, alive), doomed, gone_with_netns=False)
            reclaimed += cids
            if cids:
                hosts.refresh_peers(net)
            doomed += _retire_if_idle(net)
    _delete_all(doomed)
    reap()   # idle bridges (release(defer=True)) and retired ones a killed runtime did not delete
    return reclaimed


# --- networks (boxkit network create/ls/rm) ------------------------------------------------------

def create_network(name: str, subnet: str | None = None, nat: bool = False) -> ipam.Network:
    # lazy: links loads pyroute2 (~130-230 ms)
    from . import links

    if nat:
        firewall.nft_path()
    with ipam.locked():
        return ipam.define(name, subnet=subnet, nat=nat, taken=links.host_networks())


def remove_network(name: str) -> None:
    with ipam.locked():
        net = ipam.load(name)
        live = [cid for cid in net.leases if cid not in ipam.stale(net)]
        if live:
            raise BoxkitError("cannot remove network", name, errno=errno.EBUSY,
                              detail=f"{len(live)} running container(s) use it",
                              hint="stop them first: " + ", ".join(c[:12] for c in live))
        doomed: list[str] = []
        _reclaim(net, list(net.leases), doomed, gone_with_netns=False)
        doomed += _retire_if_idle(net)
        ipam.delete(name)
    _delete_all(doomed)


def list_networks() -> list[dict]:
    """One row per network: name, bridge, subnet, gateway, nat, live containers, bridge up."""
    # lazy: links loads pyroute2 (~130-230 ms)
    from . import links

    nets = ipam.all_networks()
    up = set(links.bridges()) if nets else set()
    if not any(n.name == ipam.DEFAULT_NETWORK for n in nets):
        rows = [{"name": ipam.DEFAULT_NETWORK, "bridge": ipam.bridge_name(ipam.DEFAULT_NETWORK),
                 "subnet": "(chosen at first use)", "gateway": "", "nat": False, "containers": 0, "up": False}]
    else:
        rows = []
    for n in nets:
        live = [c for c in n.leases if c not in ipam.stale(n)]
        rows.append({"name": n.name, "bridge": n.bridge, "subnet": n.subnet, "gateway": n.gateway,
                     "nat": n.nat, "containers": len(live), "up": n.bridge in up})
    return sorted(rows, key=lambda r: (r["name"] != ipam.DEFAULT_NETWORK, r["name"]))
