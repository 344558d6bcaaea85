"""Measuring a container network: round trips with ping, and outbound NAT toward a local "outside".

* **ping** sends ICMP echo requests from inside a container (busybox ``ping``) or from the host; the
  time printed per reply is the round trip through both network stacks and the bridge. A veth pair
  hands a packet to its peer by a function call, with no wire and no NIC, so a round trip stays inside
  one kernel; at that scale ping also measures its own wake-up and the scheduler.
* **outbound NAT** (``boxkit network create --nat``): a container's subnet is private to this host, so
  a machine beyond the host knows no route back to it. The host therefore rewrites the source address
  of a packet that leaves a NAT network for anywhere but a boxkit bridge to its own address on the
  outgoing interface: **masquerade**, source NAT with the address picked per interface. The rule (in
  the ``postrouting`` chain of the table ``ip boxkit``, see :mod:`boxkit.net.firewall`) runs for the
  *first* packet of a connection only: connection tracking (conntrack) remembers the rewrite, applies
  it to the rest of the connection and undoes it on the replies. So the rule's counter counts
  connections, one packet each; :func:`masquerade_rules` reads it.
* :class:`Outside` stands in for "the outside" without touching a real network: a network namespace
  of its own, joined to the host by a veth pair, with addresses from TEST-NET-2 (``198.51.100.0/24``,
  RFC 5737: a range for documentation that no host on the internet holds) and no route beyond its own
  link. It runs a small HTTP server that answers every request with the source address it saw.

The parsing is separate (:func:`parse_ping`, :func:`parse_masquerade`) so that it is tested without
containers.
"""

from __future__ import annotations

import ipaddress
import re
import shutil
import subprocess
import sys
import time

from ..errors import BoxkitError
from ..i18n import N_, _

_RTT = re.compile(r"time[=<]([\d.]+) ?ms")


def parse_ping(text: str) -> list[float]:
    """Round-trip times in ms from ping's output (busybox and iputils print ``time=0.123 ms``)."""
    return [float(m.group(1)) for m in _RTT.finditer(text)]


def ping(container, target: str, count: int = 10, interval: float = 0.2) -> list[float]:
    """RTTs in ms of ``count`` pings from ``container`` to ``target`` (from the host if container is None)."""
    argv = ["ping", "-c", str(count), "-i", str(interval), "-W", "2", target]
    if container is None:
        bb = shutil.which("busybox")
        if not bb:
            raise FileNotFoundError(_("busybox is needed to ping from the host (apt-get install busybox-static)"))
        out = subprocess.run([bb, *argv], capture_output=True, text=True, timeout=count * interval + 10).stdout
    else:
        out = container.exec(argv, timeout=count * interval + 10).stdout
    return parse_ping(out)


# --- outbound NAT --------------------------------------------------------------------------------

_COUNTER = re.compile(r"counter packets (\d+)")


def parse_masquerade(chain_text: str) -> dict[str, tuple[str, int | None]]:
    """The masquerade rules of ``nft list chain ip boxkit postrouting``'s output, keyed by the source
    they match (``"127.0.0.0/8"`` or ``"@nat_nets"``): ``(the rule as nft prints it, packets its
    counter counted)``, the count None for a rule without a counter."""
    out: dict[str, tuple[str, int | None]] = {}
    for line in chain_text.splitlines():
        rule = line.strip()
        m = re.match(r"ip saddr (\S+) .*masquerade", rule)
        if m:
            n = _COUNTER.search(rule)
            out[m.group(1)] = (rule, int(n.group(1)) if n else None)
    return out


def masquerade_rules() -> dict[str, tuple[str, int | None]]:
    """The live masquerade rules of boxkit's table with their counters ({} when there is no table)."""
    from . import firewall  # lazy: firewall only when NAT is measured

    r = subprocess.run([firewall.nft_path(), "list", "chain", "ip", firewall.TABLE, "postrouting"],
                       capture_output=True, text=True, timeout=20)
    return parse_masquerade(r.stdout) if r.returncode == 0 else {}


OUTSIDE_SUBNET = "198.51.100.0/24"   # TEST-NET-2 (RFC 5737): documentation only, never a real host

_SERVER = r"""
import http.server, sys

class Seen(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = (self.client_address[0] + "\n").encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass

http.server.HTTPServer(("0.0.0.0", int(sys.argv[1])), Seen).serve_forever()
"""


class Outside:
    """A local stand-in for "the outside": a network namespace of its own behind a veth pair.

    ``with Outside() as out:`` makes the namespace (``unshare --net``, its process a small HTTP server
    on ``port`` that answers with the client's address), puts one end of a veth pair into it as
    ``eth0`` with ``address`` and keeps the other (``ifname``) on the host with ``host_address``. The
    namespace has no route beyond that link. On exit the process is killed; the namespace, and with it
    the whole veth pair, goes with it."""

    def __init__(self, ifname: str = "outside0", subnet: str = OUTSIDE_SUBNET, port: int = 8000):
        net = ipaddress.IPv4Network(subnet)
        self.ifname, self.subnet, self.port = ifname, net, port
        self.host_address, self.address = str(net[1]), str(net[2])
        self.proc: subprocess.Popen | None = None

    def __enter__(self) -> Outside:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.close()

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def start(self) -> Outside:
        from . import links  # lazy: pyroute2

        taken = [n for n in links.host_networks() if n.overlaps(self.subnet)]
        if taken or links.link_exists(self.ifname):
            # i18n: "the outside": a network namespace standing in for the internet (class Outside); followed
            # by a network interface name or an address
            raise BoxkitError(N_("cannot make the outside"), self.ifname,
                              # i18n: {subnet} is an address range, {used} what on the host uses it or the name
                              detail=N_("{subnet} or the name is in use on the host ({used})"),
                              hint=N_("close the other Outside first"),
                              params={"subnet": str(self.subnet),
                                      "used": ", ".join(map(str, taken)) or self.ifname})
        self.proc = subprocess.Popen(["unshare", "--net", sys.executable, "-c", _SERVER, str(self.port)])
        try:
            own = _netns_inode("self")
            deadline = time.monotonic() + 5
            while _netns_inode(self.pid) == own:   # unshare has not exec'd into the new namespace yet
                if time.monotonic() > deadline or self.proc.poll() is not None:
                    raise BoxkitError(N_("cannot make the outside"), "unshare --net", detail=N_("no new namespace"))
                time.sleep(0.005)
            prefix = self.subnet.prefixlen
            with links.host() as ipr:
                ipr.link("add", ifname=self.ifname, kind="veth", peer={"ifname": "eth0", "net_ns_pid": self.pid})
                idx = links.index(ipr, self.ifname)
                ipr.addr("add", index=idx, address=self.host_address, prefixlen=prefix)
                ipr.link("set", index=idx, state="up")
            with links.inside(self.pid) as ns:
                eth0 = links.index(ns, "eth0")
                ns.addr("add", index=eth0, address=self.address, prefixlen=prefix)
                ns.link("set", index=eth0, state="up")
                ns.link("set", index=links.LOOPBACK_IFINDEX, state="up")
            self._wait_listening()
        except BaseException:
            self.close()
            raise
        return self

    def _wait_listening(self, tries: int = 200) -> None:
        import socket

        for _try in range(tries):
            try:
                socket.create_connection((self.address, self.port), timeout=1).close()
                return
            except OSError:
                time.sleep(0.02)
        raise BoxkitError(N_("cannot make the outside"), f"{self.address}:{self.port}", detail=N_("nothing listens"))

    def ping_from(self, target: str) -> bool:
        """One ping from inside the outside's namespace: did ``target`` answer within a second?"""
        bb = shutil.which("busybox") or "busybox"
        r = subprocess.run(["nsenter", "-t", str(self.pid), "-n", bb, "ping", "-c", "1", "-W", "1", target],
                           capture_output=True, timeout=10)
        return r.returncode == 0

    def close(self, wait: float = 5) -> None:
        """Kill the namespace's process; the kernel frees the namespace and the veth pair with it."""
        from . import links  # lazy: pyroute2

        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        self.proc = None
        deadline = time.monotonic() + wait
        while links.link_exists(self.ifname) and time.monotonic() < deadline:
            time.sleep(0.01)
        links.delete_link(self.ifname)   # normally gone already; False then


def _netns_inode(pid) -> int:
    import os

    return os.stat(f"/proc/{pid}/ns/net").st_ino
