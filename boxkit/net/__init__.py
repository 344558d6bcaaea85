"""Container networking: a bridge per network, a veth pair per container, names, published ports.

A container started with ``network="none"`` has a network namespace of its own, holding only ``lo``:
it can reach nothing. ``network="bridge"`` (the course's default) connects it the way docker does:

* every network is a Linux **bridge** (``bk0`` for the default network), a switch inside the kernel,
  with the host holding the subnet's first address (the gateway, e.g. ``10.213.0.1/24``);
* every container gets a **veth pair**, a virtual cable: one end (``bkv<id>``) is a port of the
  bridge on the host, the other end is ``eth0`` inside the container's namespace, with an address from
  the subnet and a default route via the gateway (:mod:`boxkit.net.links`);
* addresses are **leased** in a file under ``$BOXKIT_ROOT/net`` with a host-wide lock, so concurrent
  starts never get the same address and a killed kernel's leases are reclaimed (:mod:`boxkit.net.ipam`);
* names resolve through ``/etc/hosts``, which boxkit writes and keeps current in every container of a
  network (:mod:`boxkit.net.hosts`);
* ``-p 8080:80`` is destination NAT in an nftables table, outbound NAT is opt-in per network and
  networks are isolated from each other (:mod:`boxkit.net.firewall`).

The other modes need no code here: ``host`` shares the host's namespace, ``none`` is an empty one,
``container:NAME`` joins another container's namespace (``setns``), as the containers of a pod do.

The runtime calls::

    att = boxkit.net.attach(cid, pid, "bridge", name="web", hostname="web", publish=["8080:80"])
    ... write att.hosts to /etc/hosts and att.resolv_conf to /etc/resolv.conf, run the command ...
    att.release()           # after the container exited; may run in a background thread
    # or: att.release(defer=True) keeps an idle bridge for the next container, and
    # boxkit.net.reap() removes idle bridges when the caller has nothing else to do
    boxkit.net.gc(alive)    # after a crash: reclaim what containers not in ``alive`` held

Importing this package is cheap: pyroute2 (about 130 ms to import) is loaded only by :func:`attach`
and the functions that talk to the kernel.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .endpoint import Attachment

__all__ = ["attach", "gc", "reap", "Attachment", "create_network", "remove_network", "list_networks",
           "parse_publish", "DEFAULT_NETWORK"]

DEFAULT_NETWORK = "bridge"   # docker's name; ipam and endpoint read it from here


def attach(cid: str, pid: int, network: str, name: str | None, hostname: str,
           publish: list[str] | None = None, lo_up: bool = True) -> Attachment:
    """Connect the network namespace of process ``pid`` to ``network``; see :mod:`boxkit.net.endpoint`.
    ``lo_up=False`` when the caller brings ``lo`` up itself (the runtime's container does)."""
    # lazy: endpoint loads ipam and firewall; `import boxkit.net` (the supervisor) stays cheap until a network is used
    from .endpoint import attach as _attach

    return _attach(cid, pid, network, name, hostname, publish, lo_up=lo_up)


def gc(alive: set[str]) -> list[str]:
    """Reclaim leases, veths, ports and idle bridges of containers not in ``alive``; return their ids."""
    # lazy: as attach, endpoint only when used
    from .endpoint import gc as _gc

    return _gc(alive)


def reap() -> list[str]:
    """Remove idle bridges left up by ``Attachment.release(defer=True)``; call it when idle."""
    # lazy: as attach, endpoint only when used
    from .endpoint import reap as _reap

    return _reap()


def create_network(name: str, subnet: str | None = None, nat: bool = False):
    # lazy: as attach, endpoint only when used
    from .endpoint import create_network as _create

    return _create(name, subnet=subnet, nat=nat)


def remove_network(name: str) -> None:
    # lazy: as attach, endpoint only when used
    from .endpoint import remove_network as _remove

    _remove(name)


def list_networks() -> list[dict]:
    # lazy: as attach, endpoint only when used
    from .endpoint import list_networks as _ls

    return _ls()


def parse_publish(values):
    """Validate ``-p`` values before anything is started (raises SpecError)."""
    # lazy: firewall (~7 ms) only when a port is published
    from .firewall import parse_publish as _parse

    return _parse(values)


def __getattr__(name: str):
    if name == "Attachment":
        # lazy: as attach, endpoint only when used
        from .endpoint import Attachment

        return Attachment
    raise AttributeError(name)
