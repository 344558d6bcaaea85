"""``boxkit network ls|create|rm|inspect``: thin verbs over :mod:`boxkit.net`.

A network is a definition (name, subnet, NAT on or off) kept under ``$BOXKIT_ROOT/net``; its bridge
exists in the kernel only while a container is attached, so ``ls`` shows whether it is up.
"""

from __future__ import annotations

import argparse
import json


def register(subparsers) -> None:
    p = subparsers.add_parser("network", help="list, create and remove container networks")
    sub = p.add_subparsers(dest="network_cmd", metavar="{ls,create,rm,inspect}")

    ls = sub.add_parser("ls", help="list networks")
    ls.add_argument("--json", action="store_true", help="print JSON")
    ls.set_defaults(func=cmd_ls)

    c = sub.add_parser("create", help="define a network (a bridge and a subnet)")
    c.add_argument("name")
    c.add_argument("--subnet", help="an IPv4 network such as 10.213.5.0/24 (default: the next free /24 "
                   "of 10.213.0.0/16)")
    c.add_argument("--nat", action="store_true",
                   help="let containers reach outside the host (masquerade; turns on net.ipv4.ip_forward)")
    c.set_defaults(func=cmd_create)

    r = sub.add_parser("rm", help="remove networks no running container uses")
    r.add_argument("names", nargs="+", metavar="name")
    r.set_defaults(func=cmd_rm)

    i = sub.add_parser("inspect", help="show a network's leases and published ports as JSON")
    i.add_argument("name")
    i.set_defaults(func=cmd_inspect)

    p.set_defaults(func=lambda a: (p.print_help(), 0)[1])


def cmd_ls(a: argparse.Namespace) -> int:
    # lazy: boxkit.net only for the network verbs, not at boxkit.cli's import
    from ..net import list_networks

    rows = list_networks()
    if getattr(a, "json", False):
        print(json.dumps(rows, indent=1))
        return 0
    cols = ("name", "bridge", "subnet", "gateway", "nat", "containers", "up")
    table = [[str(r[c]).lower() if isinstance(r[c], bool) else str(r[c]) for c in cols] for r in rows]
    widths = [max(len(c), *(len(row[i]) for row in table)) for i, c in enumerate(cols)]
    print("  ".join(c.upper().ljust(w) for c, w in zip(cols, widths, strict=True)).rstrip())
    for row in table:
        print("  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)).rstrip())
    return 0


def cmd_create(a: argparse.Namespace) -> int:
    # lazy: boxkit.net only for the network verbs
    from ..net import create_network

    n = create_network(a.name, subnet=a.subnet, nat=a.nat)
    print(f"{n.name} {n.subnet} bridge {n.bridge}" + (" nat" if n.nat else ""))
    return 0


def cmd_rm(a: argparse.Namespace) -> int:
    # lazy: boxkit.net only for the network verbs
    from ..net import remove_network

    for name in a.names:
        remove_network(name)
        print(name)
    return 0


def cmd_inspect(a: argparse.Namespace) -> int:
    # lazy: ipam costs ~10 ms; only the network verbs need it
    from ..net import ipam

    print(json.dumps(ipam.load(a.name).to_json(), indent=1, sort_keys=True))
    return 0
