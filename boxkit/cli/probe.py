"""``boxkit probe [--json]``: what this host allows, before a class starts.

An instructor runs it on a hub, a VM or a laptop to learn whether the course will run live, partly
live (rootless, through user namespaces) or from RECORDED runs, and why. The checks themselves live in
:mod:`boxkit.probe`; this module only adds the verb to the CLI.
"""

from __future__ import annotations

import argparse


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("probe", help="show what this host allows (live, rootless or recorded)",
                              description="Try each kernel feature the course needs and say what runs live.")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.set_defaults(func=cmd_probe)


def cmd_probe(a: argparse.Namespace) -> int:
    # lazy: the probe's modules cost ~25 ms; only boxkit probe needs them
    from ..probe import probe

    report = probe()
    print(report.to_json() if a.json else report.text())
    return 0
