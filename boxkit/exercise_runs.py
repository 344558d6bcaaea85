"""The measuring half of the course's exercises: the runs that start real containers.

Each ``measure_*`` function sets up one exercise's experiment on this kernel and returns what it saw
as plain data (JSON-able: lists, dicts, numbers), which :mod:`boxkit.exercises` hands to its pure
``judge_*`` functions together with the learner's answer. The same data, measured on a live host by
:func:`record_measurements` (``tools/record.py``), is stored in the course recording, so a host that
cannot start containers (recorded mode) judges a learner's answer against a real run. Everything a run
starts, it removes, even when it fails.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterable

from . import examples, nsinfo
from .build import build_file
from .errors import BoxkitError, NotFoundError
from .i18n import _
from .images import resolve
from .images.upper import classify, in_layers, scan_upper
from .runtime import run
from .spec import parse_size


def _end(c) -> None:
    """Kill, reap and remove a container; never raises (a checker's clean-up must not hide its answer)."""
    try:
        if c.running:
            c.kill()
            c.wait(10)
    except BoxkitError:
        pass
    finally:
        c.remove()


RUN_NAMES = ("mount", "pid", "net", "uts", "ipc", "user", "cgroup", "time")


EXERCISE_HOSTNAME = "exercise"


def measure_namespaces(namespaces: Iterable[str], *, image: str = "busybox") -> dict:
    """Start ``image`` with ``namespaces``: ``{"own": [...], "sees_host_processes", "own_hostname"}``,
    or ``{"refused": "<why>"}`` when boxkit refuses the request."""
    try:
        c = run(image, ["sleep", "60"], detach=True, namespaces=list(namespaces),
                       hostname=EXERCISE_HOSTNAME)
    except BoxkitError as e:
        return {"refused": str(e)}
    try:
        own = sorted(row.type for row in nsinfo.compare(c.pid) if row.isolated)
        # this kernel's PID is a host PID: it is under /proc inside only if the PID namespace is shared
        probe = c.exec(["sh", "-c", f"hostname; test -d /proc/{os.getpid()} && echo host-pids"]).stdout.split()
    finally:
        _end(c)
    return {"own": own, "sees_host_processes": "host-pids" in probe,
            "own_hostname": bool(probe) and probe[0] == EXERCISE_HOSTNAME}


CHARGE_LIMIT = "48M"


CHARGE_MIB = 100


# each program puts 100 MiB somewhere; (image, argv)
CHARGE_PROGRAMS = {
    "heap": ("host", ["python3", "-c", f"x = b'x' * ({CHARGE_MIB} << 20)"]),
    "file": ("busybox", ["dd", "if=/dev/zero", "of=/tmp/big", "bs=1M", f"count={CHARGE_MIB}"]),
    "shm": ("busybox", ["dd", "if=/dev/zero", "of=/dev/shm/big", "bs=1M", f"count={CHARGE_MIB}"]),
}


def measure_memory_charge(memory: str = CHARGE_LIMIT) -> dict[str, dict]:
    """Run each of CHARGE_PROGRAMS under ``memory``: program → exit code, OOM-killed, peak bytes."""

    out = {}
    for name, (image, argv) in CHARGE_PROGRAMS.items():
        c = run(image, argv, detach=True, memory=memory)
        try:
            r = c.wait(60)
        finally:
            _end(c)
        out[name] = {"exit_code": r.exit_code, "oom_killed": r.oom_killed, "peak": r.stats.get("memory_peak") or 0}
    return out


def measure_upper(command: str, *, image: str = "busybox") -> dict:
    """Run ``command`` (a shell line) in a container of ``image``: ``{"found": path → kind}`` as the
    upper dir shows it, or ``{"failed": "<why>", "exit_code": N, "said": "<its first line of stderr>"}``
    (the sentence in English, as a recording keeps it; :mod:`boxkit.exercises` says it from the fields
    in the learner's language)."""
    layers = resolve(image).layers
    c = run(image, ["sleep", "60"], detach=True)
    try:
        before = scan_upper(c.upper_dir)   # boxkit's own files (/etc/hosts, /etc/hostname) are already here
        r = c.exec(["sh", "-c", command])
        after = scan_upper(c.upper_dir)
    finally:
        _end(c)
    if r.exit_code != 0:
        first = (r.stderr.strip().splitlines() or [""])[0]
        failed = f"the command failed in the container (exit {r.exit_code})" + (f": {first}" if first else "")
        return {"failed": failed, "exit_code": r.exit_code, "said": first}
    return {"found": classify(before, after, in_layers(layers))}


UPPER_COMMANDS = ("rm /bin/ls; echo admin >> /etc/passwd; echo hi > /tmp/note",   # the exercise's
                  "rm -r /home; mkdir /home; touch /home/me")                      # its "try next"


PLACES = ("a", "b", "c", "host", "outside")     # who pings (and who can be pinged)


SECOND_NETWORK = "exercise"


NETWORK_OF = {"a": "bridge", "b": "bridge", "c": SECOND_NETWORK}


# targets only: the host's address on a network (that network's gateway), whichever network the source is on
GATEWAYS = tuple(f"host@{n}" for n in dict.fromkeys(NETWORK_OF.values()))


TARGETS = PLACES + GATEWAYS


ALL_PAIRS = [(s, d) for s in PLACES for d in TARGETS if s != d and not (s == "host" and d in GATEWAYS)]


OUTSIDE_IFNAME = "exoutside0"   # the host's end of the exercise's outside (the notebook's is outside0)


def measure_reachability(pairs: Iterable[tuple[str, str]], *, image: str = "busybox") -> dict[tuple[str, str], bool]:
    """Containers ``a`` and ``b`` on the network ``bridge``, ``c`` on a second network (no ``--nat``),
    and, where a pair names it, ``outside``: a network namespace behind a veth pair
    (:class:`boxkit.net.measure.Outside`). Ping every pair once (one second to answer). ``"host"`` as a
    target is the host's address on the source's own link (a container's gateway); ``"host@NET"`` is
    the host's address on network NET, whichever network the source is on."""
    import boxkit.net as bn

    from .net.measure import Outside

    pairs = list(pairs)
    made = SECOND_NETWORK not in {n["name"] for n in bn.list_networks()}
    if made:
        bn.create_network(SECOND_NETWORK)
    started: dict[str, object] = {}
    outside = None
    measured = {}
    try:
        if any("outside" in p for p in pairs):
            outside = Outside(ifname=OUTSIDE_IFNAME).start()
        for name, net in NETWORK_OF.items():
            started[name] = run(image, ["sleep", "60"], detach=True, network=net)
        addr = {n: c.exec(["sh", "-c", "ip -4 -o addr show eth0 | awk '{print $4}' | cut -d/ -f1"]).stdout.strip()
                for n, c in started.items()}
        gateway = {n: c.exec(["sh", "-c", "ip route | awk '/^default/{print $3}'"]).stdout.strip()
                   for n, c in started.items()}
        on_net = {f"host@{net}": gateway[name] for name, net in NETWORK_OF.items()}

        def address(src: str, dst: str) -> str:
            if dst == "outside":
                return outside.address
            if dst == "host":
                return outside.host_address if src == "outside" else gateway[src]
            return on_net[dst] if dst in on_net else addr[dst]

        for src, dst in pairs:
            argv = ["ping", "-c", "1", "-W", "1", address(src, dst)]
            if src == "host":
                ok = subprocess.run(["busybox", *argv], capture_output=True, timeout=10).returncode == 0
            elif src == "outside":
                ok = outside.ping_from(argv[-1])
            else:
                ok = started[src].exec(argv).exit_code == 0
            measured[(src, dst)] = ok
    finally:
        for c in started.values():
            _end(c)
        if outside is not None:
            outside.close()
        if made:
            _remove_network(SECOND_NETWORK)
    return measured


def _remove_network(name: str, wait: float = 10) -> None:
    """The runtime releases a container's lease after it exited, off the caller's path: retry a moment."""
    import boxkit.net as bn

    deadline = time.monotonic() + wait
    while True:
        try:
            bn.remove_network(name)
            return
        except BoxkitError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


ORDER_BYTES = 32 << 10   # what boxkit/examples/shop/app.py keeps per order


SHOP_IMAGE = "shop:1.0"


MAX_ORDERS = 3000        # ~94 MiB of orders, ~4 s on 2 cores


def _shop_image() -> str:
    try:
        resolve(SHOP_IMAGE)
    except NotFoundError:
        ctx = examples.path("shop")
        # quiet: the checker prints its one verdict line, not the build steps of a first run
        build_file(os.path.join(ctx, "Boxfile"), SHOP_IMAGE, ctx, log=None)
    return SHOP_IMAGE


SHOP_MEMORY = "30M"   # the exercise's limit (and the one recorded)


def measure_shop(memory: str, *, port: int = 18089) -> dict:
    """Run the shop under ``memory`` and send orders one by one until it dies, or has taken more orders
    than the limit could hold (at most MAX_ORDERS): served, oom_killed, survived; or refused."""
    limit = parse_size(memory)
    # no more orders than the limit could ever hold, and never more than a few seconds' worth
    cap = MAX_ORDERS if limit is None else min(limit // ORDER_BYTES + 100, MAX_ORDERS)
    url = f"http://127.0.0.1:{port}/"
    try:
        c = run(_shop_image(), detach=True, network="bridge", publish=[f"{port}:8000"], memory=memory)
    except BoxkitError as e:
        return {"refused": str(e)}
    served = 0
    try:
        group = c.cgroup
        deadline = time.monotonic() + 15   # python needs a moment before it listens
        up = False
        while not up and time.monotonic() < deadline:
            up = _get(url, 1)
            if not up:
                if group is not None and group.oom_killed():   # killed while starting: stop waiting
                    break
                time.sleep(0.05)
        served = int(up)
        while up and served < cap and _get(url, 5):
            served += 1
        survived = up and served >= cap
        oom = False if survived else c.wait(10).oom_killed
    finally:
        _end(c)
    return {"served": served, "oom_killed": oom, "survived": survived}


def _get(url: str, timeout: float) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            r.read()
        return True
    except Exception:   # refused, reset, cut short: the shop is not answering
        return False


# notebook 06: each action as a shell command in the ``host`` image ({py}: the host's python; {major}
# and {minor}: the host's disk); exit 0: root in the container could do it
ROOT_ACTIONS = {
    "chown a file": "touch /tmp/f && chown 1234:1234 /tmp/f",
    "listen on port 80": "{py} -c \"import socket; socket.socket().bind(('0.0.0.0', 80))\"",
    # attach to a sleep started by the same shell (PTRACE_ATTACH 16), wait for it to stop, detach (17)
    "ptrace a sibling process": (
        "sleep 30 & s=$!; {py} -c \"import ctypes, os, sys; libc = ctypes.CDLL(None, use_errno=True); "
        "pid = int(sys.argv[1]); ok = libc.ptrace(16, pid, 0, 0) == 0; ok and os.waitpid(pid, 0); "
        "ok and libc.ptrace(17, pid, 0, 0); sys.exit(0 if ok else os.strerror(ctypes.get_errno()))\" $s; "
        "r=$?; kill $s; exit $r"),
    "change the hostname": "hostname other-name",
    # to the time it already is (a few microseconds back at most, where it is allowed)
    "set the clock": "{py} -c \"import time; c = time.CLOCK_REALTIME; time.clock_settime(c, time.clock_gettime(c))\"",
    # finit_module (x86_64 313, aarch64 273) of /dev/null: the kernel checks CAP_SYS_MODULE before it
    # reads the module, so EPERM is a refusal and any other error (not a module) means it was let past
    "load a kernel module": (
        "{py} -c \"import ctypes, os, sys; libc = ctypes.CDLL(None, use_errno=True); "
        "nr = {{'x86_64': 313, 'aarch64': 273}}[os.uname().machine]; "
        "fd = os.open('/dev/null', os.O_RDONLY); libc.syscall(nr, fd, b'', 0); "
        "sys.exit(1 if ctypes.get_errno() == 1 else 0)\""),
    # syslog(2) SYSLOG_ACTION_READ_ALL (3), what dmesg calls
    "read the kernel log": (
        "{py} -c \"import ctypes, sys; buf = ctypes.create_string_buffer(4096); "
        "sys.exit(0 if ctypes.CDLL(None).klogctl(3, buf, 4096) >= 0 else 1)\""),
    "read the host's disk through a node it makes": (
        "{py} -c \"import os, stat; os.mknod('/tmp/disk', stat.S_IFBLK | 0o600, os.makedev({major}, {minor})); "
        "fd = os.open('/tmp/disk', os.O_RDONLY); os.read(fd, 1)\""),
}


def host_disk() -> tuple[str, int, int]:
    """The host's first whole disk as ``(name, major, minor)``, from /proc/partitions (a partition's
    name ends in a digit after the disk's, or in ``p`` and a digit); ``("sda", 8, 0)`` if it lists none."""
    with open("/proc/partitions") as f:
        rows = [line.split() for line in f.read().splitlines()[2:] if line.strip()]
    names = {r[3] for r in rows}
    for major, minor, _blocks, name in rows:
        if name.startswith(("loop", "ram", "zram", "sr", "dm-")):
            continue
        stem = name.rstrip("0123456789")
        if name != stem and (stem in names or stem.endswith("p") and stem[:-1] in names):
            continue   # a partition of a disk already listed
        return name, int(major), int(minor)
    return "sda", 8, 0


def attempt(cmd: str, *, image: str = "host", **options) -> tuple[bool, str]:
    """Run a shell line as root in a throw-away container: (it exited 0, what it said): the last
    line of a success, the first line of a refusal (mount adds a line about dmesg after it)."""
    r = run(image, cmd, timeout=30, **options)
    ok = r.exit_code == 0
    said = [line.strip() for line in (r.stdout if ok else r.stderr or r.stdout).splitlines() if line.strip()]
    if not said:
        # i18n: a command that printed nothing; {code} is its exit status
        return ok, _("exit status {code}").format(code=r.exit_code)
    return ok, said[-1] if ok else said[0]


def status_fields(text: str) -> dict[str, str]:
    """``/proc/PID/status`` as printed (``CapEff:\\t00000000a80425fb``) → ``{"CapEff": "00000000a80425fb"}``."""
    return {k: v.strip() for k, _sep, v in (line.partition(":") for line in text.splitlines()) if v}


def measure_root_actions(*, image: str = "host") -> dict[str, bool]:
    """Each action of :data:`ROOT_ACTIONS` as root in a default container of its own: did it work?"""
    py = os.path.realpath(sys.executable)   # the host image holds this python at its host path
    _name, major, minor = host_disk()
    return {action: run(image, cmd.format(py=py, major=major, minor=minor), timeout=30).exit_code == 0
            for action, cmd in ROOT_ACTIONS.items()}


def record_measurements() -> dict:
    """Measure every exercise on this (live) host, for the recording: what a host that cannot measure
    judges a learner's answer against. Run by tools/record.py after the notebooks ran live."""
    ns = {"mount": measure_namespaces(["mount"]), "without-mount": measure_namespaces(["uts"])}
    for t in RUN_NAMES[1:]:
        ns[f"mount+{t}"] = measure_namespaces(["mount", t])
    return {
        "namespaces": ns,
        "memory": measure_memory_charge(),
        "overlay": {cmd: measure_upper(cmd) for cmd in UPPER_COMMANDS},
        "network": {f"{s}->{d}": ok for (s, d), ok in measure_reachability(ALL_PAIRS).items()},
        "shop": {SHOP_MEMORY: measure_shop(SHOP_MEMORY)},
        "security": measure_root_actions(),
    }
