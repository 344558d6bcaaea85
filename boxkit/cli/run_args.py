"""``boxkit run``'s flags (docker run's) and the :class:`~boxkit.spec.ContainerSpec` they make.

The command line and the library meet here: every flag becomes one argument of
:meth:`ContainerSpec.create <boxkit.spec.ContainerSpec.create>`, which checks the values and says what
is wrong in a sentence (exit status 125), so ``boxkit run`` and ``boxkit.run()`` accept the same things.
"""

from __future__ import annotations

import argparse

from ..spec import ContainerSpec

# docker stop's grace period, also what a foreground `run` gives a container after passing it SIGTERM
STOP_TIMEOUT = 10


def _seconds(text: str) -> int:
    """A whole number of seconds, 0 or more (argparse's error is exit status 2, which boxkit makes 125)."""
    try:
        n = int(text)
    except ValueError:
        n = -1
    if n < 0:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number of seconds (0 or more)")
    return n


def add_run(sub, func) -> None:
    p = sub.add_parser("run", help="run a command in a new container",
                       description="Run a command in a new container (docker run's flags).",
                       add_help=False)
    p.add_argument("--help", action="help", help="show this help and exit")
    p.add_argument("--rm", action="store_true", help="remove the container when it ends (else kept, stopped)")
    p.add_argument("-d", "--detach", action="store_true", help="run in the background; print its id")
    p.add_argument("-i", "--interactive", action="store_true", help="pass stdin to the container")
    p.add_argument("-t", "--tty", action="store_true", help="give the container a pseudo-terminal")
    p.add_argument("--init", action="store_true", help="run a reaper as PID 1 that forwards signals")
    p.add_argument("--stop-timeout", type=_seconds, default=STOP_TIMEOUT, metavar="SECONDS",
                   help="in the foreground: SIGKILL the container this long after a SIGTERM it ignores "
                        f"(docker's default: {STOP_TIMEOUT})")
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
    p.set_defaults(func=func)


def spec_from_args(a) -> ContainerSpec:
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
