"""``boxkit-runtime``: the OCI runtime command line (runc's verbs and global options).

Global options come before the verb: ``--root DIR`` (state directories, default
``/run/boxkit-runtime``), ``--log FILE`` and ``--log-format text|json`` (podman reads the log file as
one JSON object ``{"level", "time", "msg"}`` when a verb fails), ``--debug``, ``--systemd-cgroup``
(refused: boxkit writes cgroupfs directories itself). Errors are one sentence on stderr and in the log,
exit status 1 as runc's; bad input is never a traceback.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import json
import sys

from .. import __version__ as _version
from .. import _sys
from ..errors import BoxkitError, SpecError
from ..i18n import N_, from_environment, set_language
from . import bundle as bundlemod
from . import verbs
from .state import OCI_VERSION, Store


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):
        raise SpecError(N_("command line"), " ".join(sys.argv[1:]), message)


def _parser() -> argparse.ArgumentParser:
    p = _Parser(prog="boxkit-runtime", description="an OCI runtime on boxkit's engine")
    p.add_argument("--version", "-v", action="store_true")
    p.add_argument("--root", default=None)
    p.add_argument("--log", default=None)
    p.add_argument("--log-format", default="text", choices=["text", "json"])
    p.add_argument("--debug", action="store_true")
    p.add_argument("--systemd-cgroup", action="store_true")
    p.add_argument("--rootless", default=None)
    sub = p.add_subparsers(dest="verb")
    c = sub.add_parser("create")
    c.add_argument("--bundle", "-b", default=".")
    c.add_argument("--pid-file", default=None)
    c.add_argument("--console-socket", default=None)
    c.add_argument("--no-pivot", action="store_true")
    c.add_argument("--no-new-keyring", action="store_true")
    c.add_argument("--preserve-fds", type=int, default=0)
    c.add_argument("id")
    r = sub.add_parser("run")
    for a in c._actions[1:]:
        r._add_action(a)
    r.add_argument("--detach", "-d", action="store_true")
    for verb in ("start", "state"):
        sub.add_parser(verb).add_argument("id")
    k = sub.add_parser("kill")
    k.add_argument("--all", "-a", action="store_true")
    k.add_argument("id")
    k.add_argument("signal", nargs="?", default="SIGTERM")
    d = sub.add_parser("delete")
    d.add_argument("--force", "-f", action="store_true")
    d.add_argument("id")
    e = sub.add_parser("exec")
    e.add_argument("--process", "-p", default=None)
    e.add_argument("--detach", "-d", action="store_true")
    e.add_argument("--pid-file", default=None)
    e.add_argument("--tty", "-t", action="store_true")
    e.add_argument("--console-socket", default=None)
    e.add_argument("--cwd", default=None)
    e.add_argument("--env", "-e", action="append", default=[])
    e.add_argument("--user", "-u", default=None)
    e.add_argument("--cap", action="append", default=[])
    e.add_argument("--no-new-privs", action="store_true")
    e.add_argument("--preserve-fds", type=int, default=0)
    e.add_argument("id")
    e.add_argument("command", nargs=argparse.REMAINDER)
    sub.add_parser("features")
    sub.add_parser("list")
    return p


def _log(a, level: str, msg: str) -> None:
    if not a.log:
        return
    now = datetime.datetime.now(datetime.timezone.utc).isoformat().replace("+00:00", "Z")
    line = json.dumps({"level": level, "msg": msg, "time": now}) if a.log_format == "json" else \
        f'time="{now}" level={level} msg="{msg}"'
    try:
        with open(a.log, "a") as f:
            f.write(line + "\n")
    except OSError:
        pass


def _exec_process(a) -> dict:
    if a.process:
        with open(a.process) as f:
            try:
                proc = json.load(f)
            except ValueError as e:
                raise SpecError(N_("process file"), a.process, N_("not JSON: {error}"), params={"error": str(e)}) from None
        if not isinstance(proc, dict):
            raise SpecError(N_("process file"), a.process, N_("expected a JSON object"))
    else:
        if not a.command:
            raise SpecError("exec", "", N_("name a command or --process FILE"))
        proc = {"args": a.command, "cwd": a.cwd or "/", "terminal": a.tty,
                "env": a.env or ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"]}
        if a.user:
            u, _, g = a.user.partition(":")
            proc["user"] = {"uid": int(u), "gid": int(g or 0)}
    parsed = bundlemod._process(proc)
    return {"argv": parsed["argv"], "env": parsed["env"], "cwd": parsed["cwd"],
            "user": parsed["ids"] if parsed["ids"] != [0, 0] else None,
            "terminal": parsed["terminal"], "console_size": parsed["console_size"], "caps": parsed["cap_sets"]}


def features() -> dict:
    return {
        "ociVersionMin": "1.0.0", "ociVersionMax": OCI_VERSION,
        "hooks": list(bundlemod.HOOK_KINDS),
        "mountOptions": sorted(bundlemod.MOUNT_FLAGS),
        "linux": {
            "namespaces": sorted(bundlemod.NAMESPACES),
            "capabilities": sorted(_sys.CAPABILITIES),
            "cgroup": {"v1": True, "v2": True, "systemd": False, "systemdUser": False},
            "seccomp": {"enabled": True},
            "apparmor": {"enabled": False}, "selinux": {"enabled": False},
        },
        "annotations": {"org.opencontainers.runc.version": _version},
    }


def run(argv: list[str]) -> int:
    a = _parser().parse_args(argv)
    if a.version:
        print(f"boxkit-runtime version {_version}\nspec: {OCI_VERSION}")
        return 0
    if a.systemd_cgroup:
        raise SpecError(N_("option --systemd-cgroup"), "", N_("boxkit-runtime manages cgroupfs directories itself"),
                        hint=N_("set cgroup_manager = \"cgroupfs\" in containers.conf"))
    store = Store(a.root)
    if a.verb is None:
        raise SpecError(N_("command line"), "", N_("name a verb: create, start, state, kill, delete, exec, features"))
    if a.verb in ("create", "run"):
        verbs.create(store, a.id, a.bundle, a.pid_file, a.console_socket, a.no_pivot, a.preserve_fds)
        if a.verb == "run":
            verbs.start(store, a.id)
        return 0
    if a.verb == "start":
        verbs.start(store, a.id)
    elif a.verb == "state":
        print(json.dumps(store.spec_state(a.id, store.read(a.id)), indent=2))
    elif a.verb == "kill":
        verbs.kill(store, a.id, bundlemod.parse_signal(a.signal), a.all)
    elif a.verb == "delete":
        verbs.delete(store, a.id, a.force)
    elif a.verb == "exec":
        return verbs.exec_(store, a.id, _exec_process(a), a.detach, a.pid_file, a.console_socket)
    elif a.verb == "features":
        print(json.dumps(features(), indent=2))
    elif a.verb == "list":
        for cid in store.ids():
            try:
                print(cid, store.status(cid, store.read(cid)))
            except BoxkitError:
                pass
    return 0


def main(argv: list[str] | None = None) -> int:
    """The ``boxkit-runtime`` command. Called as the command (``argv`` None), it speaks the locale's
    language, as every gettext program (no catalogue for it: English); called with a list, the caller's."""
    if argv is None:
        with contextlib.suppress(ValueError):
            set_language(from_environment())
    argv = sys.argv[1:] if argv is None else argv
    a = argparse.Namespace(log=None, log_format="text")
    for i, arg in enumerate(argv):   # the log options, for errors the parser itself reports
        if arg == "--log" and i + 1 < len(argv):
            a.log = argv[i + 1]
        elif arg.startswith("--log="):
            a.log = arg.split("=", 1)[1]
        elif arg == "--log-format" and i + 1 < len(argv):
            a.log_format = argv[i + 1]
        elif arg.startswith("--log-format="):
            a.log_format = arg.split("=", 1)[1]
    try:
        code = run(argv)
    except BoxkitError as e:
        msg = str(e)
        _log(a, "error", msg)
        print(f"boxkit-runtime: {msg}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    if a.log_format != "json":   # podman parses a json log as one object: the error alone goes there
        for w in verbs._log_warning:
            _log(a, "warning", w)
    return code


if __name__ == "__main__":
    sys.exit(main())
