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
  on a second network, makes a local ``outside`` (a network namespace behind a veth pair), and pings
  between them, the host and the host's address on each network.
* :func:`shop_orders` (notebook 05) runs the capstone's shop under a memory limit and sends orders
  until the OOM killer ends it; each order keeps 32 KiB, so the count follows from the limit.
* :func:`root_can` (notebook 06) tries each of a list of actions as root in a default container
  (chown, port 80, ptrace, the hostname, the clock, a kernel module, the kernel log, the host's disk
  through a device node) and compares.

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
from collections.abc import Iterable
from dataclasses import dataclass

from . import course
from . import exercise_runs as runs
from .errors import SpecError
from .exercise_runs import (  # noqa: F401  (the exercises' settings, part of this module's API)
    ALL_PAIRS,
    CHARGE_LIMIT,
    CHARGE_MIB,
    CHARGE_PROGRAMS,
    EXERCISE_HOSTNAME,
    GATEWAYS,
    MAX_ORDERS,
    NETWORK_OF,
    ORDER_BYTES,
    PLACES,
    ROOT_ACTIONS,
    RUN_NAMES,
    SECOND_NETWORK,
    SHOP_IMAGE,
    SHOP_MEMORY,
    TARGETS,
    UPPER_COMMANDS,
    record_measurements,
)
from .images.upper import OPAQUE_XATTRS, UpperEntry, classify, in_layers, scan_upper  # noqa: F401
from .spec import parse_size

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
    if not course.replaying(needs):
        return None
    return course.recorded_measurements(name) or {}


def _from_recording(v: Verdict) -> Verdict:
    return Verdict(v.ok, f"{v.why} (judged against a run recorded on {course.recorded_on()}: this host "
                         "cannot measure it)")


def _not_recorded(what: str) -> Verdict:
    return Verdict(False, f"the recording has no measurement for {what}, and this host cannot measure it: "
                          "keep the exercise's own setting, or run the course where it runs live")


def _few(items: list[str], n: int = 3) -> str:
    return "; ".join(items[:n]) + ("; …" if len(items) > n else "")


# --- 01: namespaces -------------------------------------------------------------------------------

# boxkit.run() takes the names of unshare(1) (--mount, --uts, ...); /proc/PID/ns uses the kernel's
PROC_NAMES = {"mount": "mnt", "mnt": "mnt", "pid": "pid", "net": "net", "network": "net", "uts": "uts",
              "ipc": "ipc", "user": "user", "cgroup": "cgroup", "time": "time"}


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
        m = runs.measure_namespaces(namespaces, image=image)
    if "refused" in m:
        v = Verdict(False, f"boxkit refused it: {m['refused']}")
    else:
        v = judge_namespaces(set(m["own"]), predicted, m["sees_host_processes"], m["own_hostname"])
    return _say(_from_recording(v) if recorded is not None else v)


# --- 02: what a memory limit kills ----------------------------------------------------------------

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
                              "Every page a program brings into memory is charged to its group — the heap, "
                              "a file's page cache, tmpfs alike — and at the limit the kernel first reclaims "
                              "what it can: which of those pages can it drop or write back to a disk, when "
                              "the group may not swap?")
    peaks = ", ".join(f"{p} {m['peak'] / (1 << 20):.0f} MiB" for p, m in measured.items())
    return Verdict(True, f"all three were charged up to the limit ({peaks}); the file's pages could be "
                         "written back and dropped, the heap and tmpfs pages had nowhere to go")


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
    v = judge_memory_charge(predicted, recorded or runs.measure_memory_charge())
    return _say(_from_recording(v) if recorded is not None else v)


# --- 03: what the upper dir holds -----------------------------------------------------------------

UPPER_KINDS = ("whiteout", "copy-up", "new", "opaque")


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
    # "not found", not "not in the upper dir": a directory the image has, which only holds a changed
    # path, is in the upper dir too, but the check lists only what the command changed itself
    hints += [f"{p} is not among what the command changed: does the command write, delete or make it?"
              for p in sorted(set(predicted) - set(found))]
    return Verdict(False, _few(hints))


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
        m = runs.measure_upper(command, image=image)
    v = Verdict(False, m["failed"]) if "failed" in m else judge_upper(m["found"], predicted)
    return _say(_from_recording(v) if recorded is not None else v)


# --- 04: who reaches whom -------------------------------------------------------------------------


def parse_pairs(predicted: dict) -> dict[tuple[str, str], bool]:
    """``{("a", "b"): True}`` or ``{"a -> b": True}`` / ``"a → b"`` → ``{("a", "b"): True}``."""
    out = {}
    for key, value in predicted.items():
        if isinstance(key, str):
            parts = [p.strip() for p in key.replace("→", "->").split("->")]
        else:
            parts = [str(p).strip() for p in key]
        if (len(parts) != 2 or parts[0] not in PLACES or parts[1] not in TARGETS or parts[0] == parts[1]
                or (parts[0] == "host" and parts[1] in GATEWAYS)):
            raise ValueError(f"{key!r}: give pairs (from, to) like ('a', 'b'): from one of {', '.join(PLACES)}; "
                             f"to another of them or one of {', '.join(GATEWAYS)}")
        if not isinstance(value, bool):
            raise ValueError(f"{key!r}: predict True (it answers) or False (it does not)")
        out[(parts[0], parts[1])] = value
    return out


def _pair_reason(pair: tuple[str, str]) -> str:
    """What to think about for a kind of pair: a reason to look again, never whether it answers."""
    src, dst = pair
    if dst in GATEWAYS:
        return ("is a ping to one of the host's own addresses forwarded through the host, or delivered "
                "to it? Which chains of boxkit's nftables table see each of those two kinds of packet?")
    if src == "outside" and dst in NETWORK_OF:
        return ("a container's address is in a subnet private to this host: what does the outside know "
                "about reaching it, and for which connections does NAT rewrite addresses?")
    if dst == "outside" and src in NETWORK_OF:
        return ("the outside knows only its own link: which source address must a packet carry for the "
                "reply to find its way back, and who rewrites it (a network made with --nat)?")
    if "outside" in pair:
        return "the host and the outside are the two ends of one veth pair: is a router needed between them?"
    if "host" in pair:
        return "a container's default route points at its network's gateway: who holds that address?"
    if NETWORK_OF[src] == NETWORK_OF[dst]:
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
        missing = [f"{s} → {d}" for s, d in pairs if (s, d) not in measured]
        if missing:
            return _say(_not_recorded("the pings " + ", ".join(missing)))
    else:
        measured = runs.measure_reachability(pairs, image=image)
    v = judge_reachability(pairs, measured)
    return _say(_from_recording(v) if recorded is not None else v)


# --- 05: orders until the OOM killer --------------------------------------------------------------


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
                              f"about 10 MiB just to start, more than {memory}")
    if abs(served - predicted) > tolerance * predicted:
        if predicted > served:
            why = "too many: the shop used memory before its first order — how much, and is it yours to spend?"
        else:
            why = "too few: each order keeps 32 KiB, and little else grows per order"
        return Verdict(False, f"not within {tolerance:.0%} of {predicted} orders under {memory}: {why}")
    return Verdict(True, f"the OOM killer (exit 137) ended the shop after {served} orders under {memory}, "
                         f"within {tolerance:.0%} of the {predicted} you predicted")


def shop_orders(memory: str, predicted, *, port: int = 18089, tolerance: float = 0.2) -> Verdict | None:
    """Run the capstone's shop under ``memory`` and send orders one by one until it dies; right when the
    OOM killer ended it within ``tolerance`` of ``predicted`` orders."""
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
        m = runs.measure_shop(str(memory), port=port)
    if "refused" in m:
        v = Verdict(False, f"boxkit refused it: {m['refused']}")
    else:
        v = judge_shop(predicted, m["served"], m["oom_killed"], m["survived"], str(memory), tolerance)
    return _say(_from_recording(v) if recorded is not None else v)


# --- the reference answers, and the measurements a recorded run judges against ---------------------

# --- 06: what root in a box may do ---------------------------------------------------------------


def judge_root_can(predicted: dict, measured: dict[str, bool]) -> Verdict:
    """A wrong answer is told how many actions differ and to ask which layer decides each — never
    which action (with yes/no answers, naming it would give the answer away)."""
    unknown = sorted(set(predicted) - set(measured))
    if unknown:
        return Verdict(False, f"not an action of this exercise: {_few(unknown)} (the actions: {', '.join(measured)})")
    missing = [a for a in measured if not isinstance(predicted.get(a), bool)]
    if missing:
        return Verdict(False, f"predict True or False for every action; not yet: {_few(missing)}")
    wrong = [a for a in measured if predicted[a] != measured[a]]
    if wrong:
        return Verdict(False, f"{len(measured) - len(wrong)} of {len(measured)} predictions match what root "
                              "in a default container could do. For each action, ask which power of root it "
                              "needs and whether that power is on docker's short list of capabilities "
                              "(CapEff in /proc/self/status inside a container); then whether a later layer "
                              "refuses it anyway: the seccomp filter, a nodev mount or the devices cgroup")
    can = [a for a in measured if measured[a]]
    return Verdict(True, f"all {len(measured)} right: root in a default container could {', '.join(can)}, "
                         "and nothing else of the list")


def root_can(predicted, *, image: str = "host") -> Verdict | None:
    """Predict for each action of :data:`ROOT_ACTIONS` whether root in a default container can do it;
    the check tries each in a container of its own."""
    if unanswered(predicted):
        return _your_turn()
    if not isinstance(predicted, dict):
        return _say(Verdict(False, "give a dict: action → True or False"))
    # root of a default container, as a root host starts it: a rootless container's root is another
    # (a user namespace's, with mknod and chown of unmapped ids refused), so a rootless host replays
    recorded = _recorded("security", {"root"})
    if recorded is not None and set(recorded) != set(ROOT_ACTIONS):   # none, or an older list's
        return _say(_not_recorded("these actions"))
    v = judge_root_can(predicted, recorded or runs.measure_root_actions(image=image))
    return _say(_from_recording(v) if recorded is not None else v)


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
    "network": ({"predicted": {("c", "host@bridge"): True, ("a", "host@exercise"): True,
                               ("a", "outside"): False, ("outside", "c"): False}},
                "The host's address on another network is still one of the host's own addresses: a ping to "
                "it is delivered to the host (the input path), while boxkit keeps networks apart in its "
                "nftables forward chain, which such a packet never passes; so c reaches host@bridge and a "
                "reaches host@exercise. a's network has no --nat: a ping that leaves the host carries a's "
                "own address, in a subnet private to this host, and the outside knows no route back to it, "
                "so no reply comes. Nor can the outside begin a conversation with c: it has no route to c's "
                "subnet, and masquerade only rewrites connections that a container starts."),
    "shop": ({"memory": SHOP_MEMORY, "predicted": 640},
             "Under 30 MiB the idle shop already uses about 10 MiB (python and the HTTP server), which leaves "
             "about 20 MiB, and 20 MiB / 32 KiB per order is 640 orders."),
    "security": ({"predicted": {"chown a file": True, "listen on port 80": True, "ptrace a sibling process": True,
                                "change the hostname": False, "set the clock": False,
                                "load a kernel module": False, "read the kernel log": False,
                                "read the host's disk through a node it makes": False}},
                 "Docker's default capabilities include CAP_CHOWN and CAP_NET_BIND_SERVICE, so chown and port "
                 "80 work. ptrace needs no capability between two processes of the same uid and the same "
                 "capabilities, and docker's profile allows it (a host with Yama's ptrace_scope 1 or more "
                 "would refuse a sibling). sethostname needs CAP_SYS_ADMIN, the clock CAP_SYS_TIME, a module "
                 "CAP_SYS_MODULE and the kernel log CAP_SYSLOG, all dropped; the seccomp filter, which lets "
                 "those four calls through only for a container holding the capability, refuses them too. "
                 "CAP_MKNOD is kept, so the node is made, but opening it is refused: the container's file "
                 "systems are mounted nodev, and on cgroup v1 the devices cgroup refuses the disk too."),
}


def solution(name: str) -> dict:
    """Show the reference answer of exercise ``name`` (namespaces, memory, overlay, network, shop, security) and
    why it is right; returns it as the checker's keyword arguments. Try first: the check will tell you."""
    if name not in SOLUTIONS:
        raise ValueError(f"no exercise {name!r}: the exercises are {', '.join(SOLUTIONS)}")
    return show_answer(*SOLUTIONS[name])


def show_answer(answer: dict, why: str) -> dict:
    """Print a reference answer (the checker's keyword arguments) and the reasoning behind it; return
    the answer. Every chapter's ``solution()`` ends here."""
    for k, v in answer.items():
        print(f"{k} = {v!r}")
    print(why)
    return answer
