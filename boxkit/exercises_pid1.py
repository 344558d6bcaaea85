"""Notebook 09's exercise: which signal ends a container that ``docker stop`` stops.

``stop(timeout=GRACE)`` sends ``SIGTERM`` to the container's PID 1 and, if the container is still
there when the grace period runs out, ``SIGKILL``. Notebook 09 showed two cases (``sleep`` as PID 1:
SIGKILL; ``init=True``: SIGTERM, forwarded). The exercise asks the same question of five shell
commands, run by busybox ``sh -c`` as the container's command, some with ``init=True``. Three things
decide each one, all of which the kernel and POSIX define:

* the kernel drops a signal sent to a PID namespace's init that the init has no handler for (sent
  from inside, the default action never applies to PID 1; from the host only SIGKILL and SIGSTOP get
  through); any other process gets the default action, which for SIGTERM ends it;
* a signal set to be ignored (``trap '' TERM``) stays ignored in the children the shell starts, across
  ``fork`` and ``execve``;
* a shell runs a trap only when the foreground command it waits for has finished; the ``wait``
  builtin, by contrast, returns at once when a trapped signal arrives, and the trap runs (POSIX,
  "Shell Command Language", 2.11 Signals and Error Handling, and ``wait``).

It follows :mod:`boxkit.exercises` (you predict, a checker measures on the kernel, a hint says why,
never the answer) and keeps to the interface ``tools/record.py`` and the tests use:

* ``NAME`` — the key of this exercise's measurements in the course recording;
* ``measure()`` — a dict of what the kernel did, recorded for hosts that cannot measure;
* ``check(predicted)`` — prints and returns a :class:`boxkit.exercises.Verdict` (None while a ``...``
  is left);
* ``solution()`` — shows the reference answer and why, for after the learner tried.

The check starts the five containers, waits until each has started its ``sleep 300`` (so every trap
is set: a count, not a delay), sends each SIGTERM at once, and after the grace period sends SIGKILL to
those still there. What it reports is which signal ended each one, never how long it took.
"""

from __future__ import annotations

import signal
import time

from . import exercises
from .exercises import Verdict
from .i18n import N_, _, ngettext

NAME = "pid1"
GRACE = 3          # seconds between SIGTERM and SIGKILL, as stop(timeout=GRACE)
IMAGE = "busybox"
SIGNALS = ("SIGTERM", "SIGKILL")

# name -> (the command busybox sh -c runs, init=True?)
CASES = {
    "shell": ("sleep 300; echo done", False),
    "shell with a trap": ("trap 'exit 7' TERM; sleep 300; echo done", False),
    "shell with a trap, in wait": ("trap 'exit 7' TERM; sleep 300 & wait", False),
    "init=True, shell": ("sleep 300; echo done", True),
    "init=True, shell ignoring TERM": ("trap '' TERM; sleep 300; echo done", True),
}

# each case has started its sleep: every trap before it is set
_READY = "until ps -o args | grep -q '^sleep 300'; do sleep 0.01; done"


def show() -> None:
    """Print the five cases: the name to predict for, init=True or not, and the command."""
    for name, (command, init) in CASES.items():
        print(f"{name:32} init={init!s:5}  sh -c \"{command}\"")


def measure(grace: float = GRACE) -> dict[str, dict]:
    """Run every case and stop it as ``docker stop -t GRACE`` does: case → ``{"ended_by": "SIGTERM" or
    "SIGKILL", "exit_code": n}``. All five get their SIGTERM together, so the whole check waits out
    one grace period, not five."""
    import boxkit

    started = {}
    try:
        for name, (command, init) in CASES.items():
            started[name] = boxkit.run(IMAGE, ["sh", "-c", command], detach=True, init=init)
        for c in started.values():
            c.exec(_READY, timeout=60)
        for c in started.values():
            c.kill(signal.SIGTERM)
        deadline = time.monotonic() + grace
        out = {}
        for name, c in started.items():
            # wait() sends SIGKILL when its time is up and marks the result timed_out
            r = c.wait(max(0.5, deadline - time.monotonic()))
            out[name] = {"ended_by": "SIGKILL" if r.timed_out else "SIGTERM", "exit_code": r.exit_code}
        return out
    finally:
        for c in started.values():
            c.remove()


def normalize(value) -> str | None:
    """``"SIGTERM"``, ``"term"``, ``15`` or ``signal.SIGTERM`` → ``"SIGTERM"`` (likewise SIGKILL);
    None for anything else."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        try:
            value = signal.Signals(value).name
        except ValueError:
            return None
    if not isinstance(value, str):
        return None
    name = value.strip().upper()
    name = name if name.startswith("SIG") else "SIG" + name
    return name if name in SIGNALS else None


def answer_problem(predicted) -> str | None:
    """What is wrong with the shape of an answer (before anything runs), or None."""
    if not isinstance(predicted, dict):
        return _('give a dict: case → "SIGTERM" or "SIGKILL"')
    unknown = sorted(map(repr, set(predicted) - set(CASES)))
    if unknown:
        return _("{unknown}: the cases are {cases}").format(unknown=", ".join(unknown), cases=", ".join(CASES))
    bad = sorted({repr(v) for v in predicted.values() if normalize(v) is None})
    if bad:
        return _('predict "SIGTERM" or "SIGKILL" for each case, not {values}').format(values=", ".join(bad))
    missing = [n for n in CASES if n not in predicted]
    if missing:
        return ngettext("predict every case: {missing} is left", "predict every case: {missing} is left",
                        len(missing)).format(missing=", ".join(missing))
    return None


def judge(predicted: dict, measured: dict[str, dict]) -> Verdict:
    """A wrong answer is told how many cases differ and what to ask of every case — never which case
    (with two possible answers, naming it would give the answer away)."""
    problem = answer_problem(predicted)
    if problem:
        return Verdict(False, problem)
    wrong = [n for n in CASES if normalize(predicted[n]) != measured[n]["ended_by"]]
    if wrong:
        right = len(CASES) - len(wrong)
        return Verdict(False, ngettext(
            "{right} of {total} predictions match what stop() measured. For each case ask: which process "
            "does the SIGTERM reach (the container's PID 1; boxkit-init passes it on to its one child), is that "
            "process PID 1, has it a handler or is the signal ignored, and when does a shell run a trap: at "
            "once, or after the command it waits for?",
            "{right} of {total} predictions match what stop() measured. For each case ask: which process "
            "does the SIGTERM reach (the container's PID 1; boxkit-init passes it on to its one child), is that "
            "process PID 1, has it a handler or is the signal ignored, and when does a shell run a trap: at "
            "once, or after the command it waits for?", right).format(right=right, total=len(CASES)))
    said = [_("{case} ended by {signal} (exit {code})").format(case=n, signal=m["ended_by"], code=m["exit_code"])
            for n, m in measured.items()]
    # i18n: {results} lists "<case> ended by <signal> (exit <code>)", joined with "; "
    return Verdict(True, _("every case as you predicted: {results}").format(results="; ".join(said)))


def check(predicted) -> Verdict | None:
    """Predict for each case of :data:`CASES` which signal ends it when stopped with a grace period:
    ``"SIGTERM"`` (it ends on the SIGTERM) or ``"SIGKILL"`` (it is still there when the grace period
    runs out). The check runs all five (about GRACE seconds) and compares."""
    if exercises.unanswered(predicted):
        return exercises._your_turn()
    problem = answer_problem(predicted)
    if problem:
        return exercises._say(Verdict(False, problem))
    recorded = exercises._recorded(NAME, set())
    if recorded is not None and set(recorded) != set(CASES):
        return exercises._say(exercises._not_recorded(_("the five cases")))
    v = judge(predicted, recorded if recorded is not None else measure())
    return exercises._say(exercises._from_recording(v) if recorded is not None else v)


SOLUTION = {"shell": "SIGKILL", "shell with a trap": "SIGKILL", "shell with a trap, in wait": "SIGTERM",
            "init=True, shell": "SIGTERM", "init=True, shell ignoring TERM": "SIGKILL"}

WHY = N_("shell: sh is PID 1 and has no handler for SIGTERM, so the kernel drops it; the sleep is not "
         "PID 1, but stop() signals only PID 1, so nothing happens until SIGKILL (exit 137). "
         "shell with a trap: sh now has a handler, but a shell runs a trap only after the foreground "
         "command it waits for has finished, and sleep 300 outlasts the grace period: SIGKILL. "
         "shell with a trap, in wait: the wait builtin returns at once when a trapped signal arrives, the "
         "trap runs and exits 7: SIGTERM was enough. "
         "init=True, shell: boxkit-init passes SIGTERM on to sh, which is PID 2 there: the default action "
         "applies and ends it, boxkit-init exits with 128 + 15 = 143 and the kernel kills the sleep left "
         "behind. init=True, shell ignoring TERM: the forwarded SIGTERM reaches sh, which ignores it, and "
         "so does the sleep it started (an ignored signal stays ignored across fork and exec): SIGKILL.")


def solution() -> dict:
    """Show the reference answer and why it is right; returns it as ``check``'s keyword arguments.
    Try first: the check will tell you."""
    return exercises.show_answer({"predicted": dict(SOLUTION)}, _(WHY))
