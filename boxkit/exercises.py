"""The course's exercises: you predict, the kernel answers.

Each notebook ends with one exercise. You set a variable or two — a list of namespaces, a memory limit,
what an upper directory will hold — and a checker from this module starts real containers and
*measures* whether you were right. Nothing is compared with a stored answer when the kernel can be
asked instead:

* :func:`namespaces` (notebook 01) starts a container with the namespaces you chose and compares the
  inode numbers of ``/proc/PID/ns/*`` with the host's. Equal numbers mean a shared namespace, different
  ones a namespace of its own — the same test ``lsns`` makes. It also asks the container whether it
  sees the host's processes (``/proc/<a host PID>`` exists inside only without a PID namespace).
* :func:`memory_limit` (notebook 02) runs a memory hog under your limit and under the next smaller one:
  "smallest" means it finishes under the first and the OOM killer ends it under the second.
* :func:`overlay_upper` (notebook 03) runs your command in a container and reads its overlay *upper*
  directory before and after: a character device 0/0 is a **whiteout** (a deleted lower file), a file
  that also exists in an image layer was **copied up**, one that does not is **new**, and a directory
  with the xattr ``trusted.overlay.opaque=y`` is **opaque** (it hides everything below it).
* :func:`reachability` (notebook 04) puts containers ``a`` and ``b`` on the network ``bridge`` and ``c``
  on a second network, and pings between them, and between them and the host.
* :func:`shop_orders` (notebook 05) runs the capstone's shop under your memory limit and sends orders
  until the OOM killer ends it; each order keeps 32 KiB, so the count follows from the limit.
* :func:`root_can` (notebook 06) tries each of a list of actions as root in a default container
  (chown, port 80, a raw socket, mount, hostname, a user namespace, /proc/sys) and compares.

Every checker prints one line — ``✓ right: <why>`` or ``✗ not yet: <hint>`` — and returns a
:class:`Verdict`. The ``judge_*`` functions hold the logic apart from the measuring, so the unit
tests feed them made-up measurements; everything a checker starts, it removes, even when it fails.
"""

from __future__ import annotations

import os
import stat
import subprocess
import time
import urllib.request
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from .errors import BoxkitError

RIGHT, NOT_YET = "✓ right", "✗ not yet"


@dataclass(frozen=True)
class Verdict:
    """What a checker found: ``ok`` and one sentence saying why (or what to look at next)."""

    ok: bool
    why: str

    def __str__(self) -> str:
        return f"{RIGHT if self.ok else NOT_YET}: {self.why}"

    def __bool__(self) -> bool:
        return self.ok

    def _ipython_display_(self) -> None:
        # the checker already printed the line; a notebook cell ending in the call shows it once
        pass


def _say(v: Verdict) -> Verdict:
    print(v, flush=True)
    return v


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


def _few(items: list[str], n: int = 3) -> str:
    return "; ".join(items[:n]) + ("; …" if len(items) > n else "")


# --- 01: namespaces -------------------------------------------------------------------------------

# boxkit.run() takes the names of unshare(1) (--mount, --uts, ...); /proc/PID/ns uses the kernel's
PROC_NAMES = {"mount": "mnt", "mnt": "mnt", "pid": "pid", "net": "net", "network": "net", "uts": "uts",
              "ipc": "ipc", "user": "user", "cgroup": "cgroup", "time": "time"}
EXERCISE_HOSTNAME = "exercise"


def proc_names(names: Iterable[str]) -> set[str]:
    """``{"mount", "uts"}`` → ``{"mnt", "uts"}``; an unknown name raises ValueError naming it."""
    if isinstance(names, str):
        names = [names]
    out = set()
    for n in names:
        key = str(n).strip().lower()
        if key not in PROC_NAMES:
            raise ValueError(f"unknown namespace {n!r}: /proc/PID/ns has mnt, pid, net, uts, ipc, user, "
                             "cgroup, time")
        out.add(PROC_NAMES[key])
    return out


def judge_namespaces(own: set[str], predicted: set[str], sees_host_processes: bool,
                     own_hostname: bool) -> Verdict:
    """The goal: the host's processes visible, a hostname of its own; and the prediction: exactly
    which ``/proc/PID/ns`` links differ from the host's (``own``, as measured)."""
    if not sees_host_processes:
        return Verdict(False, "ps inside shows only the container's own processes: it still has a PID "
                              "namespace of its own")
    if not own_hostname:
        return Verdict(False, "the hostname inside is the host's: without a UTS namespace the container "
                              "cannot have its own")
    if own != predicted:
        hints = [f"{t} is its own too" for t in sorted(own - predicted)]
        hints += [f"{t} is shared with the host" for t in sorted(predicted - own)]
        extra = " — boxkit.run adds a namespace you did not ask for: which one, and why?" \
            if own - predicted - {"pid", "uts"} else ""
        return Verdict(False, f"the container works, but /proc/PID/ns says {_few(hints)}{extra}")
    return Verdict(True, "ps inside lists the host's processes, the hostname is its own, and "
                         f"/proc/PID/ns differs from the host's in exactly {', '.join(sorted(own))}")


def namespaces(namespaces: Iterable[str], own: Iterable[str], *, image: str = "busybox") -> Verdict:
    """Start ``image`` with ``namespaces`` (as ``boxkit.run`` takes them) and check the goal and the
    prediction ``own`` (the /proc/PID/ns links that will differ from the host's)."""
    import boxkit

    from . import nsinfo

    try:
        predicted = proc_names(own)
    except ValueError as e:
        return _say(Verdict(False, str(e)))
    try:
        c = boxkit.run(image, ["sleep", "60"], detach=True, namespaces=list(namespaces),
                       hostname=EXERCISE_HOSTNAME)
    except BoxkitError as e:
        return _say(Verdict(False, f"boxkit refused it: {e}"))
    try:
        measured = {row.type for row in nsinfo.compare(c.pid) if row.isolated}
        # this kernel's PID is a host PID: it is under /proc inside only if the PID namespace is shared
        probe = c.exec(["sh", "-c", f"hostname; test -d /proc/{os.getpid()} && echo host-pids"]).stdout.split()
    finally:
        _end(c)
    return _say(judge_namespaces(measured, predicted, "host-pids" in probe,
                                 bool(probe) and probe[0] == EXERCISE_HOSTNAME))


# --- 02: the smallest memory limit ----------------------------------------------------------------

def judge_memory_limit(limit: int, step: int, finished: bool, finished_below: bool | None) -> Verdict:
    """``finished``: the hog ended by itself under ``limit``; ``finished_below``: under ``limit - step``
    (None when that is zero)."""
    mb, step_mb = limit >> 20, step >> 20
    if not finished:
        return Verdict(False, f"the OOM killer ended the hog under {mb}M: it needs more room")
    if finished_below:
        return Verdict(False, f"it finishes under {mb}M, and under {mb - step_mb}M too: go lower")
    below = f"and was OOM-killed under {mb - step_mb}M" if finished_below is not None \
        else "and nothing smaller is a step"
    return Verdict(True, f"the hog finished under {mb}M {below}")


def memory_limit(limit: str | int, *, target_mb: int = 300, step: str | int = "50M") -> Verdict:
    """Is ``limit`` the smallest multiple of ``step`` under which a ``target_mb`` hog finishes? Runs the
    hog under ``limit`` and, if it finishes, under ``limit - step``."""
    from .cgroups import experiments
    from .errors import SpecError
    from .spec import parse_size

    try:
        n, s = parse_size(limit, allow_max=False), parse_size(step, allow_max=False)
    except SpecError as e:
        return _say(Verdict(False, str(e)))
    assert n is not None and s is not None
    if n % s:
        return _say(Verdict(False, f"{limit} is not a step of {s >> 20}M: try {s >> 20}M, {2 * s >> 20}M, ..."))

    def finishes(bytes_: int) -> bool:
        r, _ = experiments.memory_oom(memory=bytes_, target_mb=target_mb)
        return r.exit_code == 0 and not r.oom_killed

    ok = finishes(n)
    below = finishes(n - s) if ok and n > s else None
    return _say(judge_memory_limit(n, s, ok, below))


# --- 03: what the upper dir holds -----------------------------------------------------------------

UPPER_KINDS = ("whiteout", "copy-up", "new", "opaque")


@dataclass(frozen=True)
class UpperEntry:
    """One path in an upper dir, as ``lstat`` and the opaque xattr show it."""

    kind: str          # "char0" (a whiteout), "dir", "file" (anything else: files, links, devices)
    opaque: bool = False
    stamp: tuple = ()  # what changes when the entry is rewritten (mode, size, mtime, inode)


def scan_upper(upper: str) -> dict[str, UpperEntry]:
    """Every path below ``upper`` (relative, no leading slash)."""
    found: dict[str, UpperEntry] = {}
    for d, dirs, files in os.walk(upper):
        for name in dirs + files:
            path = os.path.join(d, name)
            st = os.lstat(path)
            rel = os.path.relpath(path, upper)
            stamp = (st.st_mode, st.st_size, st.st_mtime_ns, st.st_ino)
            if stat.S_ISCHR(st.st_mode) and st.st_rdev == 0:
                found[rel] = UpperEntry("char0", stamp=stamp)
            elif stat.S_ISDIR(st.st_mode):
                found[rel] = UpperEntry("dir", _opaque(path), stamp)
            else:
                found[rel] = UpperEntry("file", stamp=stamp)
    return found


def _opaque(path: str) -> bool:
    try:
        return os.getxattr(path, "trusted.overlay.opaque", follow_symlinks=False) == b"y"
    except OSError:
        return False


def in_layers(layers: list[str]) -> Callable[[str], bool]:
    """``exists(rel)``: is ``rel`` visible in the image (``layers`` bottom first)? A whiteout or an
    opaque directory in a higher layer hides what lies below it, as overlayfs does."""
    def exists(rel: str) -> bool:
        parts = rel.split("/")
        for layer in reversed(layers):
            for i in range(1, len(parts) + 1):
                p = os.path.join(layer, *parts[:i])
                try:
                    st = os.lstat(p)
                except OSError:
                    break
                if stat.S_ISCHR(st.st_mode) and st.st_rdev == 0:
                    return False
                if i == len(parts):
                    return True
                if stat.S_ISDIR(st.st_mode) and _opaque(p):
                    return False
        return False
    return exists


def classify(before: dict[str, UpperEntry], after: dict[str, UpperEntry],
             in_image: Callable[[str], bool]) -> dict[str, str]:
    """What a command left in the upper dir: each path it added or rewrote, as one of UPPER_KINDS.
    A plain directory that the image has too is only the parent of a copy-up and is left out."""
    out: dict[str, str] = {}
    for rel, e in after.items():
        if before.get(rel) == e:
            continue
        if e.kind == "char0":
            out[rel] = "whiteout"
        elif e.kind == "dir":
            if e.opaque:
                out[rel] = "opaque"
            elif not in_image(rel):
                out[rel] = "new"
        else:
            out[rel] = "copy-up" if in_image(rel) else "new"
    return out


def _norm_path(p: str) -> str:
    return os.path.normpath("/" + str(p).strip()).lstrip("/")


def judge_upper(found: dict[str, str], predicted: dict[str, str]) -> Verdict:
    bad = [f"{k!r} is not one of {', '.join(UPPER_KINDS)}" for k in sorted(set(predicted.values()) - set(UPPER_KINDS))]
    if bad:
        return Verdict(False, _few(bad))
    predicted = {_norm_path(p): k for p, k in predicted.items()}
    if found == predicted:
        return Verdict(True, "the upper dir holds exactly " + ", ".join(f"{p} ({k})" for p, k in sorted(found.items())))
    hints = [f"{p} is {found[p]}, not {predicted[p]}" for p in sorted(found) if p in predicted and found[p] != predicted[p]]
    hints += [f"{p} ({found[p]}) is in the upper dir too" for p in sorted(set(found) - set(predicted))]
    hints += [f"{p} is not in the upper dir" for p in sorted(set(predicted) - set(found))]
    return Verdict(False, _few(hints))


def overlay_upper(command: str, predicted: dict[str, str], *, image: str = "busybox") -> Verdict:
    """Run ``command`` (a shell line) in a container of ``image`` and compare what it left in the upper
    dir with ``predicted`` (path → one of UPPER_KINDS)."""
    import boxkit

    from .images import resolve

    layers = resolve(image).layers
    c = boxkit.run(image, ["sleep", "60"], detach=True)
    try:
        before = scan_upper(c.upper_dir)   # boxkit's own files (/etc/hosts, /etc/hostname) are already here
        r = c.exec(["sh", "-c", command])
        after = scan_upper(c.upper_dir)
    finally:
        _end(c)
    if r.exit_code != 0:
        first = (r.stderr.strip().splitlines() or [""])[0]
        return _say(Verdict(False, f"the command failed in the container (exit {r.exit_code})"
                                   + (f": {first}" if first else "")))
    return _say(judge_upper(classify(before, after, in_layers(layers)), predicted))


# --- 04: who reaches whom -------------------------------------------------------------------------

PLACES = ("a", "b", "c", "host")
SECOND_NETWORK = "exercise"


def parse_pairs(predicted: dict) -> dict[tuple[str, str], bool]:
    """``{("a", "b"): True}`` or ``{"a -> b": True}`` / ``"a → b"`` → ``{("a", "b"): True}``."""
    out = {}
    for key, value in predicted.items():
        if isinstance(key, str):
            parts = [p.strip() for p in key.replace("→", "->").split("->")]
        else:
            parts = [str(p).strip() for p in key]
        if len(parts) != 2 or not all(p in PLACES for p in parts) or parts == ["host", "host"]:
            raise ValueError(f"{key!r}: give pairs of {', '.join(PLACES)} like ('a', 'b')")
        if not isinstance(value, bool):
            raise ValueError(f"{key!r}: predict True (it answers) or False (it does not)")
        out[(parts[0], parts[1])] = value
    return out


def judge_reachability(predicted: dict[tuple[str, str], bool], measured: dict[tuple[str, str], bool]) -> Verdict:
    def say(pair: tuple[str, str], yes: bool) -> str:
        return f"{pair[0]} → {pair[1]} {'answers' if yes else 'does not answer'}"
    wrong = [say(p, measured[p]) for p in predicted if measured[p] != predicted[p]]
    if wrong:
        return Verdict(False, f"{len(wrong)} of {len(predicted)} predictions differ from what ping measured: "
                              + _few(wrong))
    return Verdict(True, f"all {len(predicted)} predictions match what ping measured: "
                         + "; ".join(say(p, v) for p, v in predicted.items()))


def reachability(predicted: dict, *, image: str = "busybox") -> Verdict:
    """Containers ``a`` and ``b`` on the network ``bridge``, ``c`` on a second network; ping every pair
    in ``predicted`` once (one second to answer) and compare. "host" as a target is the host's address
    on the source's bridge (its gateway)."""
    import boxkit
    import boxkit.net as bn

    try:
        pairs = parse_pairs(predicted)
    except ValueError as e:
        return _say(Verdict(False, str(e)))
    made = SECOND_NETWORK not in {n["name"] for n in bn.list_networks()}
    if made:
        bn.create_network(SECOND_NETWORK)
    started: dict[str, object] = {}
    try:
        for name, net in (("a", "bridge"), ("b", "bridge"), ("c", SECOND_NETWORK)):
            started[name] = boxkit.run(image, ["sleep", "60"], detach=True, network=net)
        addr = {n: c.exec(["sh", "-c", "ip -4 -o addr show eth0 | awk '{print $4}' | cut -d/ -f1"]).stdout.strip()
                for n, c in started.items()}
        gateway = {n: c.exec(["sh", "-c", "ip route | awk '/^default/{print $3}'"]).stdout.strip()
                   for n, c in started.items()}
        measured = {}
        for src, dst in pairs:
            target = gateway[src] if dst == "host" else addr[dst]
            argv = ["ping", "-c", "1", "-W", "1", target]
            if src == "host":
                measured[(src, dst)] = subprocess.run(["busybox", *argv], capture_output=True, timeout=10).returncode == 0
            else:
                measured[(src, dst)] = started[src].exec(argv).exit_code == 0
    finally:
        for c in started.values():
            _end(c)
        if made:
            _remove_network(SECOND_NETWORK)
    return _say(judge_reachability(pairs, measured))


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


# --- 05: orders until the OOM killer --------------------------------------------------------------

ORDER_BYTES = 32 << 10   # what boxkit/examples/shop/app.py keeps per order
SHOP_IMAGE = "shop:1.0"
MAX_ORDERS = 3000        # ~94 MiB of orders, ~4 s on 2 cores


def judge_shop(predicted: int, served: int, oom_killed: bool, survived: bool, memory: str,
               tolerance: float = 0.2) -> Verdict:
    if survived:
        return Verdict(False, f"the shop survived all {served} orders under {memory}: each order keeps "
                              "32 KiB, so pick a limit the orders can reach")
    if not oom_killed:
        return Verdict(False, f"the shop stopped after {served} orders, but not by the OOM killer")
    if served == 0:
        return Verdict(False, f"the OOM killer ended the shop before its first order: python needs "
                              f"about 10 MB just to start, more than {memory}")
    if abs(served - predicted) > tolerance * predicted:
        return Verdict(False, f"the OOM killer ended the shop after {served} orders, not within "
                              f"{tolerance:.0%} of {predicted}: how much did it use before the first order?")
    return Verdict(True, f"the OOM killer (exit 137) ended the shop within {tolerance:.0%} of the "
                         f"{predicted} orders you predicted under {memory}")


def _shop_image() -> str:
    from .errors import NotFoundError
    from .images import resolve

    try:
        resolve(SHOP_IMAGE)
    except NotFoundError:
        from . import examples
        from .images.build import build_file

        ctx = examples.path("shop")
        build_file(os.path.join(ctx, "Boxfile"), SHOP_IMAGE, ctx)
    return SHOP_IMAGE


def shop_orders(memory: str, predicted: int, *, port: int = 18089, tolerance: float = 0.2) -> Verdict:
    """Run the capstone's shop under ``memory`` and send orders one by one until it dies (or has taken
    more orders than the limit could hold, at most MAX_ORDERS); right when the OOM killer ended it
    within ``tolerance`` of ``predicted`` orders."""
    import boxkit

    from .errors import SpecError
    from .spec import parse_size

    if not isinstance(predicted, int) or isinstance(predicted, bool) or predicted <= 0:
        return _say(Verdict(False, "predict a whole number of orders, like 500"))
    try:
        limit = parse_size(memory)
    except SpecError as e:
        return _say(Verdict(False, str(e)))
    # no more orders than the limit could ever hold, and never more than a few seconds' worth
    cap = MAX_ORDERS if limit is None else min(limit // ORDER_BYTES + 100, MAX_ORDERS)
    url = f"http://127.0.0.1:{port}/"
    try:
        c = boxkit.run(_shop_image(), detach=True, network="bridge", publish=[f"{port}:8000"], memory=memory)
    except BoxkitError as e:
        return _say(Verdict(False, f"boxkit refused it: {e}"))
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
        if not survived:
            r = c.wait(10)
            oom = r.oom_killed
        else:
            oom = False
    finally:
        _end(c)
    return _say(judge_shop(predicted, served, oom, survived, str(memory), tolerance))


def _get(url: str, timeout: float) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            r.read()
        return True
    except Exception:   # refused, reset, cut short: the shop is not answering
        return False



# --- notebook 06: what root in a box may do --------------------------------------------------------

# each action as a shell command in the ``host`` image; exit 0 means root in the container could do it
ROOT_ACTIONS = {
    "chown a file": "touch /tmp/f && chown 1234:1234 /tmp/f",
    "listen on port 80": "{py} -c \"import socket; socket.socket().bind(('0.0.0.0', 80))\"",
    "open a raw socket": "{py} -c \"import socket; socket.socket(socket.AF_INET, socket.SOCK_RAW, 1)\"",
    "mount a tmpfs": "mount -t tmpfs x /tmp",
    "change the hostname": "hostname other-name",
    "create a user namespace": "unshare -U true",
    "write /proc/sys": "echo 1 > /proc/sys/net/ipv4/ip_forward",
}


def judge_root_can(predicted: dict, measured: dict[str, bool]) -> Verdict:
    unknown = sorted(set(predicted) - set(measured))
    if unknown:
        return Verdict(False, f"not an action of this exercise: {_few(unknown)} (the actions: {', '.join(measured)})")
    open_ = [a for a in measured if predicted.get(a) is None]
    if open_:
        return Verdict(False, f"predict True or False for every action; still open: {_few(open_)}")
    wrong = [a for a in measured if bool(predicted[a]) != measured[a]]
    if wrong:
        return Verdict(False, f"{len(measured) - len(wrong)} of {len(measured)} right; look again at: "
                       f"{_few(wrong)} (which layer decides each?)")
    can = [a for a in measured if measured[a]]
    return Verdict(True, f"all {len(measured)} right: root in a box could {', '.join(can)}, and nothing else")


def root_can(predicted: dict, *, image: str = "host") -> Verdict:
    """Run each action of :data:`ROOT_ACTIONS` as root in its own default container."""
    import sys

    import boxkit

    py = os.path.realpath(sys.executable)
    measured = {}
    try:
        for action, cmd in ROOT_ACTIONS.items():
            r = boxkit.run(image, cmd.format(py=py), timeout=30)
            measured[action] = r.exit_code == 0
    except BoxkitError as e:
        return _say(Verdict(False, f"boxkit could not run the check: {e}"))
    return _say(judge_root_can(predicted, measured))
