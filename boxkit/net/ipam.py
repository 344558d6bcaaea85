"""Address management: networks, subnets and leases, kept in files and guarded by one lock.

A *network* here is what ``docker network create`` makes: a name, a subnet and a Linux bridge. The
kernel knows nothing about "networks"; it knows the bridge (a software switch, ``bk0``), the address
the host holds on it (the gateway, ``10.213.0.1/24``) and the route that address implies
(``10.213.0.0/24 dev bk0``). Which container owns which address is bookkeeping the kernel does not do:
we keep it in one JSON file per network::

    $BOXKIT_ROOT/net/networks/bridge.json
    {"name": "bridge", "bridge": "bk0", "subnet": "10.213.0.0/24", "nat": false, "auto_subnet": true,
     "leases": {"3fa2c1d09e": {"address": "10.213.0.2", "pid": 4242, "starttime": 918273, ...}}}

Three rules make it safe:

* **One lock.** Every change happens under ``flock`` on ``/run/boxkit/net.lock``. The lock is
  host-wide, not per ``$BOXKIT_ROOT``, because the objects it guards (bridges, routes, the firewall
  table) are host-wide too: a notebook and a test suite with different roots share one kernel.
  ``flock`` locks die with the process that held them, so a killed kernel never leaves the lock taken.
* **Leases name a process.** A lease records the container's PID *and* that process's start time (field
  22 of ``/proc/PID/stat``), because PIDs are reused; a lease whose process is gone is stale and is
  reclaimed by the next attach on that network or by :func:`boxkit.net.gc`.
* **Subnets must not clash.** A subnet that overlaps a route the host already has would make part of
  the host's network unreachable (the more specific route wins). Before a bridge comes up its subnet
  is checked against every route and address in the host's tables; an automatic subnet moves to the
  next free ``/24`` of :data:`POOL`, a subnet the user chose is refused with a sentence.

The pool is ``10.213.0.0/16``: private (RFC 1918), and not one of the ranges other runtimes on the same
host default to (docker ``172.17.0.0/16``, podman ``10.88.0.0/16`` and ``10.89.x.0/24``).

Nothing in this module touches the network; it is plain logic over files, tested without root.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import ipaddress
import json
import os
import re
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, field

from .. import files, paths, proc
from ..errors import BoxkitError, NotFoundError, SpecError
from . import DEFAULT_NETWORK  # one name for the default network: the package's (it imports nothing)

POOL = ipaddress.IPv4Network("10.213.0.0/16")
BLOCK = 24
LOCK_PATH = "/run/boxkit/net.lock"
IFNAMSIZ = 15  # IFNAMSIZ - 1 in linux/if.h: interface names are at most 15 bytes

_NET_NAME_RE = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,31}$")


# --- processes ----------------------------------------------------------------------------------

def proc_starttime(pid: int) -> int | None:
    """The start time of ``pid`` in clock ticks since boot, or None when the process is gone (or a
    zombie): the same reading the runtime's state files use (:mod:`boxkit.proc`)."""
    return proc.starttime(pid)


def process_alive(pid: int, starttime: int | None) -> bool:
    now = proc_starttime(pid)
    if now is None:
        return False
    if now == 0 or starttime is None:
        return True
    return now == starttime


# --- records ------------------------------------------------------------------------------------

@dataclass
class Lease:
    """One container's place on a network."""

    address: str
    pid: int
    starttime: int | None
    veth: str
    hostname: str
    name: str | None = None
    ports: list[list] = field(default_factory=list)   # [[proto, host_port, container_port], ...]

    def names(self, cid: str) -> list[str]:
        out: list[str] = []
        for n in (self.name, self.hostname, cid[:12]):
            if n and n not in out:
                out.append(n)
        return out


@dataclass
class Network:
    name: str
    bridge: str
    subnet: str
    nat: bool = False
    auto_subnet: bool = True
    leases: dict[str, Lease] = field(default_factory=dict)

    @property
    def net(self) -> ipaddress.IPv4Network:
        return ipaddress.IPv4Network(self.subnet)

    @property
    def gateway(self) -> str:
        return str(self.net.network_address + 1)

    @property
    def prefixlen(self) -> int:
        return self.net.prefixlen

    def to_json(self) -> dict:
        d = asdict(self)
        d["leases"] = {cid: asdict(lease) for cid, lease in self.leases.items()}
        return d

    @classmethod
    def from_json(cls, d: dict) -> Network:
        leases = {cid: Lease(**v) for cid, v in (d.get("leases") or {}).items()}
        return cls(name=d["name"], bridge=d["bridge"], subnet=d["subnet"], nat=bool(d.get("nat")),
                   auto_subnet=bool(d.get("auto_subnet", True)), leases=leases)

    def allocate(self) -> str:
        """The lowest free host address (the first one is the gateway)."""
        used = {lease.address for lease in self.leases.values()}
        gw = self.gateway
        for host in self.net.hosts():
            a = str(host)
            if a != gw and a not in used:
                return a
        raise BoxkitError("cannot allocate an address on network", self.name, errno=errno.ENOSPC,
                          detail=f"all {self.net.num_addresses - 3} addresses of {self.subnet} are leased",
                          hint="stop some containers or create a network with a larger --subnet")


# --- validation ---------------------------------------------------------------------------------

def check_network_name(name: str) -> str:
    if name in ("none", "host") or name.startswith("container:"):
        raise SpecError("network name", name, "none, host and container:NAME are modes, not networks")
    if not _NET_NAME_RE.match(name):
        raise SpecError("network name", name, "use lowercase letters, digits, '_', '.' and '-' (at most 32)")
    return name


def bridge_name(network: str, root: str | None = None) -> str:
    """The bridge's interface name: ``bk0`` for the default network of the default root, else a hash.

    Names must hold ``bk`` (the test suite's leak check looks for it) and fit in 15 bytes; a hash of
    the state root and the network name keeps two roots on one host (a notebook and a test run) from
    sharing a bridge whose leases only one of them knows.
    """
    root = root or paths.root()
    if network == DEFAULT_NETWORK and os.path.realpath(root) == os.path.realpath(paths.DEFAULT_ROOT):
        return "bk0"
    h = hashlib.sha1(f"{os.path.realpath(root)}\0{network}".encode()).hexdigest()
    return "bk" + h[:8]


def veth_name(cid: str) -> str:
    if not re.fullmatch(r"[0-9a-f]{4,64}", cid):
        raise SpecError("container id", cid, "expected lowercase hex")
    return "bkv" + cid[:8]


def parse_subnet(value: str) -> ipaddress.IPv4Network:
    try:
        net = ipaddress.IPv4Network(value, strict=True)
    except ValueError as e:
        raise SpecError("subnet", value, str(e).lower().rstrip("."),
                        hint="give an ipv4 network such as 10.213.5.0/24") from None
    if not 16 <= net.prefixlen <= 29:
        raise SpecError("subnet", value, "the prefix must be between /16 and /29")
    if not net.is_private or net.is_loopback or net.is_link_local or net.is_multicast:
        raise SpecError("subnet", value, "use a private range (10/8, 172.16/12 or 192.168/16)")
    return net


def clash(subnet: ipaddress.IPv4Network, taken: Iterable[ipaddress.IPv4Network]) -> ipaddress.IPv4Network | None:
    """The first of ``taken`` that overlaps ``subnet`` (the default route 0.0.0.0/0 does not count)."""
    for t in taken:
        if t.prefixlen and subnet.overlaps(t):
            return t
    return None


def pick_subnet(taken: Iterable[ipaddress.IPv4Network]) -> ipaddress.IPv4Network:
    taken = [t for t in taken if t.prefixlen]
    for cand in POOL.subnets(new_prefix=BLOCK):
        if clash(cand, taken) is None:
            return cand
    raise BoxkitError("cannot find a free subnet in", str(POOL), errno=errno.ENOSPC,
                      hint="remove unused networks or give --subnet")


# --- the store ----------------------------------------------------------------------------------

def net_dir() -> str:
    return os.path.join(paths.root(), "net", "networks")


def _path(name: str) -> str:
    return os.path.join(net_dir(), name + ".json")


@contextlib.contextmanager
def locked() -> Iterator[None]:
    """Hold the host-wide network lock (``flock`` dies with its holder: no stale locks)."""
    os.makedirs(os.path.dirname(LOCK_PATH), mode=0o755, exist_ok=True)
    with files.locked(LOCK_PATH):
        yield


def load(name: str) -> Network:
    try:
        with open(_path(name)) as f:
            return Network.from_json(json.load(f))
    except FileNotFoundError:
        raise NotFoundError("network", name, hint="see boxkit network ls, or create it with "
                            "boxkit network create " + name) from None
    except (ValueError, KeyError, TypeError) as e:
        raise BoxkitError("cannot read network state", _path(name), errno=errno.EINVAL,
                          detail=f"corrupt file ({e})".lower(), hint="remove the file and run boxkit gc") from None


def save(net: Network) -> None:
    """Write atomically (temp file + rename): a crash leaves the old or the new file, never half."""
    paths.ensure(net_dir(), 0o700)
    files.write_json(_path(net.name), net.to_json(), 0o600, indent=1, sort_keys=True)


def delete(name: str) -> None:
    with contextlib.suppress(FileNotFoundError):
        os.unlink(_path(name))


def names() -> list[str]:
    try:
        files = os.listdir(net_dir())
    except FileNotFoundError:
        return []
    return sorted(f[:-5] for f in files if f.endswith(".json") and not f.startswith("."))


def all_networks() -> list[Network]:
    out = []
    for n in names():
        with contextlib.suppress(BoxkitError):
            out.append(load(n))
    return out


def define(name: str, subnet: str | None = None, nat: bool = False,
           taken: Iterable[ipaddress.IPv4Network] = ()) -> Network:
    """Create a network definition (caller holds :func:`locked`). ``taken``: the host's routes."""
    check_network_name(name)
    if os.path.exists(_path(name)):
        raise BoxkitError("cannot create network", name, errno=errno.EEXIST, detail="it exists",
                          hint="pick another name or remove it with boxkit network rm " + name)
    taken = list(taken) + [n.net for n in all_networks()]
    if subnet is not None:
        net = parse_subnet(subnet)
        hit = clash(net, taken)
        if hit is not None:
            raise SpecError("subnet", subnet, f"it overlaps {hit}, which the host or another network uses",
                            hint="pick a subnet no route of `ip route` covers")
    else:
        net = pick_subnet(taken)
    nw = Network(name=name, bridge=bridge_name(name), subnet=str(net), nat=nat, auto_subnet=subnet is None)
    save(nw)
    return nw


def stale(net: Network, alive: set[str] | None = None) -> list[str]:
    """Lease ids whose process is gone (or, when ``alive`` is given, whose id is not in it)."""
    out = []
    for cid, lease in net.leases.items():
        if (alive is not None and cid not in alive) or not process_alive(lease.pid, lease.starttime):
            out.append(cid)
    return out
