"""Published ports, outbound NAT and isolation between networks, as one nftables table.

``-p 8080:80`` means: a connection to port 8080 of any of the host's addresses goes to port 80 of the
container. Two ways exist to do that, and runtimes use both:

* a **userspace proxy** (docker-proxy, rootlesskit, slirp): a process listens on 8080 and copies
  bytes to the container. It works without privileges, but every connection goes through one more
  process and two more socket copies, and the container sees the proxy, not the client, as the peer;
* **destination NAT in the kernel** (docker and podman as root): a netfilter rule rewrites the
  packet's destination before routing, and connection tracking rewrites the replies back.

boxkit uses **nftables**, the kernel's packet filter since Linux 3.13, through the ``nft`` command
(Debian's ``nftables`` package): boxkit runs as root anyway, the kernel forwards at full speed with no
process per container to start, watch and reap, the container sees the client's real address, and
the whole state is one table a learner can read with ``nft list table ip boxkit``. pyroute2 ships a
low-level nftables netlink module, but it builds rules from raw expressions; the ``nft`` language is
what the course shows and what an engineer types, so boxkit speaks it (one ``nft -f -`` transaction,
about 5 ms). The table::

    table ip boxkit {
      map ports { type inet_proto . inet_service : ipv4_addr . inet_service }  # tcp . 8080 : 10.213.0.2 . 80
      set bridges { type ifname }                  # boxkit bridges known to the table
      set same { type ifname . ifname }            # "bk0" . "bk0": traffic that stays on one bridge
      set nat_nets { type ipv4_addr; flags interval }
      chain prerouting  { nat hook prerouting:  fib daddr type local dnat ip to l4proto . dport map @ports }
      chain output      { nat hook output:      the same, for connections made on the host itself }
      chain postrouting { nat hook postrouting: masquerade 127/8 into bridges, and @nat_nets out of them;
                          a counter on each rule counts the connections it rewrote }
      chain forward     { filter hook forward:  drop bridge-to-other-bridge }
      chain guard       { filter hook prerouting (raw): drop 127/8 arriving on a bridge }
    }

Why each piece is there:

* **A map, not a rule per port.** Adding a container's ports is ``create element``; ``create`` fails
  with EEXIST when the key ``tcp . 8080`` is taken, so the map *is* the host-wide port registry and two
  concurrent starts cannot both publish 8080. Removing is ``delete element``: no rule handles to track.
* **127.0.0.1 works** (``curl localhost:8080`` from the notebook): after DNAT the packet leaves through
  the bridge with source 127.0.0.1, which the kernel drops as a martian unless ``route_localnet=1`` on
  the bridge; the postrouting rule then masquerades it to the gateway address so the reply can come
  back. ``route_localnet`` alone would let a container send to the host's 127.0.0.1 services
  (CVE-2020-8558, kube-proxy); the ``guard`` chain drops such packets before routing.
* **Port in use.** DNAT does not bind the port, so a host program listening on 8080 would silently lose
  its traffic. Before publishing, boxkit binds the port itself (TCP or UDP, all addresses) and lets go:
  EADDRINUSE becomes "port 8080/tcp is in use on the host".
* **Outbound NAT** (``boxkit network create --nat``) needs ``net.ipv4.ip_forward=1``, a host-wide
  switch that stays on (docker does the same). It is off by default: a container on a boxkit network
  reaches its peers and the host, nothing else. Once forwarding is on, the ``forward`` chain keeps
  networks apart: bridged traffic (``br_netfilter``) shows the same bridge as input and output and
  matches ``@same``; routed traffic between two bridges does not, and is dropped.

Not done: a container reaching a *published* port through the host's address (hairpin NAT) — the
reply would go straight back over the bridge with the wrong source; containers reach each other by
name instead.

The table exists only while it is needed (a port is published, NAT is on, or forwarding is on) and is
deleted with the last boxkit bridge, so nothing stays behind on the host.
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import shutil
import socket
import subprocess

from ..errors import BoxkitError, HostError, SpecError
from ..spec import PortSpec, parse_publish  # noqa: F401  (parsed with every other typed value)

TABLE = "boxkit"

_TABLE_DEF = """\
table ip boxkit {
  map ports { type inet_proto . inet_service : ipv4_addr . inet_service; }
  set bridges { type ifname; }
  set same { type ifname . ifname; }
  set nat_nets { type ipv4_addr; flags interval; }
  chain prerouting {
    type nat hook prerouting priority dstnat; policy accept;
    fib daddr type local dnat ip to meta l4proto . th dport map @ports
  }
  chain output {
    type nat hook output priority -100; policy accept;
    fib daddr type local dnat ip to meta l4proto . th dport map @ports
  }
  chain postrouting {
    type nat hook postrouting priority srcnat; policy accept;
    ip saddr 127.0.0.0/8 oifname @bridges counter masquerade
    ip saddr @nat_nets oifname != @bridges counter masquerade
  }
  chain forward {
    type filter hook forward priority filter; policy accept;
    iifname @bridges oifname @bridges iifname . oifname != @same drop
  }
  chain guard {
    type filter hook prerouting priority raw; policy accept;
    iifname @bridges ip daddr 127.0.0.0/8 drop
  }
}
"""

def check_free(spec: PortSpec) -> None:
    """Bind the host port for a moment: a listener already there would lose its traffic to DNAT."""
    kind = socket.SOCK_STREAM if spec.proto == "tcp" else socket.SOCK_DGRAM
    for family, addr in ((socket.AF_INET, "0.0.0.0"), (socket.AF_INET6, "::")):
        try:
            s = socket.socket(family, kind)
        except OSError:
            continue  # no IPv6 on this host
        try:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # TIME_WAIT is not "in use"
            if family == socket.AF_INET6:
                s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            s.bind((addr, spec.host_port))
        except OSError as e:
            if e.errno == errno.EADDRINUSE:
                raise BoxkitError("cannot publish port", f"{spec.host_port}/{spec.proto}", errno=e.errno,
                                  detail="it is in use on the host",
                                  hint="pick another host port or stop what listens there") from None
            if e.errno != errno.EADDRNOTAVAIL:
                raise
        finally:
            s.close()


# --- nft ----------------------------------------------------------------------------------------

def nft_path() -> str:
    path = shutil.which("nft") or next((p for p in ("/usr/sbin/nft", "/sbin/nft") if shutil.which(p)), None)
    if not path:
        raise HostError("cannot find the nft command", None, errno=errno.ENOENT,
                        detail="published ports and nat use nftables",
                        hint="install it (apt-get install nftables) or run without -p")
    return path


def nft(script: str, op: str = "cannot change the nftables table") -> subprocess.CompletedProcess:
    """Run one atomic ``nft -f -`` transaction; all of it applies or none of it does."""
    r = subprocess.run([nft_path(), "-f", "-"], input=script, capture_output=True, text=True, timeout=20)
    if r.returncode != 0:
        err = r.stderr.strip().splitlines()
        detail = err[0].removeprefix("Error: ").lower() if err else f"nft exited {r.returncode}"
        code = errno.EEXIST if "file exists" in detail else errno.EPERM if "permitted" in detail else errno.EINVAL
        raise BoxkitError(op, f"ip {TABLE}", errno=code, detail=detail,
                          hint=("run as root or see boxkit probe" if code == errno.EPERM else
                                "see nft list table ip boxkit"))
    return r


# A marker file says "boxkit made the table": asking nft costs a process (~5 ms), a stat costs nothing.
# It is written *before* the table is created, so a crash in between leaves a marker and no table
# (harmless: delete_table ignores a missing table), never a table without a marker. Tables belong to a
# network namespace, so the marker's name holds the namespace's inode.
MARKER_DIR = "/run/boxkit"


def _marker() -> str:
    return os.path.join(MARKER_DIR, f"nft-table.{os.stat('/proc/thread-self/ns/net').st_ino}")


def table_exists() -> bool:
    return os.path.exists(_marker())


def ensure_table(force: bool = False) -> bool:
    """Create the table unless boxkit has; True when this call made it."""
    marker = _marker()
    if os.path.exists(marker) and not force:
        return False
    os.makedirs(MARKER_DIR, mode=0o755, exist_ok=True)
    with open(marker, "w") as f:
        f.write(TABLE + "\n")
    try:
        nft(f"create table ip {TABLE}\n" + _TABLE_DEF, "cannot create the nftables table")
        return True
    except BoxkitError as e:
        if e.errno == errno.EEXIST:
            return False
        with contextlib.suppress(OSError):
            os.unlink(marker)
        raise


def delete_table() -> None:
    marker = _marker()
    if not os.path.exists(marker):
        return
    try:
        nft(f"delete table ip {TABLE}\n", "cannot delete the nftables table")
    except BoxkitError as e:
        if "no such file" not in str(e):
            raise
    with contextlib.suppress(OSError):
        os.unlink(marker)


def apply(script: str, op: str = "cannot change the nftables table") -> None:
    """Run ``script`` against the table; if someone deleted the table behind our back, remake it once."""
    try:
        nft(script, op)
    except BoxkitError as e:
        if "no such file" not in str(e):
            raise
        ensure_table(force=True)
        nft(script, op)


def _q(ifname: str) -> str:
    if not re.fullmatch(r"[A-Za-z0-9_.-]{1,15}", ifname):
        raise SpecError("interface name", ifname, "unexpected characters")
    return f'"{ifname}"'


def add_bridges_script(bridges: list[str]) -> str:
    if not bridges:
        return ""
    b = ", ".join(_q(x) for x in bridges)
    s = ", ".join(f"{_q(x)} . {_q(x)}" for x in bridges)
    return f"add element ip {TABLE} bridges {{ {b} }}\nadd element ip {TABLE} same {{ {s} }}\n"


def del_bridge_script(bridge: str) -> str:
    return (f"delete element ip {TABLE} bridges {{ {_q(bridge)} }}\n"
            f"delete element ip {TABLE} same {{ {_q(bridge)} . {_q(bridge)} }}\n")


def ports_script(verb: str, address: str, specs: list[PortSpec]) -> str:
    """``create`` (fails when a key exists) or ``delete`` the map elements of one container."""
    if not specs:
        return ""
    if verb == "create":
        elems = ", ".join(f"{s.proto} . {s.host_port} : {address} . {s.container_port}" for s in specs)
    else:
        elems = ", ".join(f"{s.proto} . {s.host_port}" for s in specs)
    return f"{verb} element ip {TABLE} ports {{ {elems} }}\n"


def nat_script(verb: str, subnet: str) -> str:
    return f"{verb} element ip {TABLE} nat_nets {{ {subnet} }}\n"


def ip_forward() -> bool:
    try:
        with open("/proc/sys/net/ipv4/ip_forward") as f:
            return f.read().strip() == "1"
    except OSError:
        return False


def enable_ip_forward() -> None:
    """Turn on routing between interfaces (host-wide; it stays on, as with docker)."""
    with open("/proc/sys/net/ipv4/ip_forward", "w") as f:
        f.write("1")


def set_route_localnet(bridge: str) -> None:
    """Let DNATed 127.0.0.1 traffic leave through this bridge (see the module docstring)."""
    with open(f"/proc/sys/net/ipv4/conf/{bridge}/route_localnet", "w") as f:
        f.write("1")


def dnat_rule(chain: str = "prerouting") -> str:
    """The DNAT rule of ``chain`` as ``nft list chain`` prints it (empty without a table)."""
    r = subprocess.run([nft_path(), "list", "chain", "ip", TABLE, chain], capture_output=True, text=True,
                       timeout=20)
    return next((line.strip() for line in r.stdout.splitlines() if "dnat" in line), "")


def published() -> dict[tuple[str, int], tuple[str, int]]:
    """The live port map: ``{("tcp", 8080): ("10.213.0.2", 80)}`` (empty without a table)."""
    import json

    r = subprocess.run([nft_path(), "-j", "list", "map", "ip", TABLE, "ports"], capture_output=True,
                       text=True, timeout=20)
    if r.returncode != 0:
        return {}
    out: dict[tuple[str, int], tuple[str, int]] = {}
    for item in json.loads(r.stdout).get("nftables", []):
        for elem in (item.get("map") or {}).get("elem", []) or []:
            try:
                (proto, hport), (addr, cport) = elem[0]["concat"], elem[1]["concat"]
                out[(str(proto), int(hport))] = (str(addr), int(cport))
            except (KeyError, TypeError, ValueError, IndexError):
                continue
    return out
