"""Notebook 07's exercise: the OCI chain (an OCI bundle's config.json, as boxkit-runtime honours it).

A runtime does what ``config.json`` says and nothing else. The exercise's bundle is the one
``runc spec`` writes (:func:`bundle_config`): a read-only root, the capabilities ``CAP_AUDIT_WRITE``,
``CAP_KILL`` and ``CAP_NET_BIND_SERVICE``, user 0, five new namespaces, and **no** ``linux.seccomp``:
a runtime loads a filter only when the bundle carries one (docker and podman write one unless told not to; this
bundle was written by hand). The learner picks one edit of :data:`EDITS`, predicts for each action of
:data:`ACTIONS` whether the container's shell can do it, and the checker runs ``boxkit-runtime
create`` and ``start`` on the edited bundle and reads what the shell printed.

The reasons, for the solution and the hints (never printed as the answer):

* a read-only root is a read-only *mount*: a write to it fails (EROFS) whatever the writer's
  capabilities, and a new mount on top of one of its directories writes nothing to it; but
  ``CAP_SYS_ADMIN`` may first remount it read-write (``mount -o remount,rw /``, tried on this bundle),
  so it holds only against a container without that capability;
* ``mount`` and ``sethostname`` need ``CAP_SYS_ADMIN``; binding a port below
  ``net.ipv4.ip_unprivileged_port_start`` (1024 in a new network namespace) needs
  ``CAP_NET_BIND_SERVICE``;
* capabilities(7): at ``execve`` a process whose uid is not 0 keeps in its permitted and effective sets
  only what file capabilities or the *ambient* set give it, so ``process.user.uid = 1000`` with the
  same bounding/effective/permitted lists runs with none.

It follows :mod:`boxkit.exercises` and keeps to the chapter-exercise interface ``tools/record.py``
and the tests use:

* ``NAME`` — the key of this exercise's measurements in the course recording;
* ``measure()`` — a dict of what the kernel did, recorded for hosts that cannot measure;
* ``check(predicted, edit=...)`` — prints and returns a :class:`boxkit.exercises.Verdict` (None while
  a ``...`` is left);
* ``solution()`` — shows the reference answer and why, for after the learner tried.

Course side: it drives the ``boxkit-runtime`` command as a learner would (a separate program, as
podman drives it), in a temporary directory it removes, and deletes its container even on failure.
"""

from __future__ import annotations

import copy
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

from .exercises import (
    Verdict,
    _from_recording,
    _not_recorded,
    _recorded,
    _say,
    _your_turn,
    show_answer,
    unanswered,
)
from .i18n import N_, _, ngettext

NAME = "oci"

CAPS = ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"]   # what runc spec writes

# action -> a shell line that prints KEY=1 when the container could do it, KEY=0 when refused
ACTIONS = {
    "write a file in /": ("write", "touch /probe 2>/dev/null && echo write=1 || echo write=0"),
    "mount a tmpfs on /tmp": ("mount", "mount -t tmpfs none /tmp 2>/dev/null && echo mount=1 || echo mount=0"),
    "change the hostname": ("hostname", "hostname edited 2>/dev/null && echo hostname=1 || echo hostname=0"),
    # nc either binds and listens (the socket shows in /proc/net/tcp*, state 0A) or exits: wait for
    # whichever comes first, by what the kernel shows, not by time
    "listen on port 80": ("port80", "nc -l -p 80 >/dev/null 2>&1 & p=$!; r=0; while :; do "
                                    "if cat /proc/net/tcp /proc/net/tcp6 2>/dev/null | grep -q ':0050 [0]*:0000 0A'; "
                                    "then r=1; break; fi; "
                                    "if [ ! -e /proc/$p ] || grep -q ') Z' /proc/$p/stat; then break; fi; done; "
                                    "kill $p 2>/dev/null; echo port80=$r"),
}


def _set_readonly_false(cfg: dict) -> None:
    cfg["root"]["readonly"] = False


def _add_sys_admin(cfg: dict) -> None:
    for s in ("bounding", "effective", "permitted"):
        cfg["process"]["capabilities"][s].append("CAP_SYS_ADMIN")


def _uid_1000(cfg: dict) -> None:
    cfg["process"]["user"]["uid"] = 1000


def _drop_net_bind(cfg: dict) -> None:
    for s in ("bounding", "effective", "permitted"):
        cfg["process"]["capabilities"][s].remove("CAP_NET_BIND_SERVICE")


# each edit changes one field of config.json
EDITS = {
    'root.readonly = False': _set_readonly_false,
    'add "CAP_SYS_ADMIN" to process.capabilities': _add_sys_admin,
    'process.user.uid = 1000': _uid_1000,
    'remove "CAP_NET_BIND_SERVICE" from process.capabilities': _drop_net_bind,
}


def bundle_config(args: list[str] | None = None) -> dict:
    """The exercise's config.json before the edit: what ``runc spec`` writes (the same fields as
    :func:`boxkit.oci.bundle.example_config`, which the unit tests compare), with ``args``."""
    return {
        "ociVersion": "1.0.2",
        "process": {"terminal": False, "user": {"uid": 0, "gid": 0}, "args": list(args or ["sh"]),
                    "env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],
                    "cwd": "/", "capabilities": {k: list(CAPS) for k in ("bounding", "effective", "permitted")},
                    "noNewPrivileges": True},
        "root": {"path": "rootfs", "readonly": True},
        "hostname": "boxkit",
        "mounts": [
            {"destination": "/proc", "type": "proc", "source": "proc"},
            {"destination": "/dev", "type": "tmpfs", "source": "tmpfs",
             "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]},
            {"destination": "/sys", "type": "sysfs", "source": "sysfs", "options": ["nosuid", "noexec", "nodev", "ro"]},
        ],
        "linux": {"namespaces": [{"type": t} for t in ("pid", "network", "ipc", "uts", "mount")]},
    }


def edited(edit: str, args: list[str] | None = None) -> dict:
    """The exercise's config.json after ``edit`` (one of :data:`EDITS`)."""
    cfg = copy.deepcopy(bundle_config(args))
    EDITS[edit](cfg)
    return cfg


def _runtime() -> list[str]:
    near = os.path.join(os.path.dirname(sys.executable), "boxkit-runtime")
    return [near if os.path.exists(near) else (shutil.which("boxkit-runtime") or "boxkit-runtime")]


def _rt(state: str, *args: str, stdout=None) -> subprocess.CompletedProcess:
    # output through files: a created container keeps the runtime's stdio (as with runc)
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        rc = subprocess.run([*_runtime(), "--root", state, *args], stdin=subprocess.DEVNULL,
                            stdout=stdout or out, stderr=err, timeout=60).returncode
        out.seek(0)
        err.seek(0)
        return subprocess.CompletedProcess(args, rc, out.read(), err.read())


def run_edit(edit: str) -> dict:
    """Create and start the edited bundle, wait for its shell to end, and return ``{action: bool}``,
    or ``{"failed": why}`` when a verb refused."""
    # lazy: the busybox root is built only when the check runs live
    from .images.base import _build_busybox

    script = "; ".join(line for _key, line in ACTIONS.values())
    work = tempfile.mkdtemp(prefix="boxkit-oci-exercise-")
    state, bundle, cid = os.path.join(work, "state"), os.path.join(work, "bundle"), "exercise-oci"
    try:
        os.makedirs(bundle)
        _build_busybox(os.path.join(bundle, "rootfs"))
        with open(os.path.join(bundle, "config.json"), "w") as f:
            json.dump(edited(edit, ["sh", "-c", script]), f, indent=2)
        out_path = os.path.join(work, "out")
        with open(out_path, "w") as out:
            p = _rt(state, "create", "--bundle", bundle, cid, stdout=out)
        if p.returncode != 0:
            # i18n: {error} is what boxkit-runtime printed
            return {"failed": _("boxkit-runtime create refused it: {error}").format(error=p.stderr.strip())}
        p = _rt(state, "start", cid)
        if p.returncode != 0:
            return {"failed": _("boxkit-runtime start refused it: {error}").format(error=p.stderr.strip())}
        deadline = time.monotonic() + 60   # a safety net only: the script ends by itself
        while time.monotonic() < deadline:
            st = _rt(state, "state", cid)
            if st.returncode != 0 or json.loads(st.stdout)["status"] == "stopped":
                break
            time.sleep(0.02)
        with open(out_path) as f:
            said = dict(line.split("=", 1) for line in f.read().split() if "=" in line)
        keys = {key: action for action, (key, _line) in ACTIONS.items()}
        if set(said) != set(keys):
            return {"failed": _("the container's shell did not report every action (it printed {said})")
                    .format(said=said)}
        return {keys[k]: v == "1" for k, v in said.items()}
    finally:
        _rt(state, "delete", "--force", cid)
        shutil.rmtree(work, ignore_errors=True)


def measure() -> dict:
    """Every edit, measured: ``{edit: {action: bool}}`` (the recording of this exercise)."""
    return {edit: run_edit(edit) for edit in EDITS}


def answer_problem(predicted, edit) -> str | None:
    """What is wrong with the shape of an answer (before anything runs), or None."""
    if edit not in EDITS:
        return _("{edit} is not one of the edits; pick one of: {edits}").format(edit=repr(edit),
                                                                               edits="; ".join(EDITS))
    if not isinstance(predicted, dict):
        return _("give a dict: action → True (the shell can) or False (refused)")
    unknown = sorted(map(repr, set(predicted) - set(ACTIONS)))
    if unknown:
        return _("not an action of this exercise: {unknown} (the actions: {actions})").format(
            unknown=", ".join(unknown), actions=", ".join(ACTIONS))
    missing = [a for a in ACTIONS if not isinstance(predicted.get(a), bool)]
    if missing:
        return _("predict True or False for every action; not yet: {missing}").format(missing=", ".join(missing))
    return None


def judge(edit: str, predicted: dict, measured: dict) -> Verdict:
    """``measured``: action → bool for ``edit``. A wrong answer is told how many actions differ and
    what decides each kind of action, never which action (with yes/no answers that would give it
    away)."""
    problem = answer_problem(predicted, edit)
    if problem:
        return Verdict(False, problem)
    if "failed" in measured:
        return Verdict(False, measured["failed"])
    wrong = [a for a in ACTIONS if predicted[a] != measured[a]]
    if wrong:
        right = len(ACTIONS) - len(wrong)
        return Verdict(False, ngettext(
            "{right} of {total} predictions match what the container's shell could do. For each action ask "
            "what decides it: a capability in the sets, and what execve does to those sets for a user other "
            "than root; the root mount's own flags; and whether this bundle asks for a seccomp filter at all",
            "{right} of {total} predictions match what the container's shell could do. For each action ask "
            "what decides it: a capability in the sets, and what execve does to those sets for a user other "
            "than root; the root mount's own flags; and whether this bundle asks for a seccomp filter at all",
            right).format(right=right, total=len(ACTIONS)))
    can = [a for a in ACTIONS if measured[a]]
    cannot = [a for a in ACTIONS if not measured[a]]
    # i18n: said in place of an empty list of actions ("the shell could: none of them")
    none = _("none of them")
    # i18n: {edit} is one edit of config.json as printed; {can} and {cannot} list action names
    return Verdict(True, _("after {edit}, the shell could: {can}; it was refused: {cannot}").format(
        edit=edit, can=", ".join(can) or none, cannot=", ".join(cannot) or none))


def check(predicted, *, edit) -> Verdict | None:
    """Predict for each action of :data:`ACTIONS` whether the container's shell can do it after
    ``edit`` (one of :data:`EDITS`); the check runs boxkit-runtime on the edited bundle."""
    if unanswered(predicted, edit):
        return _your_turn()
    problem = answer_problem(predicted, edit)
    if problem:
        return _say(Verdict(False, problem))
    recorded = _recorded(NAME, {"root"})
    if recorded is not None:
        measured = recorded.get(edit)
        if measured is None:
            return _say(_not_recorded(_("the edit {edit}").format(edit=repr(edit))))
    else:
        measured = run_edit(edit)
    v = judge(edit, predicted, measured)
    return _say(_from_recording(v) if recorded is not None else v)


SOLUTION = ({"edit": 'add "CAP_SYS_ADMIN" to process.capabilities',
             "predicted": {"write a file in /": False, "mount a tmpfs on /tmp": True,
                           "change the hostname": True, "listen on port 80": True}},
            N_("CAP_SYS_ADMIN lets root in the container mount and set the hostname of its own UTS "
               "namespace, and nothing else refuses them: this bundle has no linux.seccomp, so no filter "
               "is loaded (docker's and podman's bundles carry one unless told not to). Port 80 needs "
               "CAP_NET_BIND_SERVICE, which runc spec's list already holds. Writing to / stays refused: "
               "root.readonly makes the root a read-only mount, and the kernel refuses a write to a "
               "read-only mount whatever the writer's capabilities (EROFS); mounting a tmpfs over /tmp "
               "writes nothing to it. The same capability would let root remount / read-write first "
               "(mount -o remount,rw /), and then the write works: a read-only root holds only against a "
               "container without CAP_SYS_ADMIN. The other edits: root.readonly = False lets the write through; "
               "uid 1000 loses every capability at execve (no ambient set), so port 80 is refused too."))


def solution() -> dict:
    """Show the reference answer (one edit and its four predictions) and why; returns it as the
    checker's keyword arguments. Try first: the check will tell you."""
    answer, why = SOLUTION
    return show_answer(answer, _(why))
