"""``boxkit ...``: docker's habits over the library, so a learner's muscle memory works.

    boxkit run [--rm] [--init] [--name N] [--hostname H] [-e K=V] [-w DIR] [-u UID[:GID]] [--read-only]
               [-v HOST:CTR[:ro]] [--network none] [--memory 500M] [--cpus 0.5] ... IMAGE [CMD...]
    boxkit probe [--json]
    boxkit gc

Exit status, as docker's: the container's own; 125 when boxkit itself fails; 126 when the command
cannot be executed; 127 when it is not found. Every failure is one sentence on stderr, never a
traceback. The CLI is one single-threaded process, so it supervises its container in-process (no
zygote) and forwards SIGINT, SIGTERM and SIGHUP to it, as ``docker run`` does.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import signal
import sys

from .cli_parser import Parser, normalize
from .errors import BoxkitError

# subpackages add their verbs with register(subparsers); a missing one just means fewer verbs
_EXTENSIONS = ("boxkit.probe_cli", "boxkit.images.commands", "boxkit.net.commands",
               "boxkit.cgroups.commands")


def _add_run(sub) -> None:
    p = sub.add_parser("run", help="run a command in a new container",
                       description="Run a command in a new container (docker run's flags).",
                       add_help=False)
    p.add_argument("--help", action="help", help="show this help and exit")
    p.add_argument("--rm", action="store_true",
                   help="accepted for docker's habit: a CLI container is always removed when it ends")
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
    from .runtime import rootless, state
    from .runtime.container import build_plan
    from .runtime.supervisor import Supervisor

    spec = spec_from_args(a)
    rootless.require()   # root, or a user namespace of our own (boxkit probe says which)
    if spec.name and state.find_by_name(spec.name):
        from .errors import SpecError

        raise SpecError("container name", spec.name, "already in use by a running container")
    plan = build_plan(spec)
    sup = Supervisor()
    pending: list[int] = []

    def forward(signum, _frame):
        if plan["id"] in sup.containers:
            sup.kill(plan["id"], signum)
        else:
            pending.append(signum)

    for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(s, forward)
    try:
        sup.start(plan, [0, 1, 2])
        for s in pending:
            sup.kill(plan["id"], s)
        while True:
            done = sup.reap(block=True)
            for cid, what, _pid, info in done:
                if cid == plan["id"] and what == "init":
                    if info.get("oom_killed"):
                        print(f"boxkit: container {cid} was killed by the kernel's OOM killer "
                              f"(memory limit {a.memory})", file=sys.stderr)
                    return int(info["exit_code"])
            if not done and plan["id"] not in sup.containers:
                return 125
    finally:
        sup.shutdown()


def cmd_gc(a) -> int:
    from . import gc

    lines = gc(verbose=True)
    for line in lines:
        print(line)
    if not lines:
        print("nothing to collect")
    return 0


def cmd_ps(a) -> int:
    from .runtime import state

    rows = []
    for cid in state.list_ids():
        st = state.read(cid)
        if not st:
            continue
        up = state.owner_alive(st) and state.alive(st["pid"], st.get("starttime"))
        if up or a.all:
            rows.append((cid, st.get("name") or "", st.get("image") or "", " ".join(st.get("argv", []))[:30],
                         "running" if up else "exited", str(st["pid"])))
    if a.json:
        print(json.dumps([dict(zip(("id", "name", "image", "command", "status", "pid"), r, strict=False)) for r in rows]))
        return 0
    fmt = "{:<13} {:<16} {:<14} {:<31} {:<8} {}"
    print(fmt.format("CONTAINER ID", "NAME", "IMAGE", "COMMAND", "STATUS", "PID"))
    for r in rows:
        print(fmt.format(*r))
    return 0


def parser() -> argparse.ArgumentParser:
    ap = Parser(prog="boxkit", description="Real Linux containers for learning.")
    sub = ap.add_subparsers(dest="verb", metavar="COMMAND")
    _add_run(sub)
    g = sub.add_parser("gc", help="remove what killed kernels left behind")
    g.set_defaults(func=cmd_gc)
    ps = sub.add_parser("ps", help="list containers started by running notebooks or scripts")
    ps.add_argument("-a", "--all", action="store_true")
    ps.add_argument("--json", action="store_true")
    ps.set_defaults(func=cmd_ps)
    for mod in _EXTENSIONS:
        try:
            m = importlib.import_module(mod)
        except ImportError:
            continue
        if hasattr(m, "register"):
            m.register(sub)
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
