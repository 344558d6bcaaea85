"""``boxkit ...``: docker's habits over the library, so a learner's muscle memory works.

    boxkit run [-d] [-i] [-t] [--rm] [--init] [--name N] [--hostname H] [-e K=V] [-w DIR] [-u UID[:GID]] [--read-only]
               [-v HOST:CTR[:ro]] [--network none] [--memory 500M] [--cpus 0.5] ... IMAGE [CMD...]
    boxkit ps [-a] | exec [-it] C CMD | logs [-f] C | stop | kill | rm | start | wait | inspect | top
    boxkit probe [--json]
    boxkit gc

Exit status, as docker's: the container's own; 125 when boxkit itself fails; 126 when the command
cannot be executed; 127 when it is not found. Every failure is one sentence on stderr, never a
traceback. ``run`` forks a keeper per container (:mod:`boxkit.runtime.keeper`), which holds it while
the command is attached and after it detached; the command forwards SIGINT, SIGTERM and SIGHUP to
it, as ``docker run`` does. The container verbs live in :mod:`boxkit.cli_containers`.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys

from .cli_parser import Parser, normalize
from .errors import BoxkitError

# subpackages add their verbs with register(subparsers); a missing one just means fewer verbs
_EXTENSIONS = ("boxkit.cli_containers", "boxkit.probe_cli", "boxkit.images.commands", "boxkit.net.commands",
               "boxkit.cgroups.commands")


def _add_run(sub) -> None:
    p = sub.add_parser("run", help="run a command in a new container",
                       description="Run a command in a new container (docker run's flags).",
                       add_help=False)
    p.add_argument("--help", action="help", help="show this help and exit")
    p.add_argument("--rm", action="store_true", help="remove the container when it ends (else kept, stopped)")
    p.add_argument("-d", "--detach", action="store_true", help="run in the background; print its id")
    p.add_argument("-i", "--interactive", action="store_true", help="pass stdin to the container")
    p.add_argument("-t", "--tty", action="store_true", help="give the container a pseudo-terminal")
    p.add_argument("--init", action="store_true", help="run a reaper as PID 1 that forwards signals")
    p.add_argument("--name")
    p.add_argument("--hostname", "-h", dest="hostname")
    p.add_argument("-e", "--env", action="append", default=[], metavar="K=V")
    p.add_argument("-w", "--workdir", metavar="DIR")
    p.add_argument("-u", "--user", metavar="UID[:GID]")
    p.add_argument("--read-only", action="store_true")
    p.add_argument("-v", "--volume", action="append", default=[], metavar="HOST:CTR[:ro]")
    p.add_argument("--network", "--net", default="none")
    p.add_argument("-p", "--publish", action="append", default=[], metavar="HOST:CTR[/tcp|udp]")
    p.add_argument("--userns", action="store_true", help="root inside is uid 100000 outside")
    p.add_argument("--time-offset", type=float, default=0.0, metavar="SECONDS",
                   help="a time namespace whose boot clock is shifted")
    p.add_argument("--rootfs", action="store_true", help="IMAGE is a root directory, not an image name")
    p.add_argument("--memory", "-m")
    p.add_argument("--memory-reservation", dest="memory_high")
    p.add_argument("--memory-swap")
    p.add_argument("--cpus")
    p.add_argument("--cpu-shares", "-c")
    p.add_argument("--pids-limit")
    p.add_argument("--cpuset-cpus")
    p.add_argument("--cap-add", action="append", default=[], metavar="CAP")
    p.add_argument("--cap-drop", action="append", default=[], metavar="CAP")
    p.add_argument("--security-opt", action="append", default=[],
                   metavar="seccomp=unconfined|PROFILE.json|no-new-privileges[=false]")
    p.add_argument("--privileged", action="store_true",
                   help="all capabilities, no seccomp, all host devices, /sys and /proc writable")
    p.add_argument("image")
    p.add_argument("command", nargs=argparse.REMAINDER)
    p.set_defaults(func=cmd_run)


def spec_from_args(a) -> object:
    from .spec import ContainerSpec

    argv = list(a.command)
    if argv and argv[0] == "--":
        argv = argv[1:]
    return ContainerSpec.create(
        None if a.rootfs else a.image, argv, rootfs=a.image if a.rootfs else None, env=a.env,
        cwd=a.workdir, user=a.user, hostname=a.hostname, name=a.name, userns=a.userns,
        time_offset=a.time_offset, readonly=a.read_only, volumes=a.volume, init=a.init,
        network=a.network, publish=a.publish, memory=a.memory, memory_high=a.memory_high,
        memory_swap=a.memory_swap, cpus=a.cpus, cpu_shares=a.cpu_shares, pids_limit=a.pids_limit,
        cpuset_cpus=a.cpuset_cpus, cap_add=a.cap_add, cap_drop=a.cap_drop,
        security_opt=a.security_opt, privileged=a.privileged)


def cmd_run(a) -> int:
    from .cli_containers import cmd_run as run  # the foreground, -d, -i, -t: boxkit/cli_containers.py

    return run(a)


def cmd_gc(a) -> int:
    from . import gc

    lines = gc(verbose=True)
    for line in lines:
        print(line)
    if not lines:
        print("nothing to collect")
    return 0


def parser() -> argparse.ArgumentParser:
    ap = Parser(prog="boxkit", description="Real Linux containers for learning.")
    sub = ap.add_subparsers(dest="verb", metavar="COMMAND")
    _add_run(sub)
    g = sub.add_parser("gc", help="remove what killed kernels left behind")
    g.set_defaults(func=cmd_gc)
    # no guard: a verb module that fails to import is a bug to see, not a verb to drop silently
    for mod in _EXTENSIONS:
        importlib.import_module(mod).register(sub)
    return ap


def main(argv: list[str] | None = None) -> int:
    try:
        from .errors import check_linux

        check_linux()
        ap = parser()
        a = ap.parse_args(normalize(ap, argv))
        if not getattr(a, "func", None):
            ap.print_help()
            return 0
        return int(a.func(a) or 0)
    except BoxkitError as e:
        print(f"boxkit: {e}", file=sys.stderr)
        return getattr(e, "exit_code", 125)
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return 0
    except OSError as e:  # an unexpected system error still gets one sentence
        where = f" {e.filename}" if e.filename else ""
        print(f"boxkit: {(e.strerror or str(e)).lower()}{where} — see boxkit probe", file=sys.stderr)
        return 125


if __name__ == "__main__":
    if os.environ.get("BOXKIT_DEBUG"):
        raise SystemExit(main())
    sys.exit(main())
