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
from .i18n import N_, _, ngettext
from .images.upper import OPAQUE_XATTRS, UpperEntry, classify, in_layers, scan_upper  # noqa: F401
from .spec import parse_size

# the verdict's label, in the current language when it is printed (Verdict.__str__)
RIGHT, NOT_YET = N_("✓ right"), N_("✗ not yet")


@dataclass(frozen=True)
class Verdict:
    """What a checker found: ``ok`` and one sentence saying why (or what to look at next)."""

    ok: bool
    why: str

    def __str__(self) -> str:
        # i18n: a verdict line is "LABEL: WHY"; the label's symbol (✓, ✗) stays
        label = _("✓ right") if self.ok else _("✗ not yet")
        return f"{label}: {self.why}"

    def __bool__(self) -> bool:
        return self.ok

    def _ipython_display_(self) -> None:
        # the checker already printed the line; a notebook cell ending in the call shows it once
        pass


def _say(v: Verdict) -> Verdict:
    print(v, flush=True)
    return v


YOUR_TURN = N_("✎ your turn")


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
    # i18n: keep "✎" and the "..." (the placeholder the learner replaces, as the cell shows it)
    print(_("✎ your turn: replace each ... in the cell above with your prediction, then run this cell again"),
          flush=True)


def _recorded(name: str, needs: Iterable[str]):
    """None when this host measures live; else the measurements recorded for ``name`` (or {} if none)."""
    if not course.replaying(needs):
        return None
    return course.recorded_measurements(name) or {}


def _from_recording(v: Verdict) -> Verdict:
    # i18n: {why} is the verdict's own sentence; {run} says which kernel and when, e.g. "linux 6.8, 2026-12-03"
    return Verdict(v.ok, _("{why} (judged against a run recorded on {run}: this host cannot measure it)")
                   .format(why=v.why, run=course.recorded_on()))


def _not_recorded(what: str) -> Verdict:
    """The verdict for an answer the recording has no measurement for. ``what`` is a noun phrase that
    stands alone ("the three programs"), already in the learner's language: translate it where it is
    written, ``_not_recorded(_("the three programs"))``."""
    # i18n: {what} is a noun phrase such as "the three programs" or "the limit 40M"
    return Verdict(False, _("the recording has no measurement for {what}, and this host cannot measure it: "
                            "keep the exercise's own setting, or run the course where it runs live")
                   .format(what=what))


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
            # i18n: {name} is what the learner wrote, quoted; the names after "has" are /proc/PID/ns's own
            raise ValueError(_("unknown namespace {name}: /proc/PID/ns has mnt, pid, net, uts, ipc, user, "
                               "cgroup, time").format(name=repr(n)))
        out.add(PROC_NAMES[key])
    return out


def judge_namespaces(own: set[str], predicted: set[str], sees_host_processes: bool,
                     own_hostname: bool) -> Verdict:
    """The goal: the host's processes visible, a hostname of its own; and the prediction: exactly
    which ``/proc/PID/ns`` links differ from the host's (``own``, as measured). A wrong prediction is
    told how many links it got wrong and why to look again, never which."""
    if not sees_host_processes:
        return Verdict(False, _("ps inside shows only the container's own processes: it still has a PID "
                                "namespace of its own"))
    if not own_hostname:
        return Verdict(False, _("the hostname inside is the host's: without a UTS namespace the container "
                                "cannot have its own"))
    if own != predicted:
        missed, extra = own - predicted, predicted - own
        hints = []   # whole clauses, joined with "; "
        # the English says "link(s)" whatever the count (one form for both); a translation may use two
        if missed and missed - {"pid", "uts"}:
            hints.append(ngettext(
                "{n} link(s) you predicted shared are the container's own — boxkit.run adds a namespace you "
                "did not ask for: which one, and why?",
                "{n} link(s) you predicted shared are the container's own — boxkit.run adds a namespace you "
                "did not ask for: which one, and why?", len(missed)).format(n=len(missed)))
        elif missed:
            hints.append(ngettext("{n} link(s) you predicted shared are the container's own",
                                  "{n} link(s) you predicted shared are the container's own",
                                  len(missed)).format(n=len(missed)))
        if extra:
            hints.append(ngettext(
                "{n} link(s) you predicted its own are the host's: a namespace is new only when the clone "
                "asks for it",
                "{n} link(s) you predicted its own are the host's: a namespace is new only when the clone "
                "asks for it", len(extra)).format(n=len(extra)))
        # i18n: {hints} is one or two whole clauses joined with "; "
        return Verdict(False, _("the container works, but /proc/PID/ns differs from your prediction: {hints}")
                       .format(hints="; ".join(hints)))
    # i18n: {names} lists /proc/PID/ns names (mnt, net, uts), kept as they are
    return Verdict(True, _("ps inside lists the host's processes, the hostname is its own, and "
                           "/proc/PID/ns differs from the host's in exactly {names}")
                   .format(names=", ".join(sorted(own))))


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
            # i18n: {names} is a Python list of namespace names, e.g. ['ipc', 'mount']
            return _say(_not_recorded(_("the namespaces {names}").format(names=sorted(namespaces))))
    else:
        m = runs.measure_namespaces(namespaces, image=image)
    if "refused" in m:
        # i18n: {reason} is boxkit's error message, a sentence of its own
        v = Verdict(False, _("boxkit refused it: {reason}").format(reason=m["refused"]))
    else:
        v = judge_namespaces(set(m["own"]), predicted, m["sees_host_processes"], m["own_hostname"])
    return _say(_from_recording(v) if recorded is not None else v)


# --- 02: what a memory limit kills ----------------------------------------------------------------

OUTCOMES = ("finishes", "killed")


def charge_answer_problem(predicted, programs: list[str]) -> str | None:
    """What is wrong with the shape of an answer (before anything runs), or None."""
    # i18n: "finishes" and "killed" are the values the learner types: keep them in English, quoted
    if not isinstance(predicted, dict):
        return _("give a dict: program → \"finishes\" or \"killed\"")
    unknown = sorted(map(repr, set(predicted) - set(programs)))
    if unknown:
        # i18n: {unknown} are the names the learner wrote, {programs} the exercise's (heap, file, shm)
        return _("{unknown}: the programs are {programs}").format(unknown=", ".join(unknown),
                                                                   programs=", ".join(programs))
    bad = sorted({repr(v) for v in predicted.values() if v not in OUTCOMES})
    if bad:
        # i18n: {values} are the learner's values, quoted
        return _("predict \"finishes\" or \"killed\" for each program, not {values}").format(values=", ".join(bad))
    missing = [p for p in programs if p not in predicted]
    if missing:
        # i18n: {programs} are program names (heap, file, shm)
        return ngettext("predict every program: {programs} is left", "predict every program: {programs} is left",
                        len(missing)).format(programs=", ".join(missing))
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
        # i18n: one form in English for every count of {wrong}; a translation may agree its verb with it
        return Verdict(False, ngettext(
            "{wrong} of {total} predictions differ from what the kernel did. Every page a program brings into "
            "memory is charged to its group — the heap, a file's page cache, tmpfs alike — and at the limit "
            "the kernel first reclaims what it can: which of those pages can it drop or write back to a disk, "
            "when the group may not swap?",
            "{wrong} of {total} predictions differ from what the kernel did. Every page a program brings into "
            "memory is charged to its group — the heap, a file's page cache, tmpfs alike — and at the limit "
            "the kernel first reclaims what it can: which of those pages can it drop or write back to a disk, "
            "when the group may not swap?", len(wrong)).format(wrong=len(wrong), total=len(predicted)))
    peaks = ", ".join(f"{p} {m['peak'] / (1 << 20):.0f} MiB" for p, m in measured.items())
    # i18n: {peaks} reads "heap 48 MiB, file 47 MiB, shm 48 MiB" (program names and sizes, kept)
    return Verdict(True, _("all three were charged up to the limit ({peaks}); the file's pages could be "
                           "written back and dropped, the heap and tmpfs pages had nowhere to go").format(peaks=peaks))


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
        return _say(_not_recorded(_("the three programs")))
    v = judge_memory_charge(predicted, recorded or runs.measure_memory_charge())
    return _say(_from_recording(v) if recorded is not None else v)


# --- 03: what the upper dir holds -----------------------------------------------------------------

UPPER_KINDS = ("whiteout", "copy-up", "new", "opaque")


def _norm_path(p: str) -> str:
    return os.path.normpath("/" + str(p).strip()).lstrip("/")


# what each kind of entry means, for a caller that explains the kinds (the hints say it whole, _kind_hint)
KIND_MEANS = {"whiteout": N_("a whiteout marks an image file the command deleted"),
              "copy-up": N_("a copy-up is an image file the command changed (copied up whole first)"),
              "new": N_("a new entry is one the image never had"),
              "opaque": N_("an opaque dir is an image directory the command removed and made again")}


def _kind_hint(path: str, kind: str) -> str:
    """Why to look again at ``path``, predicted to be a ``kind``: what that kind means (KIND_MEANS),
    asked as one whole sentence."""
    # i18n: {path} is a path in the container (bin/ls); whiteout, copy-up, opaque are the kernel's terms
    if kind == "whiteout":
        return _("{path}: a whiteout marks an image file the command deleted — is that what the command "
                 "did to it?").format(path=path)
    if kind == "copy-up":
        return _("{path}: a copy-up is an image file the command changed (copied up whole first) — is that "
                 "what the command did to it?").format(path=path)
    if kind == "new":
        return _("{path}: a new entry is one the image never had — is that what the command did to "
                 "it?").format(path=path)
    return _("{path}: an opaque dir is an image directory the command removed and made again — is that "
             "what the command did to it?").format(path=path)


def _upper_failed(m: dict) -> str:
    """The sentence for a command that failed in the container (measure_upper's ``failed``)."""
    if "exit_code" not in m:
        return m["failed"]
    if m.get("said"):
        # i18n: {said} is the first line the command printed to stderr, as it printed it
        return _("the command failed in the container (exit {code}): {said}").format(code=m["exit_code"],
                                                                                    said=m["said"])
    return _("the command failed in the container (exit {code})").format(code=m["exit_code"])


def judge_upper(found: dict[str, str], predicted: dict[str, str]) -> Verdict:
    """``found``: what the upper dir holds (path → kind), ``predicted`` the learner's. A wrong answer is
    told why to look again at each path it got wrong, never what that path is."""
    # i18n: {value} is the learner's value, quoted; {kinds} are whiteout, copy-up, new, opaque (typed as is)
    bad = [_("{value} is not one of {kinds}").format(value=repr(k), kinds=", ".join(UPPER_KINDS))
           for k in sorted(set(map(str, predicted.values())) - set(UPPER_KINDS))]
    if bad:
        return Verdict(False, _few(bad))
    predicted = {_norm_path(p): k for p, k in predicted.items()}
    if found == predicted:
        # i18n: {entries} reads "bin/ls (whiteout), etc/passwd (copy-up)": paths and kinds, kept
        return Verdict(True, _("the upper dir holds exactly {entries}")
                       .format(entries=", ".join(f"{p} ({k})" for p, k in sorted(found.items()))))
    hints = [_kind_hint(p, predicted[p]) for p in sorted(found) if p in predicted and found[p] != predicted[p]]
    more = len(set(found) - set(predicted))
    if more:
        # i18n: the English says "path(s)" whatever the count; a translation may use two forms
        hints.append(ngettext("{n} more path(s) are in the upper dir: every change lands there, a changed or "
                              "deleted image file as much as a new one",
                              "{n} more path(s) are in the upper dir: every change lands there, a changed or "
                              "deleted image file as much as a new one", more).format(n=more))
    # "not found", not "not in the upper dir": a directory the image has, which only holds a changed
    # path, is in the upper dir too, but the check lists only what the command changed itself
    hints += [_("{path} is not among what the command changed: does the command write, delete or make it?")
              .format(path=p) for p in sorted(set(predicted) - set(found))]
    return Verdict(False, _few(hints))


def overlay_upper(command: str, predicted, *, image: str = "busybox") -> Verdict | None:
    """Run ``command`` (a shell line) in a container of ``image`` and compare what it left in the upper
    dir with ``predicted`` (path → one of UPPER_KINDS)."""
    if unanswered(command, predicted):
        return _your_turn()
    if not isinstance(predicted, dict):
        # i18n: {kinds} are whiteout, copy-up, new, opaque: the values the learner types, kept
        return _say(Verdict(False, _("give a dict: path → one of {kinds}").format(kinds=", ".join(UPPER_KINDS))))
    recorded = _recorded("overlay", set())
    if recorded is not None:
        m = recorded.get(command)
        if m is None:
            # i18n: {command} is the learner's shell line, quoted
            return _say(_not_recorded(_("the command {command}").format(command=repr(command))))
    else:
        m = runs.measure_upper(command, image=image)
    v = Verdict(False, _upper_failed(m)) if "failed" in m else judge_upper(m["found"], predicted)
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
            # i18n: {key} is the learner's key, quoted; {places} and {gateways} are names the learner types
            raise ValueError(_("{key}: give pairs (from, to) like ('a', 'b'): from one of {places}; to another "
                               "of them or one of {gateways}").format(key=repr(key), places=", ".join(PLACES),
                                                                      gateways=", ".join(GATEWAYS)))
        if not isinstance(value, bool):
            # i18n: True and False are Python's values: keep them
            raise ValueError(_("{key}: predict True (it answers) or False (it does not)").format(key=repr(key)))
        out[(parts[0], parts[1])] = value
    return out


def _pair_reason(pair: tuple[str, str]) -> str:
    """What to think about for a kind of pair: a reason to look again, never whether it answers."""
    src, dst = pair
    # i18n: one of the things to think about, after "Think again about:"; several are joined with "; "
    if dst in GATEWAYS:
        return _("is a ping to one of the host's own addresses forwarded through the host, or delivered "
                 "to it? Which chains of boxkit's nftables table see each of those two kinds of packet?")
    if src == "outside" and dst in NETWORK_OF:
        return _("a container's address is in a subnet private to this host: what does the outside know "
                 "about reaching it, and for which connections does NAT rewrite addresses?")
    if dst == "outside" and src in NETWORK_OF:
        return _("the outside knows only its own link: which source address must a packet carry for the "
                 "reply to find its way back, and who rewrites it (a network made with --nat)?")
    if "outside" in pair:
        return _("the host and the outside are the two ends of one veth pair: is a router needed between them?")
    if "host" in pair:
        return _("a container's default route points at its network's gateway: who holds that address?")
    if NETWORK_OF[src] == NETWORK_OF[dst]:
        return _("a bridge passes frames between its own ports, like a switch")
    return _("between two bridges only the host could carry a packet: does it forward "
             "(net.ipv4.ip_forward), and what does boxkit's nftables forward chain say?")


def judge_reachability(predicted: dict[tuple[str, str], bool], measured: dict[tuple[str, str], bool]) -> Verdict:
    """A wrong answer is told how many pairs differ and what to think about for those kinds of pair —
    never which pair (with yes/no answers, naming it would give the answer away)."""
    def say(pair: tuple[str, str], yes: bool) -> str:
        # i18n: {src} and {dst} are names of the exercise (a, b, c, host, outside, host@bridge)
        if yes:
            return _("{src} → {dst} answers").format(src=pair[0], dst=pair[1])
        return _("{src} → {dst} does not answer").format(src=pair[0], dst=pair[1])
    wrong = [p for p in predicted if measured[p] != predicted[p]]
    if wrong:
        reasons = list(dict.fromkeys(_pair_reason(p) for p in wrong))
        # i18n: {reasons} are whole questions or clauses joined with "; "
        return Verdict(False, ngettext("{wrong} of {total} predictions differ from what ping measured. "
                                       "Think again about: {reasons}",
                                       "{wrong} of {total} predictions differ from what ping measured. "
                                       "Think again about: {reasons}", len(wrong))
                       .format(wrong=len(wrong), total=len(predicted), reasons="; ".join(reasons)))
    # i18n: {pairs} are whole clauses ("a → b answers") joined with "; "
    return Verdict(True, ngettext("all {total} predictions match what ping measured: {pairs}",
                                  "all {total} predictions match what ping measured: {pairs}", len(predicted))
                   .format(total=len(predicted), pairs="; ".join(say(p, v) for p, v in predicted.items())))


def reachability(predicted, *, image: str = "busybox") -> Verdict | None:
    """Predict for pairs of a, b, c and host whether a ping gets an answer; the check starts the three
    containers and pings each pair in ``predicted`` once."""
    if unanswered(predicted):
        return _your_turn()
    try:
        pairs = parse_pairs(predicted)
    except (ValueError, AttributeError) as e:
        return _say(Verdict(False, str(e) if isinstance(e, ValueError) else _("give a dict: (from, to) → True or False")))
    recorded = _recorded("network", {"network"})
    if recorded is not None:
        measured = {tuple(k.split("->")): v for k, v in recorded.items()}
        missing = [f"{s} → {d}" for s, d in pairs if (s, d) not in measured]
        if missing:
            # i18n: {pings} lists pairs such as "a → outside, c → b"
            return _say(_not_recorded(_("the pings {pings}").format(pings=", ".join(missing))))
    else:
        measured = runs.measure_reachability(pairs, image=image)
    v = judge_reachability(pairs, measured)
    return _say(_from_recording(v) if recorded is not None else v)


# --- 05: orders until the OOM killer --------------------------------------------------------------


def judge_shop(predicted: int, served: int, oom_killed: bool, survived: bool, memory: str,
               tolerance: float = 0.2) -> Verdict:
    """A wrong estimate is told whether it is too high or too low and what to think about, never the
    count that was measured."""
    # i18n: {memory} is a memory limit as the learner wrote it (30M)
    if survived:
        return Verdict(False, _("the shop survived every order the check sends under {memory}: each order keeps "
                                "32 KiB, so pick a limit the orders can reach").format(memory=memory))
    if not oom_killed:
        return Verdict(False, _("the shop stopped, but not by the OOM killer"))
    if served == 0:
        return Verdict(False, _("the OOM killer ended the shop before its first order: python needs "
                                "about 10 MiB just to start, more than {memory}").format(memory=memory))
    within = f"{tolerance:.0%}"
    if abs(served - predicted) > tolerance * predicted:
        # i18n: {within} is a percentage (20%), {predicted} the learner's count of orders
        if predicted > served:
            why = ngettext("not within {within} of {predicted} orders under {memory}: too many: the shop used "
                           "memory before its first order — how much, and is it yours to spend?",
                           "not within {within} of {predicted} orders under {memory}: too many: the shop used "
                           "memory before its first order — how much, and is it yours to spend?", predicted)
        else:
            why = ngettext("not within {within} of {predicted} orders under {memory}: too few: each order keeps "
                           "32 KiB, and little else grows per order",
                           "not within {within} of {predicted} orders under {memory}: too few: each order keeps "
                           "32 KiB, and little else grows per order", predicted)
        return Verdict(False, why.format(within=within, predicted=predicted, memory=memory))
    # i18n: exit 137 is the exit status (128 + SIGKILL's 9)
    return Verdict(True, ngettext("the OOM killer (exit 137) ended the shop after {served} orders under {memory}, "
                                  "within {within} of the {predicted} you predicted",
                                  "the OOM killer (exit 137) ended the shop after {served} orders under {memory}, "
                                  "within {within} of the {predicted} you predicted", served)
                   .format(served=served, memory=memory, within=within, predicted=predicted))


def shop_orders(memory: str, predicted, *, port: int = 18089, tolerance: float = 0.2) -> Verdict | None:
    """Run the capstone's shop under ``memory`` and send orders one by one until it dies; right when the
    OOM killer ended it within ``tolerance`` of ``predicted`` orders."""
    if unanswered(memory, predicted):
        return _your_turn()
    if not isinstance(predicted, int) or isinstance(predicted, bool) or predicted <= 0:
        return _say(Verdict(False, _("predict a whole number of orders, like 500")))
    try:
        parse_size(memory)
    except SpecError as e:
        return _say(Verdict(False, str(e)))
    recorded = _recorded("shop", {"cgroups", "network"})
    if recorded is not None:
        m = recorded.get(str(memory))
        if m is None:
            # i18n: {memory} is a memory limit (40M)
            return _say(_not_recorded(_("the limit {memory}").format(memory=memory)))
    else:
        m = runs.measure_shop(str(memory), port=port)
    if "refused" in m:
        v = Verdict(False, _("boxkit refused it: {reason}").format(reason=m["refused"]))
    else:
        v = judge_shop(predicted, m["served"], m["oom_killed"], m["survived"], str(memory), tolerance)
    return _say(_from_recording(v) if recorded is not None else v)


# --- the reference answers, and the measurements a recorded run judges against ---------------------

# --- 06: what root in a box may do ---------------------------------------------------------------


def judge_root_can(predicted: dict, measured: dict[str, bool]) -> Verdict:
    """A wrong answer is told how many actions differ and to ask which layer decides each — never
    which action (with yes/no answers, naming it would give the answer away)."""
    # i18n: an action's name ("chown a file") is a key the learner types: it stays in English
    unknown = sorted(set(predicted) - set(measured))
    if unknown:
        return Verdict(False, _("not an action of this exercise: {unknown} (the actions: {actions})")
                       .format(unknown=_few(unknown), actions=", ".join(measured)))
    missing = [a for a in measured if not isinstance(predicted.get(a), bool)]
    if missing:
        # i18n: True and False are Python's values; {actions} are the actions' names (English keys)
        return Verdict(False, _("predict True or False for every action; not yet: {actions}")
                       .format(actions=_few(missing)))
    wrong = [a for a in measured if predicted[a] != measured[a]]
    if wrong:
        right = len(measured) - len(wrong)
        return Verdict(False, ngettext(
            "{right} of {total} predictions match what root in a default container could do. For each "
            "action, ask which power of root it needs and whether that power is on docker's short list of "
            "capabilities (CapEff in /proc/self/status inside a container); then whether a later layer "
            "refuses it anyway: the seccomp filter, a nodev mount or the devices cgroup",
            "{right} of {total} predictions match what root in a default container could do. For each "
            "action, ask which power of root it needs and whether that power is on docker's short list of "
            "capabilities (CapEff in /proc/self/status inside a container); then whether a later layer "
            "refuses it anyway: the seccomp filter, a nodev mount or the devices cgroup", right)
            .format(right=right, total=len(measured)))
    can = [a for a in measured if measured[a]]
    # i18n: {actions} are the actions' names as the learner types them ("chown a file, listen on port 80")
    return Verdict(True, _("all {total} right: root in a default container could {actions}, and nothing "
                           "else of the list").format(total=len(measured), actions=", ".join(can)))


def root_can(predicted, *, image: str = "host") -> Verdict | None:
    """Predict for each action of :data:`ROOT_ACTIONS` whether root in a default container can do it;
    the check tries each in a container of its own."""
    if unanswered(predicted):
        return _your_turn()
    if not isinstance(predicted, dict):
        return _say(Verdict(False, _("give a dict: action → True or False")))
    # root of a default container, as a root host starts it: a rootless container's root is another
    # (a user namespace's, with mknod and chown of unmapped ids refused), so a rootless host replays
    recorded = _recorded("security", {"root"})
    if recorded is not None and set(recorded) != set(ROOT_ACTIONS):   # none, or an older list's
        return _say(_not_recorded(_("these actions")))
    v = judge_root_can(predicted, recorded or runs.measure_root_actions(image=image))
    return _say(_from_recording(v) if recorded is not None else v)


# the reference answers (the checkers' keyword arguments: names the learner types, kept in English) and
# the reasoning, marked for translation: show_answer says it in the current language
SOLUTIONS = {
    "namespaces": ({"namespaces": ["mount", "uts"], "own": {"mnt", "uts", "net"}},
                   N_("Leave out pid so the container shares the host's PID namespace (ps shows every host "
                      "process), ask for uts so it may set its own hostname, and mount because boxkit needs a "
                      "mount namespace to give it its own root. boxkit.run adds net too (a container gets an "
                      "empty network namespace unless you ask for network=\"host\"), so /proc/PID/ns differs "
                      "in mnt, uts and net.")),
    "memory": ({"predicted": {"heap": "killed", "file": "finishes", "shm": "killed"}},
               N_("All three are charged to the group up to the limit. The file's pages are page cache with "
                  "a disk behind them: the kernel writes them back and drops them, so dd finishes. The heap's "
                  "pages (anonymous memory) and /dev/shm's (tmpfs: memory with no disk behind it) can only "
                  "go to swap, and this host gives the group none: the OOM killer ends both.")),
    "overlay": ({"command": UPPER_COMMANDS[0],
                 "predicted": {"bin/ls": "whiteout", "etc/passwd": "copy-up", "tmp/note": "new"}},
                N_("rm leaves a whiteout (a 0/0 character device) over the image's /bin/ls; appending to "
                   "/etc/passwd copies the whole file up first; /tmp/note is new (/tmp itself is in the image, "
                   "so it is only the parent of a new entry and not listed).")),
    "network": ({"predicted": {("c", "host@bridge"): True, ("a", "host@exercise"): True,
                               ("a", "outside"): False, ("outside", "c"): False}},
                N_("The host's address on another network is still one of the host's own addresses: a ping to "
                   "it is delivered to the host (the input path), while boxkit keeps networks apart in its "
                   "nftables forward chain, which such a packet never passes; so c reaches host@bridge and a "
                   "reaches host@exercise. a's network has no --nat: a ping that leaves the host carries a's "
                   "own address, in a subnet private to this host, and the outside knows no route back to it, "
                   "so no reply comes. Nor can the outside begin a conversation with c: it has no route to c's "
                   "subnet, and masquerade only rewrites connections that a container starts.")),
    "shop": ({"memory": SHOP_MEMORY, "predicted": 640},
             N_("Under 30 MiB the idle shop already uses about 10 MiB (python and the HTTP server), which leaves "
                "about 20 MiB, and 20 MiB / 32 KiB per order is 640 orders.")),
    "security": ({"predicted": {"chown a file": True, "listen on port 80": True, "ptrace a sibling process": True,
                                "change the hostname": False, "set the clock": False,
                                "load a kernel module": False, "read the kernel log": False,
                                "read the host's disk through a node it makes": False}},
                 N_("Docker's default capabilities include CAP_CHOWN and CAP_NET_BIND_SERVICE, so chown and port "
                    "80 work. ptrace needs no capability between two processes of the same uid and the same "
                    "capabilities, and docker's profile allows it (a host with Yama's ptrace_scope 1 or more "
                    "would refuse a sibling). sethostname needs CAP_SYS_ADMIN, the clock CAP_SYS_TIME, a module "
                    "CAP_SYS_MODULE and reading the kernel log CAP_SYSLOG when kernel.dmesg_restrict is 1 (with "
                    "0 anyone may read it), all dropped; the seccomp filter, which lets those four calls through "
                    "only for a container holding the capability, refuses them too, and for the log it is what "
                    "decides on any host. "
                    "CAP_MKNOD is kept, so the node is made, but opening it is refused: the container's file "
                    "systems are mounted nodev, and on cgroup v1 the devices cgroup refuses the disk too.")),
}


def solution(name: str) -> dict:
    """Show the reference answer of exercise ``name`` (namespaces, memory, overlay, network, shop, security) and
    why it is right; returns it as the checker's keyword arguments. Try first: the check will tell you."""
    if name not in SOLUTIONS:
        # i18n: {name} is what was asked for, quoted; {names} are the exercises' names as solution() takes them
        raise ValueError(_("no exercise {name}: the exercises are {names}").format(name=repr(name),
                                                                                   names=", ".join(SOLUTIONS)))
    answer, why = SOLUTIONS[name]
    return show_answer(answer, _(why))   # why: a message marked with N_ above


def show_answer(answer: dict, why: str) -> dict:
    """Print a reference answer (the checker's keyword arguments) and the reasoning behind it; return
    the answer. Every chapter's ``solution()`` ends here. ``why`` is already in the learner's language
    (``show_answer(answer, _(WHY))``, ``WHY`` marked with ``N_``)."""
    for k, v in answer.items():
        print(f"{k} = {v!r}")
    print(why)
    return answer
