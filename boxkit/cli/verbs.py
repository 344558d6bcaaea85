"""Every verb of ``boxkit``, one module per group, registered on one argparse parser.

``run`` and the container verbs (:mod:`.containers`, :mod:`.exec`), ``probe`` (:mod:`.probe`), the image
verbs (:mod:`.images`), the network verbs (:mod:`.net`), ``stats`` (:mod:`.cgroups`) and ``gc``. Each
module imports the library it drives inside its verbs, so that building the parser (on every command,
once per warm helper) loads no more than argparse.
"""

from __future__ import annotations

import argparse

from ..i18n import _
from . import cgroups, containers, images, net, probe, run_args
from .arguments import Parser


def cmd_gc(a) -> int:
    # lazy: the collector loads cgroups, net and podman (~35 ms); only gc needs it
    from ..collect import gc

    lines = gc()
    for line in lines:
        print(line)
    if not lines:
        print(_("nothing to collect"))
    return 0


def parser() -> argparse.ArgumentParser:
    ap = Parser(prog="boxkit", description="Real Linux containers for learning.")
    sub = ap.add_subparsers(dest="verb", metavar="COMMAND")
    run_args.add_run(sub, containers.cmd_run)
    g = sub.add_parser("gc", help="remove what killed kernels left behind")
    g.set_defaults(func=cmd_gc)
    for group in (containers, probe, images, net, cgroups):
        group.register(sub)
    return ap
