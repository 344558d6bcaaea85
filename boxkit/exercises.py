"""The course's exercises: you predict, the kernel answers.

Each notebook ends with one exercise. Its answer cell ships **unsolved**: every ``...`` is a
placeholder you replace with your prediction — a list of namespaces, which programs a memory limit
kills, what an upper directory will hold, who reaches whom, how many orders fit. A checker from this
module then starts real containers and *measures* whether you were right; nothing is compared with a
stored answer when the kernel can be asked instead:

* :func:`namespaces` (notebook 01) starts a container with the namespaces you chose and compares the
  inode numbers of ``/proc/PID/ns/*`` with the host's. Equal numbers mean a shared namespace, different
  ones a namespace of its own — the same test ``lsns`` makes. It also asks the container whether it
  sees the host's processes (``/proc/<a host PID>`` exists inside only without a PID namespace).
* :func:`memory_charge` (notebook 02) runs three programs that each put 100 MiB somewhere — the heap,
  a file, ``/dev/shm`` — under a 48 MiB limit: every page is charged to the group, and only what the
  kernel cannot reclaim ends in the OOM killer.
* :func:`overlay_upper` (notebook 03) runs your command in a container and reads its overlay *upper*
  directory before and after: a character device 0/0 is a **whiteout** (a deleted lower file), a file
  that also exists in an image layer was **copied up**, one that does not is **new**, and a directory
  with the xattr ``trusted.overlay.opaque=y`` (``user.overlay.opaque`` in a rootless overlay) is
  **opaque** (it hides everything below it).
* :func:`reachability` (notebook 04) puts containers ``a`` and ``b`` on the network ``bridge`` and ``c``
  on a second network, and pings between them, and between them and the host.
* :func:`shop_orders` (notebook 05) runs the capstone's shop under a memory limit and sends orders
  until the OOM killer ends it; each order keeps 32 KiB, so the count follows from the limit.

A checker prints one line: ``✎ your turn`` while a ``...`` is left, else ``✓ right: <why>`` or
``✗ not yet: <hint>``; a hint says *why* to look again and never prints the measured answer. The
``judge_*`` functions hold the logic apart from the measuring, pure, so the unit tests feed them
made-up measurements — and where this host cannot measure (recorded mode on Binder, or a rootless
host for a cell that needs root), the same ``judge_*`` judge your answer against measurements
:func:`record_measurements` made on a real kernel (stored in the course recording). Everything a
checker starts, it removes, even when it fails. :func:`solution` shows the reference answer and its
reasoning, for after you tried; the tests feed it to the checkers.
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


YOUR_TURN = "✎ your turn"


def unanswered(*answers) -> bool:
    """Is a ``...`` placeholder left in an answer (also as a value or key of a dict, or in a list)?"""
    for a in answers:
        if a is ...:
            return True
        if isinstance(a, dict) and (unanswered(*a.keys()) or unanswered(*a.values())):
            return True
        if isinstance(a, (list, tuple, set, frozenset)) and unanswered(*a):
            return True
    return False


def _your_turn() -> None:
    # not a verdict: nothing was measured or judged (a committed notebook shows only this line)
    print(f"{YOUR_TURN}: replace each ... in the cell above with your prediction, then run this cell again",
          flush=True)


def _recorded(name: str, needs: Iterable[str]):
    """None when this host measures live; else the measurements recorded for ``name`` (or {} if none)."""
    from . import course

    if not course.replaying(needs):
        return None
    return course.recorded_measurements(name) or {}


def _from_recording(v: Verdict) -> Verdict:
    from . import course

    return Verdict(v.ok, f"{v.why} (judged against a run recorded on {course.recorded_on()}: this host "
                         "cannot measure it)")


def _not_recorded(what: str) -> Verdict:
    return Verdict(False, f"the recording has no measurement for {what}, and this host cannot measure it: "
                          "keep the exercise's own setting, or run the course where it runs live")


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
RUN_NAMES = ("mount", "pid", "net", "uts", "ipc", "user", "cgroup", "time")
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
    which ``/proc/PID/ns`` links differ from the host's (``own``, as measured). A wrong prediction is
    told how many links it got wrong and why to look again, never which."""
    if not sees_host_processes:
        return Verdict(False, "ps inside shows only the container's own processes: it still has a PID "
                              "namespace of its own")
    if not own_hostname:
        return Verdict(False, "the hostname inside is the host's: without a UTS namespace the container "
                              "cannot have its own")
    if own != predicted:
        missed, extra = own - predicted, predicted - own
        hints = []
        if missed:
            hints.append(f"{len(missed)} link(s) you predicted shared are the container's own"
                         + (" — boxkit.run adds a namespace you did not ask for: which one, and why?"
                            if missed - {"pid", "uts"} else ""))
        if extra:
            hints.append(f"{len(extra)} link(s) you predicted its own are the host's: a namespace is new "
                         "only when the clone asks for it")
        return Verdict(False, "the container works, but /proc/PID/ns differs from your prediction: "
                              + "; ".join(hints))
    return Verdict(True, "ps inside lists the host's processes, the hostname is its own, and "
                         f"/proc/PID/ns differs from the host's in exactly {', '.join(sorted(own))}")


def measure_namespaces(namespaces: Iterable[str], *, image: str = "busybox") -> dict:
    """Start ``image`` with ``namespaces``: ``{"own": [...], "sees_host_processes", "own_hostname"}``,
    or ``{"refused": "<why>"}`` when boxkit refuses the request."""
    import boxkit

    from . import nsinfo

    try:
        c = boxkit.run(image, ["sleep", "60"], detach=True, namespaces=list(namespaces),
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


def recorded_namespaces(namespaces: Iterable[str], recorded: dict) -> dict | None:
    """What a container with ``namespaces`` measures, from the recorded runs: ``mount`` alone, and
    ``mount`` plus each other type. Each requested namespace isolates what it isolated alone, on top
    of what ``mount`` alone gives (boxkit adds ``net`` unless asked for the host's network)."""
    names = {PROC_NAMES[str(n).strip().lower()] for n in namespaces}
    if "mnt" not in names:
        return recorded.get("without-mount")
    runs = [recorded.get("mount")] + [recorded.get(f"mount+{t}") for t in sorted(names - {"mnt"})]
    if any(r is None for r in runs):
        return None
    refused = next((r for r in runs if "refused" in r), None)
    if refused:
        return refused
    own = set().union(*(set(r["own"]) for r in runs))
    return {"own": sorted(own), "sees_host_processes": "pid" not in own, "own_hostname": "uts" in own}


def namespaces(namespaces, own, *, image: str = "busybox") -> Verdict | None:
    """Start ``image`` with ``namespaces`` (as ``boxkit.run`` takes them) and check the goal and the
    prediction ``own`` (the /proc/PID/ns links that will differ from the host's)."""
    if unanswered(namespaces, own):
        return _your_turn()
    try:
        predicted = proc_names(own)
        proc_names(namespaces)
    except ValueError as e:
        return _say(Verdict(False, str(e)))
    recorded = _recorded("namespaces", {"root"})
    if recorded is not None:
        m = recorded_namespaces(namespaces, recorded)
        if m is None:
            return _say(_not_recorded(f"the namespaces {sorted(namespaces)}"))
    else:
        m = measure_namespaces(namespaces, image=image)
    if "refused" in m:
        v = Verdict(False, f"boxkit refused it: {m['refused']}")
    else:
        v = judge_namespaces(set(m["own"]), predicted, m["sees_host_processes"], m["own_hostname"])
    return _say(_from_recording(v) if recorded is not None else v)


# --- 02: what a memory limit kills ----------------------------------------------------------------

CHARGE_LIMIT = "48M"
CHARGE_MIB = 100
# each program puts 100 MiB somewhere; (image, argv)
CHARGE_PROGRAMS = {
    "heap": ("host", ["python3", "-c", f"x = b'x' * ({CHARGE_MIB} << 20)"]),
    "file": ("busybox", ["dd", "if=/dev/zero", "of=/tmp/big", "bs=1M", f"count={CHARGE_MIB}"]),
    "shm": ("busybox", ["dd", "if=/dev/zero", "of=/dev/shm/big", "bs=1M", f"count={CHARGE_MIB}"]),
}
OUTCOMES = ("finishes", "killed")


def charge_answer_problem(predicted, programs: list[str]) -> str | None:
    """What is wrong with the shape of an answer (before anything runs), or None."""
    if not isinstance(predicted, dict):
        return "give a dict: program → \"finishes\" or \"killed\""
    unknown = sorted(map(repr, set(predicted) - set(programs)))
    if unknown:
        return f"{', '.join(unknown)}: the programs are {', '.join(programs)}"
    bad = sorted({repr(v) for v in predicted.values() if v not in OUTCOMES})
    if bad:
        return f"predict \"finishes\" or \"killed\" for each program, not {', '.join(bad)}"
    missing = [p for p in programs if p not in predicted]
    if missing:
        return f"predict every program: {', '.join(missing)} is left"
    return None


def judge_memory_charge(predicted: dict[str, str], measured: dict[str, dict]) -> Verdict:
    """``predicted``: program → "finishes" or "killed"; ``measured``: program → ``{"oom_killed",
    "exit_code", "peak"}``."""
    problem = charge_answer_problem(predicted, list(measured))
    if problem:
        return Verdict(False, problem)
    actual = {p: "killed" if m["oom_killed"] else "finishes" for p, m in measured.items()}
    wrong = [p for p in predicted if predicted[p] != actual[p]]
    if wrong:
        return Verdict(False, f"{len(wrong)} of {len(predicted)} predictions differ from what the kernel did. "
                              "Every page is charged to the group — the heap, a file's page cache, tmpfs "
                              "alike — and at the limit the kernel first reclaims what it can: which of "
                              "those pages can it drop or write back to a disk, with no swap here?")
    peaks = ", ".join(f"{p} {m['peak'] / (1 << 20):.0f} MiB" for p, m in measured.items())
    return Verdict(True, f"all three were charged up to the limit ({peaks}); the file's pages could be "
                         "written back and dropped, the heap and tmpfs pages had nowhere to go")


def measure_memory_charge(memory: str = CHARGE_LIMIT) -> dict[str, dict]:
    """Run each of CHARGE_PROGRAMS under ``memory``: program → exit code, OOM-killed, peak bytes."""
    import boxkit

    out = {}
    for name, (image, argv) in CHARGE_PROGRAMS.items():
        c = boxkit.run(image, argv, detach=True, memory=memory)
        try:
            r = c.wait(60)
        finally:
            _end(c)
        out[name] = {"exit_code": r.exit_code, "oom_killed": r.oom_killed, "peak": r.stats.get("memory_peak") or 0}
    return out


def memory_charge(predicted: dict) -> Verdict | None:
    """Predict for each program of CHARGE_PROGRAMS whether it ``"finishes"`` or is ``"killed"`` under
    a 48 MiB limit; the check runs all three."""
    if unanswered(predicted):
        return _your_turn()
    problem = charge_answer_problem(predicted, list(CHARGE_PROGRAMS))
    if problem:
        return _say(Verdict(False, problem))
    recorded = _recorded("memory", {"cgroups"})
    if recorded is not None and not recorded:
        return _say(_not_recorded("the three programs"))
    v = judge_memory_charge(predicted, recorded or measure_memory_charge())
    return _say(_from_recording(v) if recorded is not None else v)


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


# overlayfs marks an opaque dir with trusted.overlay.opaque; mounted with userxattr (a rootless overlay,
# in a user namespace, 5.11+) it writes and reads user.overlay.opaque instead
OPAQUE_XATTRS = ("trusted.overlay.opaque", "user.overlay.opaque")


def _opaque(path: str) -> bool:
    for name in OPAQUE_XATTRS:
        try:
            if os.getxattr(path, name, follow_symlinks=False) == b"y":
                return True
        except OSError:
            pass
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


KIND_MEANS = {"whiteout": "a whiteout marks an image file the command deleted",
              "copy-up": "a copy-up is an image file the command changed (copied up whole first)",
              "new": "a new entry is one the image never had",
              "opaque": "an opaque dir is an image directory the command removed and made again"}


def judge_upper(found: dict[str, str], predicted: dict[str, str]) -> Verdict:
    """``found``: what the upper dir holds (path → kind), ``predicted`` the learner's. A wrong answer is
    told why to look again at each path it got wrong, never what that path is."""
    bad = [f"{k!r} is not one of {', '.join(UPPER_KINDS)}" for k in sorted(set(map(str, predicted.values())) - set(UPPER_KINDS))]
    if bad:
        return Verdict(False, _few(bad))
    predicted = {_norm_path(p): k for p, k in predicted.items()}
    if found == predicted:
        return Verdict(True, "the upper dir holds exactly " + ", ".join(f"{p} ({k})" for p, k in sorted(found.items())))
    hints = [f"{p}: {KIND_MEANS[predicted[p]]} — is that what the command did to it?"
             for p in sorted(found) if p in predicted and found[p] != predicted[p]]
    more = len(set(found) - set(predicted))
    if more:
        hints.append(f"{more} more path(s) are in the upper dir: every change lands there, a changed or "
                     "deleted image file as much as a new one")
    hints += [f"{p} is not in the upper dir: does the command write, delete or make it?"
              for p in sorted(set(predicted) - set(found))]
    return Verdict(False, _few(hints))


def measure_upper(command: str, *, image: str = "busybox") -> dict:
    """Run ``command`` (a shell line) in a container of ``image``: ``{"found": path → kind}`` as the
    upper dir shows it, or ``{"failed": "<why>"}``."""
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
        return {"failed": f"the command failed in the container (exit {r.exit_code})" + (f": {first}" if first else "")}
    return {"found": classify(before, after, in_layers(layers))}


UPPER_COMMANDS = ("rm /bin/ls; echo admin >> /etc/passwd; echo hi > /tmp/note",   # the exercise's
                  "rm -r /home; mkdir /home; touch /home/me")                      # its "try next"


def overlay_upper(command: str, predicted, *, image: str = "busybox") -> Verdict | None:
    """Run ``command`` (a shell line) in a container of ``image`` and compare what it left in the upper
    dir with ``predicted`` (path → one of UPPER_KINDS)."""
    if unanswered(command, predicted):
        return _your_turn()
    if not isinstance(predicted, dict):
        return _say(Verdict(False, "give a dict: path → one of " + ", ".join(UPPER_KINDS)))
    recorded = _recorded("overlay", set())
    if recorded is not None:
        m = recorded.get(command)
        if m is None:
            return _say(_not_recorded(f"the command {command!r}"))
    else:
        m = measure_upper(command, image=image)
    v = Verdict(False, m["failed"]) if "failed" in m else judge_upper(m["found"], predicted)
    return _say(_from_recording(v) if recorded is not None else v)


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


def _pair_reason(pair: tuple[str, str]) -> str:
    nets = {"a": "bridge", "b": "bridge", "c": SECOND_NETWORK}
    src, dst = pair
    if "host" in pair:
        return "the host has an address of its own on every bridge it made"
    if nets[src] == nets[dst]:
        return "a bridge passes frames between its own ports, like a switch"
    return ("between two bridges only the host could carry a packet: does it forward "
            "(net.ipv4.ip_forward), and what does boxkit's nftables forward chain say?")


def judge_reachability(predicted: dict[tuple[str, str], bool], measured: dict[tuple[str, str], bool]) -> Verdict:
    """A wrong answer is told how many pairs differ and what to think about for those kinds of pair —
    never which pair (with yes/no answers, naming it would give the answer away)."""
    def say(pair: tuple[str, str], yes: bool) -> str:
        return f"{pair[0]} → {pair[1]} {'answers' if yes else 'does not answer'}"
    wrong = [p for p in predicted if measured[p] != predicted[p]]
    if wrong:
        reasons = list(dict.fromkeys(_pair_reason(p) for p in wrong))
        return Verdict(False, f"{len(wrong)} of {len(predicted)} predictions differ from what ping measured. "
                              "Think again about: " + "; ".join(reasons))
    return Verdict(True, f"all {len(predicted)} predictions match what ping measured: "
                         + "; ".join(say(p, v) for p, v in predicted.items()))


ALL_PAIRS = [(s, d) for s in PLACES for d in PLACES if s != d]


def measure_reachability(pairs: Iterable[tuple[str, str]], *, image: str = "busybox") -> dict[tuple[str, str], bool]:
    """Containers ``a`` and ``b`` on the network ``bridge``, ``c`` on a second network; ping every pair
    once (one second to answer). "host" as a target is the host's address on the source's bridge (its
    gateway)."""
    import boxkit
    import boxkit.net as bn

    pairs = list(pairs)
    made = SECOND_NETWORK not in {n["name"] for n in bn.list_networks()}
    if made:
        bn.create_network(SECOND_NETWORK)
    started: dict[str, object] = {}
    measured = {}
    try:
        for name, net in (("a", "bridge"), ("b", "bridge"), ("c", SECOND_NETWORK)):
            started[name] = boxkit.run(image, ["sleep", "60"], detach=True, network=net)
        addr = {n: c.exec(["sh", "-c", "ip -4 -o addr show eth0 | awk '{print $4}' | cut -d/ -f1"]).stdout.strip()
                for n, c in started.items()}
        gateway = {n: c.exec(["sh", "-c", "ip route | awk '/^default/{print $3}'"]).stdout.strip()
                   for n, c in started.items()}
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
    return measured


def reachability(predicted, *, image: str = "busybox") -> Verdict | None:
    """Predict for pairs of a, b, c and host whether a ping gets an answer; the check starts the three
    containers and pings each pair in ``predicted`` once."""
    if unanswered(predicted):
        return _your_turn()
    try:
        pairs = parse_pairs(predicted)
    except (ValueError, AttributeError) as e:
        return _say(Verdict(False, str(e) if isinstance(e, ValueError) else "give a dict: (from, to) → True or False"))
    recorded = _recorded("network", {"network"})
    if recorded is not None:
        measured = {tuple(k.split("->")): v for k, v in recorded.items()}
        if not measured:
            return _say(_not_recorded("the pings"))
    else:
        measured = measure_reachability(pairs, image=image)
    v = judge_reachability(pairs, measured)
    return _say(_from_recording(v) if recorded is not None else v)


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
    """A wrong estimate is told whether it is too high or too low and what to think about, never the
    count that was measured."""
    if survived:
        return Verdict(False, f"the shop survived every order the check sends under {memory}: each order keeps "
                              "32 KiB, so pick a limit the orders can reach")
    if not oom_killed:
        return Verdict(False, "the shop stopped, but not by the OOM killer")
    if served == 0:
        return Verdict(False, f"the OOM killer ended the shop before its first order: python needs "
                              f"about 10 MB just to start, more than {memory}")
    if abs(served - predicted) > tolerance * predicted:
        if predicted > served:
            why = "too many: the shop used memory before its first order — how much, and is it yours to spend?"
        else:
            why = "too few: each order keeps 32 KiB, and little else grows per order"
        return Verdict(False, f"not within {tolerance:.0%} of {predicted} orders under {memory}: {why}")
    return Verdict(True, f"the OOM killer (exit 137) ended the shop after {served} orders under {memory}, "
                         f"within {tolerance:.0%} of the {predicted} you predicted")


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


SHOP_MEMORY = "30M"   # the exercise's limit (and the one recorded)


def measure_shop(memory: str, *, port: int = 18089) -> dict:
    """Run the shop under ``memory`` and send orders one by one until it dies, or has taken more orders
    than the limit could hold (at most MAX_ORDERS): served, oom_killed, survived; or refused."""
    import boxkit

    from .spec import parse_size

    limit = parse_size(memory)
    # no more orders than the limit could ever hold, and never more than a few seconds' worth
    cap = MAX_ORDERS if limit is None else min(limit // ORDER_BYTES + 100, MAX_ORDERS)
    url = f"http://127.0.0.1:{port}/"
    try:
        c = boxkit.run(_shop_image(), detach=True, network="bridge", publish=[f"{port}:8000"], memory=memory)
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


def shop_orders(memory: str, predicted, *, port: int = 18089, tolerance: float = 0.2) -> Verdict | None:
    """Run the capstone's shop under ``memory`` and send orders one by one until it dies; right when the
    OOM killer ended it within ``tolerance`` of ``predicted`` orders."""
    from .errors import SpecError
    from .spec import parse_size

    if unanswered(memory, predicted):
        return _your_turn()
    if not isinstance(predicted, int) or isinstance(predicted, bool) or predicted <= 0:
        return _say(Verdict(False, "predict a whole number of orders, like 500"))
    try:
        parse_size(memory)
    except SpecError as e:
        return _say(Verdict(False, str(e)))
    recorded = _recorded("shop", {"cgroups", "network"})
    if recorded is not None:
        m = recorded.get(str(memory))
        if m is None:
            return _say(_not_recorded(f"the limit {memory}"))
    else:
        m = measure_shop(str(memory), port=port)
    if "refused" in m:
        v = Verdict(False, f"boxkit refused it: {m['refused']}")
    else:
        v = judge_shop(predicted, m["served"], m["oom_killed"], m["survived"], str(memory), tolerance)
    return _say(_from_recording(v) if recorded is not None else v)


def _get(url: str, timeout: float) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            r.read()
        return True
    except Exception:   # refused, reset, cut short: the shop is not answering
        return False


# --- the reference answers, and the measurements a recorded run judges against ---------------------

SOLUTIONS = {
    "namespaces": ({"namespaces": ["mount", "uts"], "own": {"mnt", "uts", "net"}},
                   "Leave out pid so the container shares the host's PID namespace (ps shows every host "
                   "process), ask for uts so it may set its own hostname, and mount because boxkit needs a "
                   "mount namespace to give it its own root. boxkit.run adds net too (a container gets an "
                   "empty network namespace unless you ask for network=\"host\"), so /proc/PID/ns differs "
                   "in mnt, uts and net."),
    "memory": ({"predicted": {"heap": "killed", "file": "finishes", "shm": "killed"}},
               "All three are charged to the group up to the limit. The file's pages are page cache with "
               "a disk behind them: the kernel writes them back and drops them, so dd finishes. The heap's "
               "pages (anonymous memory) and /dev/shm's (tmpfs: memory with no disk behind it) can only "
               "go to swap, and this host gives the group none: the OOM killer ends both."),
    "overlay": ({"command": UPPER_COMMANDS[0],
                 "predicted": {"bin/ls": "whiteout", "etc/passwd": "copy-up", "tmp/note": "new"}},
                "rm leaves a whiteout (a 0/0 character device) over the image's /bin/ls; appending to "
                "/etc/passwd copies the whole file up first; /tmp/note is new (/tmp itself is in the image, "
                "so it is only the parent of a new entry and not listed)."),
    "network": ({"predicted": {("a", "b"): True, ("a", "c"): False, ("c", "host"): True, ("host", "c"): True}},
                "a and b share a bridge, which switches frames between its ports. c is on another bridge, "
                "and the host neither forwards (ip_forward is 0) nor lets its nftables forward chain pass "
                "bridge-to-bridge traffic. The host has an address on each bridge, so it and c reach each "
                "other both ways."),
    "shop": ({"memory": SHOP_MEMORY, "predicted": 640},
             "Under 30 MiB the idle shop already uses about 10 MiB (python and the HTTP server), which leaves "
             "about 20 MiB, and 20 MiB / 32 KiB per order is 640 orders."),
}


def solution(name: str) -> dict:
    """Show the reference answer of exercise ``name`` (namespaces, memory, overlay, network, shop) and
    why it is right; returns it as the checker's keyword arguments. Try first: the check will tell you."""
    if name not in SOLUTIONS:
        raise ValueError(f"no exercise {name!r}: the exercises are {', '.join(SOLUTIONS)}")
    answer, why = SOLUTIONS[name]
    for k, v in answer.items():
        print(f"{k} = {v!r}")
    print(why)
    return answer


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
    }
