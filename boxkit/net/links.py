"""Bridges, veth pairs, addresses and routes, spoken to the kernel over netlink with pyroute2.

A new network namespace holds one interface, ``lo``, and it is down: the process inside cannot reach
anything, not even itself on 127.0.0.1. Connecting it takes four kernel objects, each one netlink
message (what ``ip`` sends too; pyroute2 sends the same messages from Python, without a process per
step)::

    host netns                                   container netns (/proc/PID/ns/net)
    +-----------------------------+              +---------------------------+
    | bk0  bridge 10.213.0.1/24   |              | eth0  10.213.0.2/24       |
    |  |                          |              |  default via 10.213.0.1   |
    |  +-- bkv3fa2c1d0 ===========|==== veth ====|== eth0                    |
    +-----------------------------+              +---------------------------+

1. a **bridge** (``RTM_NEWLINK kind=bridge``): a switch in the kernel. The host gets the subnet's first
   address on it, which makes it the containers' gateway and adds the route ``10.213.0.0/24 dev bk0``.
2. a **veth pair** (``RTM_NEWLINK kind=veth``): two interfaces joined like the ends of a cable; what
   goes in one comes out of the other. The request names a network namespace for the peer
   (``IFLA_NET_NS_PID``), so the ``eth0`` end is born inside the container.
3. the host end is **enslaved** to the bridge (``IFLA_MASTER``): now it is a switch port.
4. inside the container, ``eth0`` gets an **address** (``RTM_NEWADDR``), both ends go **up**, and a
   **default route** (``RTM_NEWROUTE``) points at the gateway.

Talking to a namespace: a netlink socket belongs to the network namespace in which it was *created*.
pyroute2's ``IPRoute(netns=...)`` forks a helper process to create one; boxkit does it in place:
``setns`` this thread into ``/proc/PID/ns/net``, create the socket, ``setns`` back (network namespaces
are per thread, so only the calling thread moves, for microseconds) and hand the socket to pyroute2.

Deleting a veth pair takes about 20 ms and a bridge about 40 ms on Linux 6.x (the kernel waits for
an RCU grace period while unregistering a device); :mod:`boxkit.net` does both off the container's
start path. When the container's network namespace dies, the kernel deletes its veth end and with it
the host end, so even a killed runtime leaves no veth behind.

pyroute2 is imported here, at module level; :mod:`boxkit.net` imports this module only when a network
is asked for, because importing pyroute2 takes about 130 ms.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import ipaddress
import os
import socket
from collections.abc import Iterator

from pyroute2 import IPRoute
from pyroute2.netlink.exceptions import NetlinkError

from .._sys import CLONE_NEWNET, SYS
from ..errors import BoxkitError

NETLINK_ROUTE = 0
MAIN_TABLE = 254


def _err(op: str, path: str, e: NetlinkError | OSError, hint: str | None = None) -> BoxkitError:
    code = e.code if isinstance(e, NetlinkError) else (e.errno or errno.EIO)
    return BoxkitError(op, path, errno=code, hint=hint)


@contextlib.contextmanager
def _outside_event_loop() -> Iterator[None]:
    """Let pyroute2's synchronous API run in a thread whose asyncio loop is running (a Jupyter kernel).

    pyroute2 0.9 is asyncio inside: the synchronous ``IPRoute`` runs each request with
    ``loop.run_until_complete``, which asyncio refuses while another loop runs in the same thread — and
    ipykernel executes every cell inside its running loop. The cell blocks that loop anyway while it
    waits for us, so for the duration of the block we hide it and restore it after.
    """
    try:
        running = asyncio.get_running_loop()
    except RuntimeError:
        running = None
    if running is None:
        yield
        return
    asyncio.events._set_running_loop(None)
    try:
        yield
    finally:
        asyncio.events._set_running_loop(running)


@contextlib.contextmanager
def host(ipr: IPRoute | None = None) -> Iterator[IPRoute]:
    """An IPRoute on the host's namespace: ``ipr`` if given (one socket for many steps), else a new one."""
    if ipr is not None:
        yield ipr
        return
    with _outside_event_loop():
        ipr = IPRoute()
        try:
            yield ipr
        finally:
            ipr.close()


def netns_socket(pid: int) -> socket.socket:
    """A NETLINK_ROUTE socket that lives in the network namespace of ``pid``."""
    try:
        target = os.open(f"/proc/{pid}/ns/net", os.O_RDONLY | os.O_CLOEXEC)
    except OSError as e:
        raise BoxkitError.from_oserror("cannot open network namespace", f"/proc/{pid}/ns/net", e,
                                       hint="the container exited before its network was set up") from None
    own = os.open("/proc/thread-self/ns/net", os.O_RDONLY | os.O_CLOEXEC)
    try:
        SYS.setns(target, CLONE_NEWNET)
        try:
            return socket.socket(socket.AF_NETLINK, socket.SOCK_DGRAM, NETLINK_ROUTE)
        finally:
            # back home whatever happened: a thread left in a container's netns would be a disaster
            SYS.setns(own, CLONE_NEWNET)
    except OSError as e:
        raise BoxkitError.from_oserror("cannot enter network namespace", f"/proc/{pid}/ns/net", e) from None
    finally:
        os.close(target)
        os.close(own)


@contextlib.contextmanager
def inside(pid: int) -> Iterator[IPRoute]:
    """An IPRoute whose requests act on the network namespace of ``pid``."""
    sock = netns_socket(pid)
    with _outside_event_loop():
        ipr = IPRoute(fileno=sock.detach())
        try:
            yield ipr
        finally:
            ipr.close()


LOOPBACK_IFINDEX = 1   # lo is index 1 in every network namespace (net/core/dev.c)


def index(ipr: IPRoute, ifname: str) -> int | None:
    """The interface index of ``ifname``: one RTM_GETLINK request (link_lookup would dump them all)."""
    try:
        return ipr.link("get", ifname=ifname)[0]["index"]
    except NetlinkError as e:
        if e.code == errno.ENODEV:
            return None
        raise


# --- the host's routes (for subnet clash checks) -----------------------------------------------

def host_networks(exclude: str | None = None, ipr: IPRoute | None = None) -> list[ipaddress.IPv4Network]:
    """Every IPv4 network the host routes or holds an address in, except those on ``exclude``."""
    out: list[ipaddress.IPv4Network] = []
    with host(ipr) as ipr:
        skip = index(ipr, exclude) if exclude else None
        for r in ipr.route("dump", family=socket.AF_INET):
            if r.get("table") not in (MAIN_TABLE, None) and r.get_attr("RTA_TABLE") != MAIN_TABLE:
                continue
            if skip is not None and r.get_attr("RTA_OIF") == skip:
                continue
            dst = r.get_attr("RTA_DST")
            if dst and r["dst_len"]:
                out.append(ipaddress.IPv4Network(f"{dst}/{r['dst_len']}", strict=False))
        for a in ipr.addr("dump", family=socket.AF_INET):
            if skip is not None and a["index"] == skip:
                continue
            addr = a.get_attr("IFA_ADDRESS")
            if addr and not addr.startswith("127."):
                out.append(ipaddress.IPv4Network(f"{addr}/{a['prefixlen']}", strict=False))
    return out


def bridges(ipr: IPRoute | None = None) -> list[str]:
    """Names of the boxkit bridges (``bk*``, kind bridge) in the host's namespace."""
    out = []
    with host(ipr) as ipr:
        for link in ipr.link("dump"):
            name = link.get_attr("IFLA_IFNAME") or ""
            info = link.get_attr("IFLA_LINKINFO")
            kind = info.get_attr("IFLA_INFO_KIND") if info else None
            if name.startswith("bk") and kind == "bridge":
                out.append(name)
    return out


# --- bridge --------------------------------------------------------------------------------------

def link_exists(name: str, ipr: IPRoute | None = None) -> bool:
    """Whether the host's namespace has an interface called ``name``."""
    with host(ipr) as ipr:
        return index(ipr, name) is not None


bridge_exists = link_exists


def bridge_up(name: str, gateway: str, prefixlen: int, ipr: IPRoute | None = None) -> None:
    """Create bridge ``name`` with ``gateway/prefixlen`` on it and bring it up."""
    with host(ipr) as ipr:
        try:
            ipr.link("add", ifname=name, kind="bridge")
            idx = index(ipr, name)
            ipr.addr("add", index=idx, address=gateway, prefixlen=prefixlen)
            ipr.link("set", index=idx, state="up")
        except NetlinkError as e:
            with contextlib.suppress(NetlinkError):
                ipr.link("del", ifname=name)
            raise _err("cannot create bridge", name, e) from None


def retire(name: str, ipr: IPRoute | None = None) -> str | None:
    """Take a bridge out of service at once and give it a throw-away name; return that name.

    Deleting a bridge takes ~40 ms. A retired bridge is down (its route is gone) and its name is free,
    so a container starting meanwhile can create a fresh bridge under the old name while the old
    one is deleted in the background by :func:`delete_link`.
    """
    with host(ipr) as ipr:
        idx = index(ipr, name)
        if idx is None:
            return None
        dead = "bkx" + os.urandom(4).hex()
        try:
            ipr.link("set", index=idx, state="down")
            ipr.link("set", index=idx, ifname=dead)
        except NetlinkError as e:
            if e.code == errno.ENODEV:
                return None
            raise _err("cannot take down bridge", name, e) from None
        return dead


def delete_link(name: str) -> bool:
    """Delete an interface by name; False when it is already gone."""
    with host() as ipr:
        try:
            ipr.link("del", ifname=name)
            return True
        except NetlinkError as e:
            if e.code == errno.ENODEV:
                return False
            raise _err("cannot delete interface", name, e) from None


# --- veth ----------------------------------------------------------------------------------------

def plug(pid: int, veth: str, bridge: str, address: str, prefixlen: int, gateway: str,
         ifname: str = "eth0", ipr: IPRoute | None = None, lo_up: bool = True) -> None:
    """Connect the network namespace of ``pid`` to ``bridge`` with a veth pair (steps 2-4 above).
    Each netlink request costs ~1.5 ms through pyroute2 0.9's asyncio core, so the host end is created
    up (``state="up"`` sets IFF_UP in the RTM_NEWLINK itself) and ``lo`` is left to a caller that
    brings it up anyway (``lo_up=False``)."""
    with host(ipr) as ipr:
        br = index(ipr, bridge)
        if br is None:
            raise BoxkitError("cannot find bridge", bridge, errno=errno.ENODEV, hint="run boxkit gc")
        # one message creates the pair, puts the peer in the container and the host end on the bridge
        spec = dict(ifname=veth, kind="veth", master=br, state="up", peer={"ifname": ifname, "net_ns_pid": pid})
        try:
            ipr.link("add", **spec)
        except NetlinkError as e:
            if e.code == errno.EEXIST:   # a leftover of the same container id: take it away and retry
                with contextlib.suppress(NetlinkError):
                    ipr.link("del", ifname=veth)
                try:
                    ipr.link("add", **spec)
                except NetlinkError as e2:
                    raise _err("cannot create veth pair", veth, e2) from None
            else:
                raise _err("cannot create veth pair", veth, e,
                           hint="the container exited early" if e.code == errno.ESRCH else None) from None
        try:
            with inside(pid) as ns:
                eth = index(ns, ifname)
                ns.addr("add", index=eth, address=address, prefixlen=prefixlen)
                ns.link("set", index=eth, state="up")
                if lo_up:
                    ns.link("set", index=LOOPBACK_IFINDEX, state="up")
                ns.route("add", dst="0.0.0.0/0", gateway=gateway, oif=eth)
        except (NetlinkError, BoxkitError) as e:
            with contextlib.suppress(NetlinkError):
                ipr.link("del", ifname=veth)
            if isinstance(e, BoxkitError):
                raise
            raise _err("cannot configure veth pair", f"{veth} ({address} in /proc/{pid}/ns/net)", e) from None
