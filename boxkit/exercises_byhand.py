"""Notebook 08's exercise: a container by hand, in another order — which step does the kernel refuse?

The notebook makes the steps in an order that works, and its ``Box`` refuses any other by name before
the kernel sees it. ``Box(strict=False)`` lets the kernel judge instead (keeping only what protects
the host). The exercise gives four recipes, each the notebook's order with one step moved or left out,
and asks for each: the first step that fails and its errno, or ``None`` when every step passes and the
command runs. The checker runs each recipe in a box of its own and compares.

It follows :mod:`boxkit.exercises` (you predict, a checker measures on the kernel, a hint says why,
never the answer) and keeps to the interface ``tools/record.py`` and the tests use:

* ``NAME`` — the key of this exercise's measurements in the course recording;
* ``measure()`` — a dict of what the kernel did, recorded for hosts that cannot measure;
* ``check(predicted)`` — prints and returns a :class:`boxkit.exercises.Verdict` (None while a ``...`` is left);
* ``solution()`` — shows the reference answer and why, for after the learner tried.
"""

from __future__ import annotations

import errno

from . import byhand
from .errors import BoxkitError
from .exercises import (
    Verdict,
    _few,
    _from_recording,
    _not_recorded,
    _recorded,
    _say,
    _your_turn,
    show_answer,
    unanswered,
)
from .i18n import N_, _, ngettext

NAME = "byhand"
IMAGE = "busybox"
COMMAND = ["true"]

_UNSHARE = ("unshare", ["mount", "uts", "ipc", "pid"])
_HOSTNAME = ("hostname", "recipe")
RECIPES: dict[str, list[tuple]] = {
    "caps moved before pivot_root": [_UNSHARE, ("private", None), ("overlay", None), ("proc", None),
                                     ("caps", None), ("pivot_root", None), ("detach", None), _HOSTNAME],
    "detach moved before pivot_root": [_UNSHARE, ("private", None), ("overlay", None), ("proc", None),
                                       ("detach", None), ("pivot_root", None), _HOSTNAME, ("caps", None)],
    "detach left out": [_UNSHARE, ("private", None), ("overlay", None), ("proc", None), ("pivot_root", None),
                        _HOSTNAME, ("caps", None)],
    "caps moved before hostname": [_UNSHARE, ("private", None), ("overlay", None), ("proc", None),
                                   ("pivot_root", None), ("detach", None), ("caps", None), _HOSTNAME],
}
STEP_NAMES = byhand.STEPS

# i18n: said in parentheses after "the step is right and the errno is not"; keep the errno names
ERRNO_MEANS = N_("EPERM: the caller lacks a privilege the call needs; EINVAL: the call refuses an "
                 "argument or a state; ENOENT: a path is not there; EBUSY: something is in use")


def run_recipe(steps: list[tuple], *, image: str = IMAGE) -> dict:
    """Make ``steps`` in a box that lets the kernel judge the order, then exec :data:`COMMAND`:
    ``{"fails": step or None, "errno": "EPERM" or None}``. The box is gone when this returns."""
    with byhand.Box(image, strict=False) as box:
        for name, arg in steps:
            try:
                box.step(name, arg)
            except BoxkitError as e:
                return {"fails": name, "errno": errno.errorcode.get(e.errno, str(e.errno))}
        r = box.exec(COMMAND)
        return {"fails": None, "errno": None, "exit": r.returncode}


def measure(*, image: str = IMAGE) -> dict:
    """Every recipe, run for real (as root): recipe → ``{"fails", "errno"}``."""
    return {name: run_recipe(steps, image=image) for name, steps in RECIPES.items()}


def parse(predicted) -> dict[str, tuple[str, str] | None]:
    """``{recipe: ("step", "EPERM") or None}``, checked; a ValueError names what is wrong."""
    if not isinstance(predicted, dict):
        raise ValueError(_('give a dict: recipe → ("step", "ERRNO") or None'))
    unknown = [repr(k) for k in predicted if k not in RECIPES]
    if unknown:
        raise ValueError(_("{unknown}: the recipes are {recipes}").format(unknown=_few(unknown),
                                                                         recipes=", ".join(RECIPES)))
    missing = [k for k in RECIPES if k not in predicted]
    if missing:
        raise ValueError(_("predict every recipe: {missing} is left").format(missing=_few(missing)))
    out = {}
    for k, v in predicted.items():
        if v is None:
            out[k] = None
            continue
        if not (isinstance(v, (tuple, list)) and len(v) == 2 and all(isinstance(x, str) for x in v)):
            raise ValueError(_('{recipe}: give ("step", "ERRNO"), like ("overlay", "EACCES"), or None')
                             .format(recipe=repr(k)))
        step, err = v[0].strip(), v[1].strip().upper()
        if step not in STEP_NAMES:
            raise ValueError(_("{recipe}: {step} is not a step; the steps are {steps}").format(
                recipe=repr(k), step=repr(step), steps=", ".join(STEP_NAMES)))
        if err not in errno.errorcode.values():
            raise ValueError(_("{recipe}: {value} is not an errno name, like EACCES").format(
                recipe=repr(k), value=repr(v[1])))
        out[k] = (step, err)
    return out


def judge(predicted: dict[str, tuple[str, str] | None], measured: dict[str, dict]) -> Verdict:
    """A wrong answer is told how many recipes differ and, by the kind of mistake, what to think about —
    never which recipe, step or errno."""
    actual = {k: (m["fails"], m["errno"]) if m.get("fails") else None for k, m in measured.items()}
    wrong = [k for k in predicted if predicted[k] != actual[k]]
    if not wrong:
        said = [_("{recipe}: {step} fails with {errno}").format(recipe=k, step=a[0], errno=a[1]) if a else
                _("{recipe}: every step passes and the command runs").format(recipe=k)
                for k, a in actual.items()]
        # i18n: {results} is a list of "<recipe>: <step> fails with <errno>", joined with "; "
        return Verdict(True, _("each of the {n} recipes did as you predicted: {results}").format(
            n=len(actual), results="; ".join(said)))
    errno_only = [k for k in wrong if predicted[k] and actual[k] and predicted[k][0] == actual[k][0]]
    step_wrong = [k for k in wrong if k not in errno_only]
    hints = []
    if step_wrong:
        # i18n: {n} counts the recipes (receitas) whose predicted step is wrong
        hints.append(ngettext("for {n}, a different step fails first, or none does: walk the recipe "
                              "call by call and ask what each call needs (a capability, a mount point, a path) "
                              "and whether the steps before it took that away or have not made it yet",
                              "for {n}, a different step fails first, or none does: walk the recipe "
                              "call by call and ask what each call needs (a capability, a mount point, a path) "
                              "and whether the steps before it took that away or have not made it yet",
                              len(step_wrong)).format(n=len(step_wrong)))
    if errno_only:
        # i18n: {n} counts the recipes (receitas) whose step is right and errno wrong
        hints.append(ngettext("for {n}, the step is right and the errno is not ({means})",
                              "for {n}, the step is right and the errno is not ({means})",
                              len(errno_only)).format(n=len(errno_only), means=_(ERRNO_MEANS)))
    # i18n: {hints} is one or two clauses ("for 2, ..."), joined with "; "
    return Verdict(False, ngettext("{wrong} of {total} predictions differ from what the kernel did: {hints}",
                                   "{wrong} of {total} predictions differ from what the kernel did: {hints}",
                                   len(wrong)).format(wrong=len(wrong), total=len(actual), hints="; ".join(hints)))


def check(predicted) -> Verdict | None:
    """Predict for each recipe of :data:`RECIPES` the first step the kernel refuses and its errno, as
    ``("step", "EPERM")``, or ``None`` when the command runs; the check runs every recipe."""
    if unanswered(predicted):
        return _your_turn()
    try:
        answer = parse(predicted)
    except ValueError as e:
        return _say(Verdict(False, str(e)))
    recorded = _recorded(NAME, {"root"})
    if recorded is not None and not all(k in recorded for k in RECIPES):
        return _say(_not_recorded(_("the recipes")))
    v = judge(answer, recorded or measure())
    return _say(_from_recording(v) if recorded is not None else v)


ANSWER = {"caps moved before pivot_root": ("pivot_root", "EPERM"),
          "detach moved before pivot_root": ("detach", "ENOENT"),
          "detach left out": None,
          "caps moved before hostname": ("hostname", "EPERM")}
WHY = N_("caps keeps docker's 14 capabilities, and CAP_SYS_ADMIN is not one of them: pivot_root, like "
         "mount, needs it in the mount namespace's user namespace, and sethostname needs it in the UTS "
         "namespace's, so either call after caps fails with EPERM — which is why a runtime drops "
         "capabilities last, just before execve. Until pivot_root, / is still the host's, which has no "
         "/.oldroot (the pivot_root step makes it, in the overlay), so umount2 before it finds no such path: "
         "ENOENT. Leaving detach out breaks nothing the kernel checks: every step passes and "
         "the command runs, with the host's whole tree still mounted under /.oldroot — a hole no error "
         "reports, which is why the notebook looks at the mount table after each step.")


def solution() -> dict:
    """Show the reference answer and why it is right; returns it as the checker's keyword arguments.
    Try first: the check will tell you."""
    return show_answer({"predicted": dict(ANSWER)}, _(WHY))
